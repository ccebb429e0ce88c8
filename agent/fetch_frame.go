package agent

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Fetch response is mostly record batches, and those are already in
// memory exactly as a consumer must receive them: the cache holds each
// chunk with its offsets and leader epoch patched in (by the writer when it
// commits, by chunkread when it reads back), the only fields a broker
// rewrites. So the batches are never copied into the response: kmsg
// encodes the response around them, and the connection writes the encoded
// pieces and the cached bytes together with one vectored write (writev).
//
// The encoding stays kmsg's. Each partition's RecordBatches is encoded as a
// marker, 16 bytes that cannot occur elsewhere in the response (12 random
// bytes fixed at start, then the partition's index), whose place in the
// output is found by search (a response in which the random bytes occur
// anywhere else is encoded with its batches copied in, as before); only the
// length before it is rewritten, with
// the batches' real length, in the encoding kmsg used (int32 below v12,
// compact uvarint from v12).
//
// Rejected: encoding each partition's fields by hand (the brief's rule: kmsg
// encodes every wire message), and placeholders of the batches' length
// (encoding them is the very copy this avoids).

// fetchMarkerPrefix starts every marker; random so that no topic name or
// other field a client controls can forge one.
var fetchMarkerPrefix = func() [12]byte {
	var p [12]byte
	rand.Read(p[:])
	return p
}()

const fetchMarkerLen = 16

// vectoredMin is the size of batches from which a response is written with
// writev rather than through the connection's buffer: below it, one copy
// into the buffer costs less than the system call.
const vectoredMin = 64 << 10

// fetchResponse is a Fetch response whose record batches are kept as the
// pieces of cached chunks that hold them, not copied into RecordBatches.
type fetchResponse struct {
	*kmsg.FetchResponse
	// pieces[t][p] are the batches of partition p of topic t, in order.
	pieces [][][][]byte
	size   int // bytes in pieces
}

// setBatches sets partition p of topic t's batches.
func (f *fetchResponse) setBatches(t, p int, parts [][]byte) {
	if len(parts) == 0 {
		return
	}
	for len(f.pieces) <= t {
		f.pieces = append(f.pieces, nil)
	}
	for len(f.pieces[t]) <= p {
		f.pieces[t] = append(f.pieces[t], nil)
	}
	f.pieces[t][p] = parts
	for _, part := range parts {
		f.size += len(part)
	}
}

// each calls fn for every partition with batches.
func (f *fetchResponse) each(fn func(sp *kmsg.FetchResponseTopicPartition, parts [][]byte)) {
	for t, parts := range f.pieces {
		for p, pp := range parts {
			if len(pp) > 0 {
				fn(&f.Topics[t].Partitions[p], pp)
			}
		}
	}
}

// materialized returns the response with its batches copied into
// RecordBatches, for code that reads a Fetch response as kmsg's (the
// console's record browser).
func (f *fetchResponse) materialized() *kmsg.FetchResponse {
	f.each(func(sp *kmsg.FetchResponseTopicPartition, parts [][]byte) { sp.RecordBatches = bytes.Join(parts, nil) })
	f.pieces, f.size = nil, 0
	return f.FetchResponse
}

// asFetchResponse returns resp as kmsg's Fetch response, whichever form the
// handler gave it in.
func asFetchResponse(resp kmsg.Response) (*kmsg.FetchResponse, bool) {
	switch r := resp.(type) {
	case *kmsg.FetchResponse:
		return r, true
	case *fetchResponse:
		return r.materialized(), true
	}
	return nil, false
}

// AppendTo encodes the response with its batches copied in, as kmsg does;
// the connection uses appendFrame instead.
func (f *fetchResponse) AppendTo(dst []byte) []byte {
	f.each(func(sp *kmsg.FetchResponseTopicPartition, parts [][]byte) { sp.RecordBatches = bytes.Join(parts, nil) })
	return f.FetchResponse.AppendTo(dst)
}

// appendFrame frames the response for req as appendResponse does, and
// returns the frame as buffers to write in order: pieces of dst (which it
// appends to) and the cached batches between them.
func (f *fetchResponse) appendFrame(dst []byte, req *request) net.Buffers {
	if f.size == 0 {
		return net.Buffers{appendResponse(dst, req, f.FetchResponse)}
	}
	var marker [fetchMarkerLen]byte
	copy(marker[:], fetchMarkerPrefix[:])
	n := uint32(0)
	f.each(func(sp *kmsg.FetchResponseTopicPartition, _ [][]byte) {
		binary.BigEndian.PutUint32(marker[12:], n)
		sp.RecordBatches = bytes.Clone(marker[:])
		n++
	})
	start := len(dst)
	dst = appendResponse(dst, req, f.FetchResponse)
	frame := dst[start:]
	if bytes.Count(frame, fetchMarkerPrefix[:]) != int(n) {
		// A field of the response holds the marker's random bytes; no
		// client can know them, but rather than trust that, copy.
		return net.Buffers{appendResponse(dst[:start], req, f)}
	}
	flexible := f.IsFlexible()
	// The lengths, in a buffer of their own: appending to dst would move
	// the frame the buffers point into.
	lens := make([]byte, 0, 5*int(n))
	out := make(net.Buffers, 0, 3*int(n)+1)
	from, i := 0, uint32(0)
	total := 0
	ok := true
	f.each(func(sp *kmsg.FetchResponseTopicPartition, parts [][]byte) {
		binary.BigEndian.PutUint32(marker[12:], i)
		i++
		at := bytes.Index(frame[from:], marker[:])
		size := 0
		for _, p := range parts {
			size += len(p)
		}
		l0 := len(lens)
		var prefix int
		if flexible {
			prefix = 1 // uvarint(fetchMarkerLen+1)
			lens = binary.AppendUvarint(lens, uint64(size)+1)
		} else {
			prefix = 4
			lens = binary.BigEndian.AppendUint32(lens, uint32(size))
		}
		if !ok || at < prefix {
			ok = false
			return
		}
		at += from
		if flexible && frame[at-1] != fetchMarkerLen+1 || !flexible && binary.BigEndian.Uint32(frame[at-4:]) != fetchMarkerLen {
			ok = false
			return
		}
		out = append(out, frame[from:at-prefix], lens[l0:])
		out = append(out, parts...)
		total += at - prefix - from + len(lens) - l0 + size
		from = at + fetchMarkerLen
		sp.RecordBatches = nil
	})
	if !ok {
		// Cannot happen (the marker is always encoded); copy rather than
		// send a broken frame.
		return net.Buffers{appendResponse(dst[:start], req, f)}
	}
	out = append(out, frame[from:])
	total += len(frame) - from
	binary.BigEndian.PutUint32(frame, uint32(total-4))
	return out
}
