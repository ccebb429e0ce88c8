package iceberg

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/silt-io/silt/objstore/mem"
)

// FuzzDecodeManifest feeds manifests and manifest lists read from the
// bucket to their decoders: any bytes give entries or an error, never a
// panic.
func FuzzDecodeManifest(f *testing.F) {
	m, err := encodeManifest([]manifestEntry{entryOf("t", "s3://b/export/t", testFile("t", 0, 0, 9), 7)})
	if err != nil {
		f.Fatal(err)
	}
	l, err := encodeManifestList(7, 0, 1, []manifestFile{summarize("s3://b/export/t/metadata/m.avro", 100, 7, 1, nil)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m)
	f.Add(l)
	f.Add(m[:len(m)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeAll[manifestEntry](data, manifestEntrySchema, "manifest")
		_, _ = decodeAll[manifestFile](data, manifestFileSchema, "manifest list")
	})
}

// FuzzLoadMetadata loads a table whose metadata file and version hint are
// any bytes: a table or an error, never a panic.
func FuzzLoadMetadata(f *testing.F) {
	md := newMetadata("s3://b/export/t", "id", 1)
	md.Snapshots = []Snapshot{{SnapshotID: 5, Summary: map[string]string{summaryOffsets: "0:10,1:x,2"}}}
	md.CurrentSnapshotID = 5
	raw, err := json.Marshal(md)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, []byte("1"))
	f.Add([]byte(`{"format-version":2,"current-snapshot-id":1,"snapshots":[{"snapshot-id":1}]}`), []byte("x"))
	f.Fuzz(func(t *testing.T, meta, hint []byte) {
		ctx := context.Background()
		b := mem.New()
		b.Put(ctx, metadataKey("t", 1), meta)
		b.Put(ctx, versionHintKey("t"), hint)
		md, _, _, err := LoadMetadata(ctx, b, "t")
		if err == nil {
			md.Current().offsets()
			formatOffsets(md.Current().offsets())
		}
	})
}
