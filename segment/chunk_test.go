package segment

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
)

// zstdFrame hand-writes a zstd frame: a header declaring fcs bytes of
// content with a 128 KiB window, then the given blocks.
func zstdFrame(fcs uint64, blocks ...[]byte) []byte {
	const windowLog128K = (17 - 10) << 3
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xc0, windowLog128K} // magic; 8-byte FCS, no checksum, no dictionary
	b = binary.LittleEndian.AppendUint64(b, fcs)
	for _, blk := range blocks {
		b = append(b, blk...)
	}
	return b
}

// zstdBlock writes one block: typ 0 raw, 1 RLE, 2 compressed, 3 reserved.
func zstdBlock(last bool, typ, size int, content []byte) []byte {
	h := uint32(size)<<3 | uint32(typ)<<1
	if last {
		h |= 1
	}
	return append([]byte{byte(h), byte(h >> 8), byte(h >> 16)}, content...)
}

// zstdInfo describes stored as a zstd chunk of rawLen bytes, with a CRC that
// matches, so DecodeChunk's checks behind the CRC are what is tested.
func zstdInfo(stored []byte, rawLen int64) ChunkInfo {
	return ChunkInfo{Topic: "t", Len: int64(len(stored)), RawLen: rawLen, Codec: CodecZstd, CRC: checksum(stored)}
}

// realFrame is what Build stores for 300 KiB of record batches: a
// single-segment frame, 4-byte content size at offset 5.
func realFrame(t *testing.T) (frame, raw []byte) {
	t.Helper()
	raw, _, _ = batches(5, 300<<10)
	data, infos, err := Build(goldenID, []ChunkInput{{Topic: "t", Data: raw, Compress: true}})
	if err != nil {
		t.Fatal(err)
	}
	frame = data[infos[0].Pos : infos[0].Pos+infos[0].Len]
	if frame[4]&0xe0 != 0xa0 {
		t.Fatalf("frame header descriptor %08b, want a single segment with a 4-byte content size", frame[4])
	}
	return bytes.Clone(frame), raw
}

func TestDecodeChunkRejects(t *testing.T) {
	frame, raw := realFrame(t)
	good := zstdInfo(frame, int64(len(raw)))
	if got, err := DecodeChunk(good, frame); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("the untouched frame does not decode: %v", err)
	}
	withFCS := func(fcs uint32) []byte {
		f := bytes.Clone(frame)
		binary.LittleEndian.PutUint32(f[5:], fcs)
		return f
	}

	for _, tc := range []struct {
		name   string
		info   ChunkInfo
		stored []byte
		want   string
	}{
		{"stored shorter than Len", good, frame[:len(frame)-1], "stored bytes"},
		{"stored longer than Len", good, append(bytes.Clone(frame), 0), "stored bytes"},
		{"CRC mismatch", func() ChunkInfo { i := good; i.CRC ^= 1; return i }(), frame, "CRC"},
		{"raw length over MaxChunkSize", zstdInfo(frame, MaxChunkSize+1), frame, "raw length"},
		{"raw length zero", zstdInfo(frame, 0), frame, "raw length 0"},
		{"unknown codec", func() ChunkInfo { i := good; i.Codec = 2; return i }(), frame, "unknown codec"},
		{"none with another raw length", ChunkInfo{Len: 3, RawLen: 4, CRC: checksum([]byte("abc"))}, []byte("abc"), "codec none"},
		{"zstd bomb", zstdInfo(rle(1000), 4*maxZstdRatio+1), rle(1000), "cannot decompress"},
		{"not a zstd frame", zstdInfo([]byte("definitely not zstd"), 100), []byte("definitely not zstd"), "frame header"},
		{"skippable frame", zstdInfo([]byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4}, 100),
			[]byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4}, "skippable"},
		{"declares fewer bytes than RawLen", zstdInfo(frame, int64(len(raw))+1), frame, "does not declare"},
		{"decodes to more than declared", zstdInfo(withFCS(uint32(len(raw)-1)), int64(len(raw)-1)), withFCS(uint32(len(raw) - 1)), "zstd:"},
		{"decodes to fewer than declared", zstdInfo(withFCS(uint32(len(raw)+1)), int64(len(raw)+1)), withFCS(uint32(len(raw) + 1)), "zstd:"},
		{"second frame after the first", zstdInfo(append(bytes.Clone(frame), frame...), int64(len(raw))),
			append(bytes.Clone(frame), frame...), "bytes after the frame"},
		{"RLE block past RawLen", zstdInfo(zstdFrame(100, rle(1000)), 100), zstdFrame(100, rle(1000)), "hold more than 100"},
		{"RLE blocks past RawLen", zstdInfo(zstdFrame(1000, zstdBlock(false, 1, 600, []byte{'x'}), rle(600)), 1000),
			zstdFrame(1000, zstdBlock(false, 1, 600, []byte{'x'}), rle(600)), "block 1: raw and RLE"},
		{"block over the window", zstdInfo(zstdFrame(200<<10, rle(129<<10)), 200<<10), zstdFrame(200<<10, rle(129<<10)), "more than the 131072"},
		{"blocks cannot reach RawLen", zstdInfo(zstdFrame(1000, rle(10)), 1000), zstdFrame(1000, rle(10)), "at most 10 of the 1000"},
		{"reserved block", zstdInfo(zstdFrame(100, zstdBlock(true, 3, 0, []byte{0})), 100),
			zstdFrame(100, zstdBlock(true, 3, 0, []byte{0})), "reserved"},
		{"no last block", zstdInfo(zstdFrame(100, zstdBlock(false, 1, 10, []byte{'x'})), 100),
			zstdFrame(100, zstdBlock(false, 1, 10, []byte{'x'})), "header truncated"},
		{"compressed block past the frame", zstdInfo(zstdFrame(1000, zstdBlock(true, 2, 50, []byte{1, 2})), 1000),
			zstdFrame(1000, zstdBlock(true, 2, 50, []byte{1, 2})), "left in the frame"},
		{"garbage compressed block", zstdInfo(zstdFrame(1000, zstdBlock(true, 2, 20, bytes.Repeat([]byte{0xa5}, 20))), 1000),
			zstdFrame(1000, zstdBlock(true, 2, 20, bytes.Repeat([]byte{0xa5}, 20))), "zstd:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeChunk(tc.info, tc.stored)
			mustBeCorrupt(t, "DecodeChunk", err)
			if got != nil {
				t.Error("DecodeChunk returned bytes with its error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// Raw chunks are returned as stored, without a copy.
func TestDecodeChunkNoneAliasesStored(t *testing.T) {
	stored := []byte("batches")
	got, err := DecodeChunk(ChunkInfo{Len: 7, RawLen: 7, CRC: checksum(stored)}, stored)
	if err != nil || &got[0] != &stored[0] {
		t.Fatalf("DecodeChunk = %q, %v; want stored itself", got, err)
	}
}

// allocated returns the bytes f allocates (f runs alone in this process's
// test, so the count is f's up to a little runtime noise).
func allocated(f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// rle is a last RLE block of n bytes.
func rle(n int) []byte { return zstdBlock(true, 1, n, []byte{'x'}) }
