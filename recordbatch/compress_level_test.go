package recordbatch

import (
	"bytes"
	"testing"
)

// Every codec at every level Kafka allows writes a section that decodes to
// the input, and the levels change the output where the codec has them.
func TestCompressLevels(t *testing.T) {
	data := bytes.Repeat([]byte("silt keeps the log in the bucket; "), 2000)
	for _, tc := range []struct {
		codec  Codec
		levels []Levels
	}{
		{CodecNone, []Levels{DefaultLevels}},
		{CodecSnappy, []Levels{DefaultLevels}},
		{CodecGzip, []Levels{{Gzip: 1}, {Gzip: 9}, {Gzip: -1}}},
		{CodecLZ4, []Levels{{LZ4: 1}, {LZ4: 9}, {LZ4: 17}}},
		{CodecZstd, []Levels{{Zstd: -5}, {Zstd: 1}, {Zstd: 3}, {Zstd: 22}}},
	} {
		sizes := map[int]bool{}
		for _, lv := range tc.levels {
			out, err := CompressLevels(tc.codec, data, lv)
			if err != nil {
				t.Fatalf("%v %+v: %v", tc.codec, lv, err)
			}
			back, err := Decompress(tc.codec, out, len(data))
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("%v %+v: does not decode to the input: %v", tc.codec, lv, err)
			}
			sizes[len(out)] = true
		}
		if len(tc.levels) > 1 && len(sizes) < 2 {
			t.Errorf("%v: every level gave the same size", tc.codec)
		}
	}
	if _, err := CompressLevels(CodecGzip, data, Levels{Gzip: 12}); err == nil {
		t.Error("gzip level 12 accepted")
	}
}
