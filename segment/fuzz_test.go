package segment

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// fuzzSegments are valid segments to seed the fuzzers: the golden file and
// small flushes of several shapes. They are kept small because the fuzzer
// minimises every new input it finds, which costs time per byte.
func fuzzSegments(f *testing.F) [][]byte {
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		f.Fatal(err)
	}
	segs := [][]byte{golden, smallSegment(f)}
	text, _, _ := batches(9, 300)
	for _, chunks := range [][]ChunkInput{
		{{Topic: "x", Data: []byte{1}}},
		manyPartitions(4),
		{
			{Topic: "events", Partition: 2, Data: text, Compress: true, Batches: 1, Records: 2},
			{Topic: "events", Partition: 0, Data: noise(9, 40), Compress: true},
			{Topic: "Ω", Partition: 1 << 30, Data: []byte("as sent"), Batches: 3, Records: 1 << 40},
		},
	} {
		data, _, err := Build(NewID(), chunks)
		if err != nil {
			f.Fatal(err)
		}
		segs = append(segs, data)
	}
	return segs
}

// fixIndexCRC rewrites the index CRC in data's trailer to match the index
// the trailer locates, if any, so the fuzzer can explore index decoding
// behind the CRC as a forger (or a buggy writer) could.
func fixIndexCRC(data []byte) []byte {
	size := int64(len(data))
	if size < TrailerSize {
		return data
	}
	indexLen := int64(binary.BigEndian.Uint32(data[size-TrailerSize:]))
	if indexLen > size-TrailerSize {
		return data
	}
	data = bytes.Clone(data)
	index := data[size-TrailerSize-indexLen : size-TrailerSize]
	binary.BigEndian.PutUint32(data[size-TrailerSize+4:], checksum(index))
	return data
}

// FuzzParse feeds arbitrary bytes to Parse, and to ParseTrailer and
// ParseFooter as a ranged reader would with an object of len(data)+extra
// bytes; with fixCRC the index CRC is made to match first. Nothing may
// panic, every error must wrap ErrCorrupt, and whatever is accepted must be
// self-consistent.
func FuzzParse(f *testing.F) {
	for _, seg := range fuzzSegments(f) {
		f.Add(seg, uint32(0), false)
		footerPos, _, _ := ParseTrailer(seg, int64(len(seg)))
		f.Add(seg[footerPos:], uint32(footerPos), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, extra uint32, fixCRC bool) {
		if fixCRC {
			data = fixIndexCRC(data)
		}
		size := int64(len(data))
		id, infos, err := Parse(data)
		if err == nil {
			checkAccepted(t, data, 0, size, infos)
			// The ranged path must read the same index.
			footerPos, footerLen, err := ParseTrailer(data[size-TrailerSize:], size)
			if err != nil {
				t.Fatalf("Parse accepted what ParseTrailer rejects: %v", err)
			}
			rid, rinfos, err := ParseFooter(data[footerPos:footerPos+footerLen], size)
			if err != nil || rid != id || !reflect.DeepEqual(rinfos, infos) {
				t.Fatalf("ParseFooter = %s %+v, %v; Parse = %s %+v", rid, rinfos, err, id, infos)
			}
			// Every chunk decodes to its RawLen, or fails as corrupt.
			for _, info := range infos {
				raw, err := DecodeChunk(info, data[info.Pos:info.Pos+info.Len])
				if err == nil && int64(len(raw)) != info.RawLen {
					t.Fatalf("chunk decoded to %d bytes, RawLen %d", len(raw), info.RawLen)
				}
				if err != nil {
					mustBeCorrupt(t, "DecodeChunk", err)
				}
			}
		} else {
			mustBeCorrupt(t, "Parse", err)
		}

		// data as the footer of a bigger object.
		objectSize := size + int64(extra)
		if _, infos, err := ParseFooter(data, objectSize); err == nil {
			checkAccepted(t, nil, objectSize-size, objectSize, infos)
		} else {
			mustBeCorrupt(t, "ParseFooter", err)
		}
	})
}

// checkAccepted asserts what every accepted index promises: chunks tile the
// object from the header to the footer, within bounds. data, when not nil,
// is the whole object.
func checkAccepted(t *testing.T, data []byte, footerPos, size int64, infos []ChunkInfo) {
	t.Helper()
	if len(infos) == 0 {
		t.Fatal("accepted an index without chunks")
	}
	next := int64(HeaderSize)
	for i, info := range infos {
		if info.Pos != next || info.Len < 1 || info.Pos+info.Len > size || checkInfo(&info) != nil {
			t.Fatalf("accepted chunk %d: %+v", i, info)
		}
		next += info.Len
	}
	if data != nil {
		footerPos, _, _ = ParseTrailer(data, size)
	}
	if next != footerPos {
		t.Fatalf("accepted chunks ending at %d, footer at %d", next, footerPos)
	}
}

// FuzzDecodeChunk feeds arbitrary stored bytes and index fields to
// DecodeChunk. The CRC is made to match unless badCRC, so the fuzzer
// reaches the zstd checks and the decoder with hostile frames. Whatever is
// accepted must be what an independent decoder reads.
func FuzzDecodeChunk(f *testing.F) {
	for _, seg := range fuzzSegments(f) {
		_, infos, err := Parse(seg)
		if err != nil {
			f.Fatal(err)
		}
		for _, info := range infos[:min(len(infos), 4)] {
			f.Add(seg[info.Pos:info.Pos+info.Len], info.RawLen, uint8(info.Codec), false)
		}
	}
	f.Add(zstdFrame(1000, rle(1000)), int64(1000), uint8(CodecZstd), false)
	f.Add(zstdFrame(100, rle(128<<10)), int64(100), uint8(CodecZstd), false)

	reference, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxChunkSize))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stored []byte, rawLen int64, codec uint8, badCRC bool) {
		info := ChunkInfo{Topic: "t", Len: int64(len(stored)), RawLen: rawLen, Codec: Codec(codec), CRC: checksum(stored)}
		if badCRC {
			info.CRC ^= 1
		}
		raw, err := DecodeChunk(info, stored)
		if err != nil {
			mustBeCorrupt(t, "DecodeChunk", err)
			return
		}
		if badCRC || int64(len(raw)) != rawLen {
			t.Fatalf("accepted %d bytes (RawLen %d, bad CRC %v)", len(raw), rawLen, badCRC)
		}
		switch info.Codec {
		case CodecNone:
			if !bytes.Equal(raw, stored) {
				t.Fatal("codec none returned other bytes than stored")
			}
		case CodecZstd:
			want, err := reference.DecodeAll(stored, nil)
			if err != nil || !bytes.Equal(raw, want) {
				t.Fatalf("accepted a frame the reference decoder reads as %d bytes, %v", len(want), err)
			}
		default:
			t.Fatalf("accepted codec %d", codec)
		}
	})
}
