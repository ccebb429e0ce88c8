package agent

import (
	"context"
	"fmt"
	"strconv"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// leaderEpoch is the partition leader epoch silt reports and patches into
// batches. The log is never truncated, so there is nothing for clients to
// fence or reconcile with epochs; one constant epoch says so.
const leaderEpoch = 0

// chunkCacheKey names a chunk in the cache: its object and position.
func chunkCacheKey(object string, pos int64) string {
	return object + "@" + strconv.FormatInt(pos, 10)
}

// readChunk returns a committed chunk's batches with their offsets patched
// in, from the cache or with one ranged GET. The bytes are shared: callers
// must not modify them.
func (a *Agent) readChunk(ctx context.Context, ch journal.Chunk) ([]byte, error) {
	// A fetch woken by the commit of this agent's own segment can run
	// before the writer has cached the segment's chunks: wait for that
	// (moments) rather than GET what is in memory.
	if done := a.writer.committed(ch.Object); done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return a.cache.GetOrFill(ctx, chunkCacheKey(ch.Object, ch.Pos), a.chunkFill(ch))
}

// prefetchChunk starts reading a chunk into the cache in the background,
// for a consumer that will want it next; not one the writer is about to
// cache.
func (a *Agent) prefetchChunk(ch journal.Chunk) {
	if a.writer.committed(ch.Object) != nil {
		return
	}
	a.cache.Prefetch(chunkCacheKey(ch.Object, ch.Pos), a.chunkFill(ch))
}

func (a *Agent) chunkFill(ch journal.Chunk) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		stored, err := objstore.ReadRange(ctx, a.bucket, ch.Object, ch.Pos, ch.Len)
		if err != nil {
			return nil, fmt.Errorf("read chunk %s@%d: %w", ch.Object, ch.Pos, err)
		}
		raw, err := segment.DecodeChunk(segment.ChunkInfo{
			Pos: ch.Pos, Len: ch.Len, RawLen: ch.RawLen, Codec: segment.Codec(ch.Codec), CRC: ch.CRC,
		}, stored)
		if err != nil {
			return nil, fmt.Errorf("decode chunk %s@%d: %w", ch.Object, ch.Pos, err)
		}
		skip := make([]int, len(ch.Skip))
		for i, s := range ch.Skip {
			skip[i] = int(s)
		}
		patched, next, err := recordbatch.Patch(raw, ch.BaseOffset, leaderEpoch, skip)
		if err != nil {
			return nil, fmt.Errorf("patch chunk %s@%d: %w", ch.Object, ch.Pos, err)
		}
		if next != ch.NextOffset {
			return nil, fmt.Errorf("chunk %s@%d: batches end at offset %d, the journal says %d", ch.Object, ch.Pos, next, ch.NextOffset)
		}
		return patched, nil
	}
}

// batchesFrom returns the suffix of patched batches whose last offset is at
// or after offset: a fetch returns whole batches, starting with the one
// holding the offset asked for.
func batchesFrom(patched []byte, offset int64) []byte {
	b := patched
	for len(b) >= recordbatch.HeaderSize {
		h, err := recordbatch.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			return b
		}
		if h.LastOffset() >= offset {
			return b
		}
		b = b[h.Size():]
	}
	return b
}

// countRecords sums the record counts of whole batches.
func countRecords(b []byte) int64 {
	var n int64
	for len(b) >= recordbatch.HeaderSize {
		h, err := recordbatch.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			break
		}
		n += int64(h.NumRecords)
		b = b[h.Size():]
	}
	return n
}
