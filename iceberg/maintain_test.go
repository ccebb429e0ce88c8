package iceberg

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/silt-io/silt/objstore"
)

// hourFile is a file of partition p holding offsets [first, first+9] in
// hour h after the test's base hour.
func hourFile(p int32, h int, first int64) DataFile {
	base := time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour).UnixMilli()
	return DataFile{Key: fmt.Sprintf("%sdt=2025-03-04/hour=%02d/part-%d-%d-%d.parquet", ExportDir("t"), h, p, first, first+9),
		Size: 100, Partition: p, Hour: HourOf(base), Records: 10, FirstOffset: first, LastOffset: first + 9,
		MinTimestamp: base, MaxTimestamp: base + 1000}
}

// checkReachable fails unless every object every snapshot of the table
// refers to is in the bucket, and returns the data files of each snapshot.
func checkReachable(t *testing.T, ctx context.Context, b objstore.Bucket, tb *Table) map[int64]map[string]int64 {
	t.Helper()
	md, _, _, err := LoadMetadata(ctx, b, "t")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]map[string]int64{}
	for i := range md.Snapshots {
		s := &md.Snapshots[i]
		files, err := tb.snapshotFiles(ctx, s)
		if err != nil {
			t.Fatalf("snapshot %d: %v", s.SnapshotID, err)
		}
		for k := range files {
			if _, err := b.Head(ctx, k); err != nil {
				t.Fatalf("snapshot %d lists %s: %v", s.SnapshotID, k, err)
			}
		}
		out[s.SnapshotID] = files
	}
	return out
}

func TestRemoveBeforeAndExpire(t *testing.T) {
	for _, bk := range buckets {
		t.Run(bk.name, func(t *testing.T) {
			ctx := testContext(t)
			b := bk.open(t)
			now := time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)
			tb := Open(b, "t", Options{Now: func() time.Time { return now }, SnapshotAge: time.Hour})
			var all []DataFile
			for h := range 4 { // one snapshot per hour of data, a minute apart
				f := hourFile(0, h, int64(h*10))
				if _, err := b.Put(ctx, f.Key, []byte("parquet")); err != nil {
					t.Fatal(err)
				}
				all = append(all, f)
				if _, err := tb.Append(ctx, "id", []Range{{0, int64(h * 10), int64(h*10 + 10)}}, []DataFile{f}); err != nil {
					t.Fatal(err)
				}
				now = now.Add(time.Minute)
			}
			c, err := tb.RemoveBefore(ctx, all[2].Hour)
			if err != nil || c.Files != 2 {
				t.Fatalf("remove: %+v, %v", c, err)
			}
			md, _, _, err := LoadMetadata(ctx, b, "t")
			if err != nil {
				t.Fatal(err)
			}
			cur := md.Current()
			if cur.Summary["operation"] != "delete" || cur.Summary["total-data-files"] != "2" || cur.Summary[summaryOffsets] != "0:40" {
				t.Fatalf("delete snapshot summary %v", cur.Summary)
			}
			snaps := checkReachable(t, ctx, b, tb)
			if len(snaps[cur.SnapshotID]) != 2 || len(snaps[cur.ParentSnapshotID]) != 4 {
				t.Fatalf("after the removal: current holds %v, its parent %v", snaps[cur.SnapshotID], snaps[cur.ParentSnapshotID])
			}
			// Nothing more to remove: no snapshot.
			if c, err := tb.RemoveBefore(ctx, all[2].Hour); err != nil || c.SnapshotID != 0 {
				t.Fatalf("second remove: %+v, %v", c, err)
			}

			// Two hours on, the next commit expires every snapshot before it
			// (the delete too), and the removed files leave the bucket.
			now = now.Add(2 * time.Hour)
			f := hourFile(1, 3, 0)
			if _, err := b.Put(ctx, f.Key, []byte("parquet")); err != nil {
				t.Fatal(err)
			}
			if _, err := tb.Append(ctx, "id", []Range{{1, 0, 10}}, []DataFile{f}); err != nil {
				t.Fatal(err)
			}
			md, _, _, err = LoadMetadata(ctx, b, "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(md.Snapshots) != 1 || len(md.SnapshotLog) != 1 {
				t.Fatalf("%d snapshots and %d log entries after expiry, want the new one only", len(md.Snapshots), len(md.SnapshotLog))
			}
			snaps = checkReachable(t, ctx, b, tb)
			if len(snaps[md.CurrentSnapshotID]) != 3 {
				t.Fatalf("current snapshot holds %v", snaps[md.CurrentSnapshotID])
			}
			for i, f := range all {
				_, err := b.Head(ctx, f.Key)
				if gone := err != nil; gone != (i < 2) {
					t.Errorf("%s: head %v", f.Key, err)
				}
			}
			// The expired snapshots' manifest lists and manifests are gone;
			// the current one's are there (checkReachable read them).
			lists := 0
			for info, err := range b.List(ctx, metadataDir("t")+"snap-", "") {
				if err != nil {
					t.Fatal(err)
				}
				_ = info
				lists++
			}
			avro := 0
			for info, err := range b.List(ctx, metadataDir("t"), "") {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(info.Key, ".avro") {
					avro++
				}
			}
			// One list, and its manifests: the new one and those of hours 2
			// and 3 (the delete's manifests of removed files only are not
			// carried on).
			if lists != 1 || avro != 4 {
				t.Fatalf("%d manifest lists and %d Avro files in the bucket, want 1 and 4", lists, avro)
			}
		})
	}
}

func TestManifestsMerge(t *testing.T) {
	ctx := testContext(t)
	b := buckets[0].open(t)
	tb := Open(b, "t", Options{MaxManifests: 3})
	for i := range 7 {
		p := int32(i % 2)
		first := int64(i/2) * 10
		if _, err := tb.Append(ctx, "id", []Range{{p, first, first + 10}}, []DataFile{hourFile(p, i, first)}); err != nil {
			t.Fatal(err)
		}
		md, _, _, err := LoadMetadata(ctx, b, "t")
		if err != nil {
			t.Fatal(err)
		}
		mfs, err := tb.readManifestList(ctx, md.Current())
		if err != nil {
			t.Fatal(err)
		}
		if len(mfs) > 3 {
			t.Fatalf("commit %d: %d manifests, want at most 3", i, len(mfs))
		}
		files, err := tb.Files(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != i+1 || md.Current().Summary["total-data-files"] != fmt.Sprint(i+1) {
			t.Fatalf("commit %d: %d files, summary %v", i, len(files), md.Current().Summary)
		}
	}
}
