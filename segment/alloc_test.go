//go:build !race

// Allocation counts mean nothing under the race detector, which inflates
// them, so these tests exist only in builds without it; `make test` runs
// them in a pass of its own.

package segment

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"
)

// The output buffer's size comes from RawLen, never from the frame: a valid
// chunk costs one RawLen allocation, and frames whose headers claim more
// are rejected before any. A frame whose compressed blocks overrun RawLen
// can only be found by decoding; klauspost/compress may then grow the
// buffer once, which this test bounds so a regression shows.
func TestDecodeChunkAllocation(t *testing.T) {
	frame, raw := realFrame(t)
	rawLen := int64(len(raw))
	const noise = 16 << 10 // page rounding and the runtime's own allocations

	for range runtime.GOMAXPROCS(0) + 1 { // warm up every decoder of the shared pool
		DecodeChunk(zstdInfo(frame, rawLen), frame)
	}
	if n := allocated(func() { DecodeChunk(zstdInfo(frame, rawLen), frame) }); n > rawLen+noise {
		t.Errorf("valid chunk of %d bytes: allocated %d", rawLen, n)
	}

	bomb := zstdFrame(MaxChunkSize, zstdBlock(true, 1, 128<<10, []byte{'x'}))
	if n := allocated(func() { DecodeChunk(zstdInfo(bomb, MaxChunkSize), bomb) }); n > noise {
		t.Errorf("13-byte frame claiming MaxChunkSize: allocated %d", n)
	}
	overrun := zstdFrame(100, rle(128<<10))
	if n := allocated(func() { DecodeChunk(zstdInfo(overrun, 100), overrun) }); n > noise {
		t.Errorf("RLE block of 128 KiB declared as 100 bytes: allocated %d", n)
	}

	for _, over := range []int{1, 16, 1000} {
		f := bytes.Clone(frame)
		binary.LittleEndian.PutUint32(f[5:], uint32(rawLen)-uint32(over))
		declared := rawLen - int64(over)
		n := allocated(func() { DecodeChunk(zstdInfo(f, declared), f) })
		if n > 3*declared+noise {
			t.Errorf("compressed blocks %d bytes past RawLen %d: allocated %d", over, declared, n)
		}
	}
}
