package recordbatch

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// Batch is one batch found by [Iterate]: its parsed header and its bytes.
type Batch struct {
	Header
	// Bytes is the whole batch, a subslice of the iterated input (not a
	// copy): patching it patches the input.
	Bytes []byte
}

// Iterate walks batches stored back to back, as in a produce request's
// records field or a stored chunk, yielding each batch's header and bytes
// without copying. It frames batches by their Length field and checks
// magic; it does not verify CRCs (see [Validate] and [CheckCRC]). A
// malformed batch, including a trailing partial one, yields ErrCorrupt (or
// ErrUnsupportedMagic) and ends the iteration: in produce input and in
// silt's own chunks every byte must belong to a whole batch.
func Iterate(b []byte) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		iterate(b, false, yield)
	}
}

// IterateFetch is [Iterate] for fetch-style input, where Kafka lets the
// last batch be cut short by a byte limit (a fetch response's max bytes, a
// ranged read of a chunk): a trailing partial batch ends the iteration
// silently, as Kafka clients treat it. A partial batch whose header is
// already readable must still have a sane Length and magic 2; otherwise it
// is an error, since no truncation can explain it.
func IterateFetch(b []byte) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		iterate(b, true, yield)
	}
}

func iterate(b []byte, partialOK bool, yield func(Batch, error) bool) {
	for len(b) > 0 {
		batch, err := frame(b, partialOK)
		if err != nil {
			yield(Batch{}, err)
			return
		}
		if batch.Bytes == nil { // a partial batch we may ignore
			return
		}
		if !yield(batch, nil) {
			return
		}
		b = b[len(batch.Bytes):]
	}
}

// frame frames the batch at the start of b, which is not empty. It returns a
// Batch with nil Bytes when b holds only a partial batch and partialOK is
// set. The checks follow Kafka's ByteBufferLogInputStream, so a cut-off
// batch is told apart from a damaged one the way clients do, except that
// the magic comes first: an old-format message set, whose Length may be
// below a v2 minimum, reports ErrUnsupportedMagic rather than ErrCorrupt.
func frame(b []byte, partialOK bool) (Batch, error) {
	// Kafka refuses a Length below the smallest message of any format
	// before it looks at the magic: noise is corrupt, whatever its byte 16.
	if len(b) >= logOverhead {
		if length := int32(binary.BigEndian.Uint32(b[offLength:])); length < legacyMinLength {
			return Batch{}, fmt.Errorf("%w: batch length %d is smaller than any message format's minimum %d", ErrCorrupt, length, legacyMinLength)
		}
	}
	if len(b) > offMagic && b[offMagic] != 2 {
		_, err := ParseHeader(b)
		return Batch{}, err
	}
	if len(b) < logOverhead {
		return partial(b, partialOK)
	}
	length := int32(binary.BigEndian.Uint32(b[offLength:]))
	if length < minLength {
		return Batch{}, fmt.Errorf("%w: batch length %d is smaller than the minimum %d", ErrCorrupt, length, minLength)
	}
	if logOverhead+int64(length) > int64(len(b)) {
		return partial(b, partialOK)
	}
	size := logOverhead + int(length)
	h, err := ParseHeader(b[:size:size]) // size >= HeaderSize: cannot fail
	return Batch{Header: h, Bytes: b[:size:size]}, err
}

func partial(b []byte, partialOK bool) (Batch, error) {
	if partialOK {
		return Batch{}, nil
	}
	return Batch{}, fmt.Errorf("%w: %d trailing bytes are not a whole batch", ErrCorrupt, len(b))
}

// Patch prepares a stored chunk for a fetch response. It walks the chunk's
// batches in order, gives the first batch BaseOffset base and each next one
// the previous batch's last offset plus one (so a compacted batch, whose
// LastOffsetDelta covers records it no longer holds, still reserves its
// offsets), and sets every batch's PartitionLeaderEpoch to epoch. It returns
// the offset after the last batch, which is the next offset the journal
// hands out.
//
// skip lists, in ascending order, the indexes of batches the journal
// rejected when it applied the commit (duplicates of an idempotent retry):
// they get no offsets and are left out of the result. Without skips, the
// chunk is patched in place and returned; with skips, the kept batches are
// patched in place and copied into a new slice. Either way Patch writes
// into chunk, so a caller sharing chunk (a cache entry served to many
// fetches) must patch a copy or patch once when filling the cache.
//
// Patch checks the whole chunk and skip before writing anything: on error
// chunk is unchanged. Errors wrap ErrCorrupt for bad framing (including a
// trailing partial batch) or a negative LastOffsetDelta, and
// ErrUnsupportedMagic for a non-v2 batch. A skip list that is not strictly
// ascending or names a batch the chunk lacks is the caller's bug (the
// journal and the chunk disagree) and its error wraps no sentinel. Patch
// does not verify CRCs: the produce path did.
func Patch(chunk []byte, base int64, epoch int32, skip []int) (patched []byte, next int64, err error) {
	n := 0
	for b := chunk; len(b) > 0; n++ {
		batch, err := frame(b, false)
		if err != nil {
			return nil, 0, fmt.Errorf("batch %d: %w", n, err)
		}
		if batch.LastOffsetDelta < 0 {
			return nil, 0, fmt.Errorf("batch %d: %w: last offset delta %d", n, ErrCorrupt, batch.LastOffsetDelta)
		}
		b = b[len(batch.Bytes):]
	}
	for i, s := range skip {
		if s < 0 || s >= n || (i > 0 && s <= skip[i-1]) {
			return nil, 0, fmt.Errorf("recordbatch: skip index %d (position %d) is out of order or not one of the chunk's %d batches", s, i, n)
		}
	}

	var out []byte
	if len(skip) > 0 {
		out = make([]byte, 0, len(chunk))
	}
	next = base
	for i, b := 0, chunk; len(b) > 0; i++ {
		batch, _ := frame(b, false) // checked above
		b = b[len(batch.Bytes):]
		if len(skip) > 0 && skip[0] == i {
			skip = skip[1:]
			continue
		}
		SetBaseOffset(batch.Bytes, next)
		SetLeaderEpoch(batch.Bytes, epoch)
		next += int64(batch.LastOffsetDelta) + 1
		if out != nil {
			out = append(out, batch.Bytes...)
		}
	}
	if out == nil {
		return chunk, next, nil
	}
	return out, next, nil
}
