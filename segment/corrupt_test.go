package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// smallSegment has one chunk of each codec and topics of one byte, so the
// index offsets below are easy to follow.
func smallSegment(t testing.TB) []byte {
	t.Helper()
	data, infos, err := Build(goldenID, []ChunkInput{
		// 300 bytes: zstd frames under 256 bytes carry no content size, so
		// Build stores such chunks raw.
		{Topic: "a", Partition: 0, Data: bytes.Repeat([]byte("abc"), 100), Compress: true, Batches: 1, Records: 2},
		{Topic: "b", Partition: 1, Data: []byte("raw!"), Batches: 1, Records: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].Codec != CodecZstd || infos[1].Codec != CodecNone {
		t.Fatalf("small segment codecs %v, %v", infos[0].Codec, infos[1].Codec)
	}
	return data
}

// mustBeCorrupt fails unless err wraps ErrCorrupt.
func mustBeCorrupt(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: error = %v, want ErrCorrupt", what, err)
	}
}

// Every byte of a segment is covered by a check, so changing any byte to any
// other value makes reading it fail with ErrCorrupt: the parse, or the
// decode of the chunk that byte belongs to. It never succeeds with wrong
// data and never panics.
func TestEveryByteFlipIsDetected(t *testing.T) {
	data := smallSegment(t)
	for i := range data {
		for mask := 1; mask < 256; mask++ {
			bad := bytes.Clone(data)
			bad[i] ^= byte(mask)
			_, _, err := Verify(bad)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d ^ %#02x: Verify error = %v, want ErrCorrupt", i, mask, err)
			}
		}
	}
}

// The golden file is bigger; flip each byte a few ways.
func TestGoldenByteFlipsAreDetected(t *testing.T) {
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(data)
			bad[i] ^= mask
			_, _, err := Verify(bad)
			mustBeCorrupt(t, "golden flip", err)
		}
	}
}

// A short read, at any length, from the start or the end, fails cleanly.
func TestTruncationIsDetected(t *testing.T) {
	data := smallSegment(t)
	size := int64(len(data))
	for n := range len(data) {
		_, _, err := Parse(data[:n])
		mustBeCorrupt(t, "Parse of a prefix", err)
		_, _, err = Parse(data[len(data)-n:])
		mustBeCorrupt(t, "Parse of a suffix", err)
	}
	footerPos, footerLen, err := ParseTrailer(data, size)
	if err != nil {
		t.Fatal(err)
	}
	footer := data[footerPos:]
	for n := range int(footerLen) {
		_, _, err := ParseFooter(footer[:n], size)
		mustBeCorrupt(t, "ParseFooter of a footer prefix", err)
		_, _, err = ParseFooter(footer[int(footerLen)-n:], size)
		mustBeCorrupt(t, "ParseFooter of a footer suffix", err)
		if n < TrailerSize {
			_, _, err = ParseTrailer(footer[int(footerLen)-n:], size)
			mustBeCorrupt(t, "ParseTrailer of a short tail", err)
		}
	}
	_, infos, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		stored := data[info.Pos : info.Pos+info.Len]
		for n := range len(stored) {
			_, err := DecodeChunk(info, stored[:n])
			mustBeCorrupt(t, "DecodeChunk of a short chunk", err)
		}
	}
	// Appending is not truncating, but no reader should accept it either.
	_, _, err = Parse(append(bytes.Clone(data), 0))
	mustBeCorrupt(t, "Parse with a byte appended", err)
}

// Index field offsets in smallSegment, whose topics are one byte long.
const (
	entry0        = indexHeaderSize
	fieldTopicLen = 0
	fieldPart     = 3
	fieldPos      = 7
	fieldLen      = 15
	fieldRawLen   = 23
	fieldCodec    = 31
	fieldBatches  = 36
	fieldRecords  = 40
	entry1        = entry0 + minEntrySize
)

// forge rewrites a segment's body (header and chunks) and index, then gives
// it a consistent trailer, so the index CRC passes and the check behind it
// is what a forged object meets.
func forge(t *testing.T, data []byte, body func([]byte) []byte, index func([]byte) []byte) []byte {
	t.Helper()
	size := int64(len(data))
	footerPos, _, err := ParseTrailer(data, size)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(data[:footerPos])
	ix := bytes.Clone(data[footerPos : size-TrailerSize])
	if body != nil {
		b = body(b)
	}
	if index != nil {
		ix = index(ix)
	}
	out := append(b, ix...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(ix)))
	out = binary.BigEndian.AppendUint32(out, checksum(ix))
	return append(out, data[size-8:]...)
}

func put16(off int, v uint16) func([]byte) []byte {
	return func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], v); return b }
}
func put32(off int, v uint32) func([]byte) []byte {
	return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
}
func put64(off int, v uint64) func([]byte) []byte {
	return func(b []byte) []byte { binary.BigEndian.PutUint64(b[off:], v); return b }
}

// A forged object whose CRCs match still meets every rule of the format.
func TestForgedObjectsAreRejected(t *testing.T) {
	data := smallSegment(t)
	_, infos, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	zlen := uint64(infos[0].Len)
	for _, tc := range []struct {
		name        string
		body, index func([]byte) []byte
		want        string
	}{
		{"no chunks", nil, put32(idLen, 0), "count 0"},
		{"count beyond the bytes", nil, put32(idLen, 1<<32-1), "count 4294967295"},
		{"count one more than the entries", nil, func(b []byte) []byte {
			return append(put32(idLen, 3)(b), make([]byte, minEntrySize)...)
		}, "chunk 2"},
		{"empty topic", nil, put16(entry0+fieldTopicLen, 0), "topic of 0 bytes"},
		{"topic past the index", nil, put16(entry1+fieldTopicLen, 60000), "topic of 60000 bytes"},
		{"topic not UTF-8", nil, func(b []byte) []byte { b[entry0+2] = 0xff; return b }, "not UTF-8"},
		{"negative partition", nil, put32(entry0+fieldPart, 1<<31), "negative partition"},
		{"chunk not at the header's end", nil, put64(entry0+fieldPos, HeaderSize+1), "want 24"},
		{"gap between chunks", nil, put64(entry1+fieldPos, uint64(infos[1].Pos)+1), "back to back"},
		{"chunk past the footer", nil, put64(entry1+fieldLen, 1<<40), "overrun the footer"},
		{"chunk length wraps", nil, put64(entry1+fieldLen, 1<<63), "overrun the footer"},
		{"chunks end before the footer", func(b []byte) []byte { return append(b, 0) }, nil, "chunks end at"},
		{"raw length over MaxChunkSize", nil, put64(entry0+fieldRawLen, MaxChunkSize+1), "over MaxChunkSize"},
		{"raw length wraps", nil, put64(entry0+fieldRawLen, 1<<63), "over MaxChunkSize"},
		{"raw length zero", nil, put64(entry0+fieldRawLen, 0), "raw length 0"},
		{"unknown codec", nil, func(b []byte) []byte { b[entry0+fieldCodec] = 7; return b }, "unknown codec 7"},
		{"raw chunk with another raw length", nil, put64(entry1+fieldRawLen, 5), "codec none"},
		{"zstd chunk that does not shrink", nil, put64(entry0+fieldRawLen, zlen), "does not shrink"},
		{"zstd bomb", nil, put64(entry0+fieldRawLen, zlen*maxZstdRatio+1), "cannot decompress"},
		{"negative batches", nil, put32(entry0+fieldBatches, 1<<31), "negative count"},
		{"negative records", nil, put64(entry1+fieldRecords, 1<<63), "negative count"},
		{"same partition twice", nil, func(b []byte) []byte {
			b[entry1+2] = 'a'
			return put32(entry1+fieldPart, 0)(b)
		}, `"a"/0 again`},
		{"bytes after the last entry", nil, func(b []byte) []byte { return append(b, 0) }, "after the last entry"},
		{"header names another segment", func(b []byte) []byte { b[8] ^= 1; return b }, nil, "header names segment"},
		{"index too short for one chunk", nil, func(b []byte) []byte { return b[:indexHeaderSize] }, "cannot hold one chunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := forge(t, data, tc.body, tc.index)
			_, _, err := Parse(bad)
			mustBeCorrupt(t, "Parse", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error %q does not say %q", err, tc.want)
			}
		})
	}
}

// An unknown version is corrupt to this reader, and says so precisely.
func TestUnknownVersion(t *testing.T) {
	data := smallSegment(t)
	for _, at := range []int{len(magic), len(data) - 1} {
		bad := bytes.Clone(data)
		bad[at] = Version + 1
		_, _, err := Parse(bad)
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("version byte at %d: error = %v, want ErrCorrupt and ErrUnknownVersion", at, err)
		}
	}
}

// ParseTrailer guards its caller's next read: the footer it reports always
// lies inside the object, after a header and at least one chunk byte. A
// wrong object size that still fits is caught by ParseFooter: the chunks no
// longer end where the footer starts.
func TestWrongObjectSize(t *testing.T) {
	data := smallSegment(t)
	size := int64(len(data))
	footerPos, footerLen, err := ParseTrailer(data, size)
	if err != nil {
		t.Fatal(err)
	}
	tail, footer := data[size-TrailerSize:], data[footerPos:]
	for _, objectSize := range []int64{-1, 0, TrailerSize - 1, TrailerSize, footerLen, footerLen + HeaderSize} {
		_, _, err := ParseTrailer(tail, objectSize)
		mustBeCorrupt(t, "ParseTrailer with a footer that does not fit", err)
	}
	for _, objectSize := range []int64{footerLen + HeaderSize + 1, size - 1, size + 1, size + 1<<40} {
		pos, n, err := ParseTrailer(tail, objectSize)
		if err != nil || pos < HeaderSize+1 || pos+n != objectSize {
			t.Errorf("object size %d: ParseTrailer = %d, %d, %v", objectSize, pos, n, err)
		}
		_, _, err = ParseFooter(footer, objectSize)
		mustBeCorrupt(t, "ParseFooter with a wrong object size", err)
	}
}
