package segment

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/segment-v1.golden from Build")

const goldenPath = "testdata/segment-v1.golden"

// goldenID and goldenChunks are the fixed input of the golden file: one
// chunk of each kind Build writes.
var goldenID = newIDAt(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), [10]byte{0x5e, 0x65, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07})

func goldenChunks() []ChunkInput {
	text, nb, nr := batches(42, 1500)
	return []ChunkInput{
		// Record batches left uncompressed by the producer: stored as zstd.
		{Topic: "orders", Partition: 0, Data: text, Compress: true, Batches: nb, Records: nr},
		// Compression asked but useless: stored raw.
		{Topic: "orders", Partition: 1, Data: noise(42, 64), Compress: true, Batches: 1, Records: 3},
		// Batches the producer compressed itself: stored raw, as sent.
		{Topic: "заказы", Partition: 2147483647, Data: []byte("producer-compressed batch"), Batches: 1, Records: 1},
	}
}

// goldenInfos is what Parse must read from the golden file. The zstd
// chunk's Len and CRC depend on klauspost/compress's encoder; every other
// field is the format.
var goldenInfos = []ChunkInfo{
	{Topic: "orders", Partition: 0, Pos: 24, Len: 1886, RawLen: 5876, Codec: CodecZstd, CRC: 0x53875a5b, Batches: 1, Records: 22},
	{Topic: "orders", Partition: 1, Pos: 1910, Len: 64, RawLen: 64, Codec: CodecNone, CRC: 0x4bc91d7a, Batches: 1, Records: 3},
	{Topic: "заказы", Partition: 2147483647, Pos: 1974, Len: 25, RawLen: 25, Codec: CodecNone, CRC: 0x668c05e0, Batches: 1, Records: 1},
}

// TestGoldenBuild pins the bytes Build writes. If it fails:
//   - after a format change: keep segment-v1.golden (version 1 must stay
//     readable, TestGoldenParse checks it), bump Version and add a golden
//     file for the new version;
//   - after a klauspost/compress upgrade changed only the zstd chunk's
//     bytes: run `go test ./segment -run Golden -update` and update the
//     zstd chunk's Len and CRC in goldenInfos.
func TestGoldenBuild(t *testing.T) {
	data, _, err := Build(goldenID, goldenChunks())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, infos, _ := Parse(data)
		t.Logf("wrote %s; its infos:\n%#v", goldenPath, infos)
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, golden) {
		i := 0
		for i < min(len(data), len(golden)) && data[i] == golden[i] {
			i++
		}
		t.Fatalf("Build wrote %d bytes that differ from the %d of %s at offset %d; see this test's doc comment",
			len(data), len(golden), goldenPath, i)
	}
}

// TestGoldenParse reads the golden file as an old object in a bucket: this
// reader must understand it, byte for byte, forever.
func TestGoldenParse(t *testing.T) {
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	// The layout, spelled out: header, chunks, footer, trailer.
	if got, want := golden[:8], []byte("SILTSEG\x01"); !bytes.Equal(got, want) {
		t.Errorf("header magic %q, want %q", got, want)
	}
	if got := ID(golden[8:24]); got != goldenID {
		t.Errorf("header id %s, want %s", got, goldenID)
	}
	if got, want := golden[len(golden)-8:], []byte("SILTSEG\x01"); !bytes.Equal(got, want) {
		t.Errorf("trailer magic %q, want %q", got, want)
	}

	footerPos, footerLen, err := ParseTrailer(golden, int64(len(golden)))
	if err != nil {
		t.Fatal(err)
	}
	if footerPos != 1999 || footerLen != 201 {
		t.Errorf("footer at %d+%d, want 1999+201: after the last chunk, to the end", footerPos, footerLen)
	}
	if n := binary.BigEndian.Uint32(golden[footerPos+16:]); n != 3 {
		t.Errorf("index chunk count %d, want 3", n)
	}

	id, infos, err := Parse(golden)
	if err != nil {
		t.Fatal(err)
	}
	if id != goldenID || id.String() != "018fd3abc2005e650001020304050607" {
		t.Errorf("id = %s, want %s", id, goldenID)
	}
	if !reflect.DeepEqual(infos, goldenInfos) {
		t.Errorf("Parse infos:\n%#v\nwant:\n%#v", infos, goldenInfos)
	}
	for i, c := range goldenChunks() {
		raw, err := DecodeChunk(infos[i], golden[infos[i].Pos:infos[i].Pos+infos[i].Len])
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if !bytes.Equal(raw, c.Data) {
			t.Errorf("chunk %d decodes to other bytes than its input", i)
		}
	}
}
