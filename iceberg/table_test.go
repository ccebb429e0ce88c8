package iceberg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silt-io/silt/localstack/s3server"
	"github.com/silt-io/silt/localstack/s3server/s3servertest"
	"github.com/silt-io/silt/objstore"
	_ "github.com/silt-io/silt/objstore/drivers"
	"github.com/silt-io/silt/objstore/file"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// buckets are the stores every table test runs on: a directory and
// versitygw, a real S3 server with conditional writes.
var buckets = []struct {
	name string
	open func(t *testing.T) objstore.Bucket
}{
	{"file", func(t *testing.T) objstore.Bucket {
		b, err := file.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}},
	{"versitygw", func(t *testing.T) objstore.Bucket {
		srv := s3servertest.StartT(t)
		b, err := objstore.Open(testContext(t), "s3://"+s3server.TestBucket+"/"+strings.ReplaceAll(t.Name(), "/", "-"), objstore.Config{
			Endpoint: srv.Endpoint(), AccessKey: srv.AccessKey(), SecretKey: srv.SecretKey(), Region: srv.Region()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}},
}

// file of partition p holding offsets [first, last] in one hour.
func testFile(topic string, p int32, first, last int64) DataFile {
	ts := time.Date(2025, 3, 4, 22, 0, 0, 0, time.UTC).UnixMilli() + first*1000
	return DataFile{
		Key:  fmt.Sprintf("%sdt=2025-03-04/hour=22/part-%d-%d-%d.parquet", ExportDir(topic), p, first, last),
		Size: 1000 + last - first, Partition: p, Hour: HourOf(ts), Records: last - first + 1,
		FirstOffset: first, LastOffset: last, MinTimestamp: ts, MaxTimestamp: ts + (last-first)*1000,
		NullKeys: 1,
	}
}

func TestAppendExactlyOnce(t *testing.T) {
	for _, bk := range buckets {
		t.Run(bk.name, func(t *testing.T) {
			ctx := testContext(t)
			b := bk.open(t)
			tb := Open(b, "orders", Options{})
			for i, step := range []struct {
				ranges    []Range
				files     []DataFile
				wantFiles int // added by this step
			}{
				{[]Range{{0, 0, 10}, {1, 0, 5}}, []DataFile{testFile("orders", 0, 0, 9), testFile("orders", 1, 0, 4)}, 2},
				// The same ranges again (a compactor that died after the commit).
				{[]Range{{0, 0, 10}, {1, 0, 5}}, []DataFile{testFile("orders", 0, 0, 9), testFile("orders", 1, 0, 4)}, 0},
				// One range done, one new.
				{[]Range{{0, 0, 10}, {1, 5, 8}}, []DataFile{testFile("orders", 0, 0, 9), testFile("orders", 1, 5, 7)}, 1},
				// Two files of one range.
				{[]Range{{0, 10, 30}}, []DataFile{testFile("orders", 0, 10, 19), testFile("orders", 0, 20, 29)}, 2},
			} {
				c, err := tb.Append(ctx, "topic-id-1", step.ranges, step.files)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if c.Files != step.wantFiles || (c.SnapshotID != 0) != (step.wantFiles > 0) {
					t.Fatalf("step %d: %+v, want %d files added", i, c, step.wantFiles)
				}
			}
			files, err := tb.Files(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var records int64
			for _, n := range files {
				records += n
			}
			if len(files) != 5 || records != 10+5+3+20 {
				t.Fatalf("table holds %d files of %d records: %v", len(files), records, files)
			}
			md, v, _, err := LoadMetadata(ctx, b, "orders")
			if err != nil {
				t.Fatal(err)
			}
			if v != 3 || len(md.Snapshots) != 3 || md.Current().Summary[summaryOffsets] != "0:30,1:8" {
				t.Fatalf("version %d, %d snapshots, current summary %v", v, len(md.Snapshots), md.Current().Summary)
			}
			if md.Current().Summary["total-records"] != "38" || md.Current().Summary["total-data-files"] != "5" {
				t.Fatalf("current summary %v", md.Current().Summary)
			}

			// The topic deleted and created again: the new table starts empty.
			if _, err := tb.Append(ctx, "topic-id-2", []Range{{0, 0, 2}}, []DataFile{testFile("orders", 0, 0, 1)}); err != nil {
				t.Fatal(err)
			}
			if files, err := tb.Files(ctx); err != nil || len(files) != 1 {
				t.Fatalf("after the topic was recreated: %v, %v", files, err)
			}
		})
	}
}

// Committers racing for the same versions each land their own range once:
// the losers of a put-if-absent read the winner's state and commit on it.
func TestConcurrentAppends(t *testing.T) {
	for _, bk := range buckets {
		t.Run(bk.name, func(t *testing.T) {
			ctx := testContext(t)
			b := bk.open(t)
			const committers = 6
			var wg sync.WaitGroup
			errs := make(chan error, committers*2)
			for i := range committers {
				wg.Go(func() {
					// Two committers per range: one of them adds it.
					for range 2 {
						tb := Open(b, "t", Options{})
						p := int32(i)
						if _, err := tb.Append(ctx, "id", []Range{{p, 0, 100}}, []DataFile{testFile("t", p, 0, 99)}); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			files, err := Open(b, "t", Options{}).Files(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != committers {
				t.Fatalf("%d files in the table, want %d: %v", len(files), committers, files)
			}
			md, v, _, err := LoadMetadata(ctx, b, "t")
			if err != nil {
				t.Fatal(err)
			}
			if v != committers || len(md.Snapshots) != committers {
				t.Fatalf("version %d with %d snapshots, want %d", v, len(md.Snapshots), committers)
			}
		})
	}
}

// faultBucket fails the n-th write (Put or PutIfAbsent, counted from 1),
// before it happens or after.
type faultBucket struct {
	objstore.Bucket
	n     int
	after bool
	count atomic.Int32
}

var errKilled = errors.New("killed")

func (b *faultBucket) hit() bool { return int(b.count.Add(1)) == b.n }

func (b *faultBucket) Put(ctx context.Context, key string, data []byte) (string, error) {
	if b.hit() {
		if b.after {
			b.Bucket.Put(ctx, key, data)
		}
		return "", errKilled
	}
	return b.Bucket.Put(ctx, key, data)
}

func (b *faultBucket) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	if b.hit() {
		if b.after {
			b.Bucket.PutIfAbsent(ctx, key, data)
		}
		return "", errKilled
	}
	return b.Bucket.PutIfAbsent(ctx, key, data)
}

// A commit that fails at any write, before or after it happened (a lost
// response), and is retried by a fresh committer, leaves every file in the
// table exactly once. The writes of an Append are the manifest, the
// manifest list, the metadata (put-if-absent) and the version hint.
func TestAppendFailsAtEachWrite(t *testing.T) {
	for n := 1; n <= 4; n++ {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("write%d-after=%v", n, after), func(t *testing.T) {
				ctx := testContext(t)
				b := buckets[0].open(t)
				base := Open(b, "t", Options{})
				if _, err := base.Append(ctx, "id", []Range{{0, 0, 10}}, []DataFile{testFile("t", 0, 0, 9)}); err != nil {
					t.Fatal(err)
				}
				ranges := []Range{{0, 10, 20}, {1, 0, 10}}
				files := []DataFile{testFile("t", 0, 10, 19), testFile("t", 1, 0, 9)}
				fb := &faultBucket{Bucket: b, n: n, after: after}
				_, err := Open(fb, "t", Options{}).Append(ctx, "id", ranges, files)
				if n < 4 && err == nil && !(n == 3 && after) {
					t.Fatalf("the commit did not see its failed write %d", n)
				}
				if _, err := base.Append(ctx, "id", ranges, files); err != nil {
					t.Fatal(err)
				}
				got, err := base.Files(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 3 {
					t.Fatalf("table holds %v, want 3 files", got)
				}
			})
		}
	}
}

func TestManifestsCarryFieldIDs(t *testing.T) {
	data, err := encodeManifest([]manifestEntry{entryOf("t", "s3://b/export/t", testFile("t", 0, 0, 9), 7)})
	if err != nil {
		t.Fatal(err)
	}
	// The header's schema keeps the field ids readers project by.
	for _, want := range []string{`"field-id":2`, `"field-id":1000`, `"logicalType":"map"`, `format-version`, `partition-spec`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("manifest header lacks %s", want)
		}
	}
	got, err := decodeAll[manifestEntry](data, manifestEntrySchema, "manifest")
	if err != nil {
		t.Fatal(err)
	}
	df := got[0].DataFile
	if len(got) != 1 || df.FilePath != "s3://b/export/t/dt=2025-03-04/hour=22/part-0-0-9.parquet" || df.RecordCount != 10 ||
		*df.Partition.Partition != 0 || *df.Partition.TimestampHour != HourOf(time.Date(2025, 3, 4, 22, 0, 0, 0, time.UTC).UnixMilli()) ||
		got[0].SequenceNumber != nil || *got[0].SnapshotID != 7 || len(df.LowerBounds) != 5 || df.NullValueCounts[5].Value != 1 {
		t.Fatalf("decoded %+v", got)
	}
}

func TestHourOf(t *testing.T) {
	for _, c := range []struct {
		ms   int64
		want int32
	}{{0, 0}, {3599999, 0}, {3600000, 1}, {-1, -1}, {-3600000, -1}, {-3600001, -2}} {
		if got := HourOf(c.ms); got != c.want {
			t.Errorf("HourOf(%d) = %d, want %d", c.ms, got, c.want)
		}
	}
}
