package chunkread

import (
	"hash/crc32"
	"testing"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// FuzzDecode feeds Decode arbitrary stored bytes under a chunk whose CRC
// matches them, so the decoding and patching behind the check are reached:
// it must return batches or an error, never panic.
func FuzzDecode(f *testing.F) {
	b, err := recordbatch.Encode(recordbatch.Header{ProducerID: -1, BaseSequence: -1},
		[]recordbatch.Record{{Value: []byte("a")}, {Value: []byte("b")}}, recordbatch.CodecNone)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint8(0), int64(len(b)), int64(5), int64(2), int32(-1))
	f.Add(append(b, b...), uint8(0), int64(2*len(b)), int64(0), int64(2), int32(1))
	f.Add([]byte("noise"), uint8(1), int64(10), int64(0), int64(0), int32(-1))
	f.Fuzz(func(t *testing.T, data []byte, codec uint8, rawLen, base, records int64, skip int32) {
		if rawLen < 0 || rawLen > 1<<20 {
			return
		}
		c := journal.Chunk{Object: "fuzz", Len: int64(len(data)), RawLen: rawLen, Codec: codec,
			CRC: crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)), BaseOffset: base, NextOffset: base + records}
		if skip >= 0 {
			c.Skip = []int32{skip}
		}
		if out, err := Decode(c, append([]byte(nil), data...)); err == nil && int64(len(out)) > rawLen {
			t.Fatalf("Decode returned %d bytes from a chunk of %d", len(out), rawLen)
		}
	})
}
