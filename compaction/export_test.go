package compaction_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/iceberg"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
)

// hookBucket calls before on every Put, which may fail it.
type hookBucket struct {
	objstore.Bucket
	before func(key string) error
}

func (b *hookBucket) Put(ctx context.Context, key string, data []byte) (string, error) {
	if err := b.before(key); err != nil {
		return "", err
	}
	return b.Bucket.Put(ctx, key, data)
}

func (b *hookBucket) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	if err := b.before(key); err != nil {
		return "", err
	}
	return b.Bucket.PutIfAbsent(ctx, key, data)
}

// exportBase is the timestamp of export test record 0; record i is i*7s
// later, so 2000 records span four hours.
var exportBase = time.Date(2025, 3, 4, 22, 30, 0, 0, time.UTC)

func exportRecord(topic string, i int) *kgo.Record {
	r := &kgo.Record{
		Topic:     topic,
		Partition: int32(i % 2),
		Key:       []byte("key-" + strconv.Itoa(i)),
		Value:     []byte(fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte{'v'}, i%50))),
		Timestamp: exportBase.Add(time.Duration(i) * 7 * time.Second),
		Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}},
	}
	switch i % 9 {
	case 4:
		r.Key = nil
	case 5:
		r.Value = nil // a tombstone
	case 6:
		r.Value = []byte{}
	case 7:
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "null"})
	}
	return r
}

// produceExportRecords produces records 0..n-1 in batches of 100.
func produceExportRecords(t *testing.T, seeds []string, topic string, n int) {
	t.Helper()
	ctx := testContext(t, time.Minute)
	cl := newClient(t, seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := 0; i < n; i += 100 {
		var recs []*kgo.Record
		for j := i; j < min(i+100, n); j++ {
			recs = append(recs, exportRecord(topic, j))
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

var partName = regexp.MustCompile(`^export/([^/]+)/dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/part-(\d+)-(\d+)-(\d+)\.parquet$`)

// readExport reads every exported file of topic and checks each against
// its name: partition, first and last offsets, and the hour of each row.
// The files are exactly those of the current snapshot of the topic's
// Iceberg table, which counts their records right.
func readExport(t *testing.T, bucket objstore.Bucket, topic string) []compaction.ExportRow {
	t.Helper()
	ctx := testContext(t, time.Minute)
	inTable, err := iceberg.Open(bucket, topic, iceberg.Options{}).Files(ctx)
	if err != nil {
		t.Fatalf("table %s: %v", topic, err)
	}
	var rows []compaction.ExportRow
	for info, err := range bucket.List(ctx, compaction.ExportDir(topic), "") {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(info.Key, compaction.ExportDir(topic)+"metadata/") {
			continue
		}
		n, ok := inTable[info.Key]
		if !ok {
			t.Fatalf("export file %s is not in the table's current snapshot", info.Key)
		}
		delete(inTable, info.Key)
		m := partName.FindStringSubmatch(info.Key)
		if m == nil {
			t.Fatalf("export file %s is not named export/<topic>/dt=YYYY-MM-DD/hour=HH/part-<p>-<first>-<last>.parquet", info.Key)
		}
		data, err := objstore.ReadAll(ctx, bucket, info.Key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parquet.Read[compaction.ExportRow](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", info.Key, err)
		}
		first, _ := strconv.ParseInt(m[5], 10, 64)
		last, _ := strconv.ParseInt(m[6], 10, 64)
		part, _ := strconv.Atoi(m[4])
		if len(got) == 0 || got[0].Offset != first || got[len(got)-1].Offset != last {
			t.Fatalf("%s holds %d rows from offset %d to %d", info.Key, len(got), got[0].Offset, got[len(got)-1].Offset)
		}
		if int64(len(got)) != n {
			t.Fatalf("%s holds %d rows; the table says %d", info.Key, len(got), n)
		}
		for _, r := range got {
			ts := time.UnixMicro(r.Timestamp).UTC()
			if r.Partition != int32(part) || ts.Format("2006-01-02") != m[2] || fmt.Sprintf("%02d", ts.Hour()) != m[3] {
				t.Fatalf("%s: row of partition %d at %v", path.Base(info.Key), r.Partition, ts)
			}
		}
		rows = append(rows, got...)
	}
	if len(inTable) > 0 {
		t.Fatalf("the table lists files that are not in the bucket: %v", inTable)
	}
	return rows
}

func sameBytes(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) }

// checkExport checks that rows hold each of the n records exactly once,
// with the right contents.
func checkExport(t *testing.T, rows []compaction.ExportRow, topic string, n int) {
	t.Helper()
	seen := map[int]bool{}
	for _, r := range rows {
		if len(r.Headers) == 0 {
			t.Fatalf("row %d/%d has no headers", r.Partition, r.Offset)
		}
		i, _ := strconv.Atoi(string(r.Headers[0].Value))
		if seen[i] {
			t.Fatalf("record %d exported twice (partition %d offset %d)", i, r.Partition, r.Offset)
		}
		seen[i] = true
		want := exportRecord(topic, i)
		switch {
		case r.Topic != topic || r.Partition != want.Partition || r.Offset != int64(i/2):
			t.Fatalf("record %d at %s/%d@%d, want %s/%d@%d", i, r.Topic, r.Partition, r.Offset, topic, want.Partition, i/2)
		case r.Timestamp != want.Timestamp.UnixMicro() || r.TimestampType != 0:
			t.Fatalf("record %d: timestamp %d type %d", i, r.Timestamp, r.TimestampType)
		case !sameBytes(r.Key, want.Key) || !sameBytes(r.Value, want.Value):
			t.Fatalf("record %d: key %q (nil %v) value %q (nil %v); want %q (nil %v) %q (nil %v)", i,
				r.Key, r.Key == nil, r.Value, r.Value == nil, want.Key, want.Key == nil, want.Value, want.Value == nil)
		case len(r.Headers) != len(want.Headers):
			t.Fatalf("record %d: %d headers, want %d", i, len(r.Headers), len(want.Headers))
		}
		for j, h := range r.Headers {
			if h.Key != want.Headers[j].Key || !sameBytes(h.Value, want.Headers[j].Value) {
				t.Fatalf("record %d header %d: %s=%q (nil %v)", i, j, h.Key, h.Value, h.Value == nil)
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("%d of %d records exported", len(seen), n)
	}
}

// A compactor killed at any point of an export — before a file is
// written, after some of a range's files, after all of them but before the
// commit — and replaced by another leaves every record exported exactly
// once, with the same file names.
func TestExportExactlyOnceAcrossKills(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic, n = "orders", 2000
	createTopic(t, seeds, topic, 2, map[string]string{"silt.export": "parquet"})
	produceExportRecords(t, seeds, topic, n)

	opts := compaction.Options{ExportMaxBytes: 16 << 10, MergeWindow: time.Hour}
	puts := 0
	killedAt := map[string]bool{} // the kinds of write a compactor died at
	for _, kill := range []struct {
		at    int  // the export put at which the compactor dies
		after bool // after the put happened (else before)
	}{{1, false}, {2, true}, {3, false}, {5, true}, {4, true}, {2, false}, {7, false}, {8, true}, {9, false}, {9, true}, {10, true}, {12, false}} {
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		count := 0
		hb := &hookBucket{Bucket: c.Bucket, before: func(key string) error {
			mu.Lock()
			defer mu.Unlock()
			if !regexp.MustCompile(`^export/`).MatchString(key) {
				return nil
			}
			count++
			puts++
			if count == kill.at {
				killedAt[writeKind(key)] = true
				cancel()
				if !kill.after {
					return context.Canceled
				}
			}
			return nil
		}}
		tl := newTool(t, hb, opts)
		if _, err := tl.c.ExportNow(ctx, ""); !errors.Is(err, context.Canceled) {
			t.Fatalf("kill at put %d: export ended with %v", kill.at, err)
		}
		cancel()
	}
	for _, kind := range []string{"parquet", "manifest", "manifest list", "table metadata", "version hint"} {
		if !killedAt[kind] {
			t.Errorf("no compactor died at a write of a %s (died at %v)", kind, killedAt)
		}
	}
	tl := newTool(t, c.Bucket, opts)
	st, err := tl.c.ExportNow(testContext(t, time.Minute), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d export puts by killed compactors; the last exported %d records in %d files", puts, st.ExportedRecords, st.ExportedFiles)
	tl.log.View(func(s *journal.State) {
		tp := s.Topic(topic)
		for i, p := range tp.Partitions {
			if pr := s.Progress(tp.ID, int32(i)); pr.Exported != p.NextOffset || pr.ExportTo != 0 {
				t.Errorf("partition %d: progress %+v, high watermark %d", i, pr, p.NextOffset)
			}
		}
	})
	checkExport(t, readExport(t, c.Bucket, topic), topic, n)

	// Nothing is due again, and a forced export finds nothing to do.
	if st, err := tl.c.ExportNow(testContext(t, time.Minute), ""); err != nil || st.ExportedRecords != 0 {
		t.Fatalf("second export: %+v, %v", st, err)
	}
}

// writeKind names the kind of an export object by its key.
func writeKind(key string) string {
	switch {
	case strings.HasSuffix(key, ".parquet"):
		return "parquet"
	case strings.HasSuffix(key, ".metadata.json"):
		return "table metadata"
	case strings.HasSuffix(key, "version-hint.text"):
		return "version hint"
	case strings.Contains(key, "/metadata/snap-"):
		return "manifest list"
	case strings.HasSuffix(key, ".avro"):
		return "manifest"
	}
	return key
}

// Retention never deletes records of an exported topic before they are
// exported.
func TestRetentionWaitsForExport(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "exported-retention"
	createTopic(t, seeds, topic, 2, map[string]string{"silt.export": "parquet", "retention.ms": "1000"})
	produceExportRecords(t, seeds, topic, 400) // timestamps from 2025: all past retention
	tl := newTool(t, c.Bucket, compaction.Options{ExportMaxBytes: 4 << 10, MergeWindow: time.Hour})
	st := tl.runOnce(t) // one range per partition, then retention up to it
	if st.ExportedRecords == 0 || st.Truncated == 0 {
		t.Fatalf("pass: %+v; want some exported and some truncated", st)
	}
	tl.log.View(func(s *journal.State) {
		tp := s.Topic(topic)
		for i, p := range tp.Partitions {
			if pr := s.Progress(tp.ID, int32(i)); p.StartOffset > pr.Exported || p.StartOffset == p.NextOffset {
				t.Errorf("partition %d: log start %d, exported %d, high watermark %d", i, p.StartOffset, pr.Exported, p.NextOffset)
			}
		}
	})
	if _, err := tl.c.ExportNow(testContext(t, time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	tl.runOnce(t)
	checkExport(t, readExport(t, c.Bucket, topic), topic, 400)
	tl.log.View(func(s *journal.State) {
		for i, p := range s.Topic(topic).Partitions {
			if p.StartOffset != p.NextOffset {
				t.Errorf("partition %d: log start %d after everything was exported, want %d", i, p.StartOffset, p.NextOffset)
			}
		}
	})
}

// Another compactor that exports part of a partition while silt export
// (ExportNow) is at work refuses ExportNow's range; ExportNow must not take
// that for the end, but go on from where the other left off, until the
// partition is exported up to the end it had when ExportNow began.
func TestExportNowGoesOnPastAnotherCompactor(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "export-race"
	createTopic(t, seeds, topic, 1, map[string]string{"silt.export": "parquet"})
	ctx := testContext(t, time.Minute)
	prod := newProducer(t, seeds, topic)
	for i := range 4 {
		if err := prod.produce(ctx, i*50, 50, 100, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}

	l, err := journal.Open(ctx, c.Bucket, journal.Options{WriterID: "export-now", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cm := journal.NewCommitter(l, journal.CommitterOptions{})
	defer cm.Close()
	var id journal.TopicID
	l.View(func(s *journal.State) { id = s.Topic(topic).ID })
	// The other compactor exports [0, 60) just before ExportNow's first
	// BeginExport lands.
	other := []journal.Command{
		{BeginExport: &journal.BeginExport{Topic: topic, TopicID: id, Partition: 0, Prev: 0, From: 0, To: 60}},
		{CommitExport: &journal.CommitExport{Topic: topic, TopicID: id, Partition: 0, From: 0, To: 60}},
	}
	raced := false
	propose := func(ctx context.Context, cmds []journal.Command) ([]journal.Result, error) {
		if !raced && len(cmds) == 1 && cmds[0].BeginExport != nil {
			raced = true
			if _, _, err := cm.Submit(ctx, other); err != nil {
				return nil, err
			}
		}
		_, res, err := cm.Submit(ctx, cmds)
		return res, err
	}
	cp := compaction.New(c.Bucket, l, propose, compaction.Options{Logger: quietLogger()})
	if _, err := cp.ExportNow(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if !raced {
		t.Fatal("ExportNow proposed no export range")
	}
	var exported, end int64
	l.View(func(s *journal.State) {
		exported = s.Progress(id, 0).Exported
		end = s.Partition(topic, 0).NextOffset
	})
	if exported != end || end != 200 {
		t.Fatalf("ExportNow returned with the partition exported to %d of %d; want all 200", exported, end)
	}
}

// Archive retention takes the hours before the cutoff out of the table by
// a new snapshot; the earlier snapshot still lists them (time travel), and
// their files stay in the bucket until it expires.
func TestArchiveRetention(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic, n = "archived", 2000 // 4 hours from exportBase (22:30)
	createTopic(t, seeds, topic, 2, map[string]string{"silt.export": "parquet"})
	produceExportRecords(t, seeds, topic, n)
	ctx := testContext(t, time.Minute)
	tl := newTool(t, c.Bucket, compaction.Options{MergeWindow: time.Hour})
	if _, err := tl.c.ExportNow(ctx, topic); err != nil {
		t.Fatal(err)
	}
	before, err := iceberg.Open(c.Bucket, topic, iceberg.Options{}).Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Keep 25 hours before a clock at 00:10 two days later: hours from
	// 23:00 on the first day stay.
	now := time.Date(2025, 3, 6, 0, 10, 0, 0, time.UTC)
	tl = newTool(t, c.Bucket, compaction.Options{MergeWindow: time.Hour, ArchiveRetention: 25 * time.Hour,
		Now: func() time.Time { return now }})
	st, err := tl.c.ArchiveRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, err := iceberg.Open(c.Bucket, topic, iceberg.Options{}).Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for k := range before {
		_, kept := after[k]
		if old := strings.Contains(k, "/dt=2025-03-04/hour=22/"); old == kept {
			t.Errorf("%s: in the table after retention %v", k, kept)
		}
		if !kept {
			removed++
		}
		if _, err := c.Bucket.Head(ctx, k); err != nil {
			t.Errorf("%s left the bucket before its snapshot expired: %v", k, err)
		}
	}
	if removed == 0 || st.ArchiveRemoved != removed || len(after) != len(before)-removed {
		t.Fatalf("removed %d of %d files (stats %+v), table holds %d", removed, len(before), st, len(after))
	}
	// Again: nothing more to remove.
	if st, err := tl.c.ArchiveRetention(ctx); err != nil || st.ArchiveRemoved != 0 {
		t.Fatalf("second pass: %+v, %v", st, err)
	}
}
