package compaction

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// benchValue returns a 1 KiB value shaped like a JSON event: text that
// compresses about 3:1, as application records do, not random bytes.
func benchValue(rng *rand.Rand, i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"id":%d,"user":"user-%05d","items":[`, i, rng.IntN(100000))
	for b.Len() < 1000 {
		fmt.Fprintf(&b, `{"sku":"SKU-%06d","qty":%d,"price":%d.%02d},`, rng.IntN(1000000), rng.IntN(9)+1, rng.IntN(500), rng.IntN(100))
	}
	v := b.Bytes()[:1023]
	return append(v, '}')
}

// benchChunks builds patched chunks (as ReadChunk returns them) of n
// records of 1 KiB in batches of 100, uncompressed, and the total bytes of
// record keys and values.
func benchChunks(tb testing.TB, n int) ([][]byte, []journal.Chunk, int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	var chunks [][]byte
	var refs []journal.Chunk
	var payload int64
	var cur []byte
	base, off := int64(0), int64(0)
	ts := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := 0; i < n; i += 100 {
		var recs []recordbatch.Record
		for j := i; j < min(i+100, n); j++ {
			r := recordbatch.Record{Key: []byte("key-" + strconv.Itoa(j%5000)), Value: benchValue(rng, j), Timestamp: ts + int64(j),
				Headers: []kmsg.Header{{Key: "source", Value: []byte("bench")}}}
			payload += int64(len(r.Key) + len(r.Value))
			recs = append(recs, r)
		}
		first, maxTS := recordbatch.TimestampBounds(recs)
		b, err := recordbatch.Encode(recordbatch.Header{BaseOffset: off, FirstTimestamp: first, MaxTimestamp: maxTS, ProducerID: -1}, recs, recordbatch.CodecNone)
		if err != nil {
			tb.Fatal(err)
		}
		cur = append(cur, b...)
		off += int64(len(recs))
		if len(cur) >= 1<<20 || i+100 >= n {
			chunks = append(chunks, cur)
			refs = append(refs, journal.Chunk{Object: "c" + strconv.Itoa(len(refs)), RawLen: int64(len(cur)), BaseOffset: base, NextOffset: off})
			cur, base = nil, off
		}
	}
	return chunks, refs, payload
}

// BenchmarkExport measures the Parquet export of 1 KiB records (decode the
// batches, build rows, encode Parquet with zstd, hand each file to the
// bucket), in MB/s of record keys and values. Run it on one core:
//
//	go test -run '^$' -bench Export -cpu 1 ./compaction/
//
// BenchmarkExport/parquet-go-only is the reference measured in the same
// run: parquet-go writing the same rows, already built, with the same
// options; the difference is what silt's decoding and row building cost.
func BenchmarkExport(b *testing.B) {
	const n = 50000
	data, refs, payload := benchChunks(b, n)
	byObject := map[string][]byte{}
	for i, r := range refs {
		byObject[r.Object] = data[i]
	}
	b.Run("silt", func(b *testing.B) {
		c := New(mem.New(), nil, nil, Options{Logger: slog.New(slog.DiscardHandler),
			Read: func(_ context.Context, ch journal.Chunk) ([]byte, error) { return byObject[ch.Object], nil }})
		pr := partitionRef{topic: "bench", partition: 0, chunks: refs, next: int64(n)}
		b.SetBytes(payload)
		b.ReportAllocs()
		for b.Loop() {
			if _, recs, err := c.writeRange(context.Background(), pr, 0, int64(n)); err != nil || recs != n {
				b.Fatal(recs, err)
			}
		}
	})
	b.Run("parquet-go-only", func(b *testing.B) {
		var rows []ExportRow
		for _, chunk := range data {
			for bt, err := range recordbatch.Iterate(chunk) {
				if err != nil {
					b.Fatal(err)
				}
				recs, _ := recordbatch.Records(bt.Bytes, 1<<30)
				for _, r := range recs {
					rows = append(rows, ExportRow{Topic: "bench", Offset: r.Offset, Timestamp: r.Timestamp * 1000, Key: r.Key, Value: r.Value,
						Headers: []ExportHeader{{Key: r.Headers[0].Key, Value: r.Headers[0].Value}}})
				}
			}
		}
		b.SetBytes(payload)
		b.ReportAllocs()
		for b.Loop() {
			f := newParquetFile("x", 128<<20)
			for i := 0; i < len(rows); i += rowBatch {
				if _, err := f.w.Write(rows[i:min(i+rowBatch, len(rows))]); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMergeGETReduction measures what merging does to a cold read of one
// partition: the GETs a reader (Scan with ReadChunk) makes before and after
// a merge at the default target of 64 MiB. The partition is written as an
// agent at 20 MB/s over 8 partitions with a 250 ms flush writes it: chunks
// of about 625 KB, in segments shared with 7 other partitions. The volume is
// SILT_MERGE_BENCH_MIB (default 32, to keep the suite quick; the target is
// stated for 1024).
func TestMergeGETReduction(t *testing.T) {
	mib := 32
	if v, err := strconv.Atoi(os.Getenv("SILT_MERGE_BENCH_MIB")); err == nil && v > 0 {
		mib = v
	}
	ctx := context.Background()
	m := objstore.NewMetrics(nil)
	bucket := objstore.WithMetrics(mem.New(), m)
	logger := slog.New(slog.DiscardHandler)
	l, err := journal.Open(ctx, bucket, journal.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cm := journal.NewCommitter(l, journal.CommitterOptions{})
	defer cm.Close()
	_, res, err := cm.Submit(ctx, []journal.Command{{InitCluster: &journal.InitCluster{ClusterID: "bench"}},
		{CreateTopic: &journal.CreateTopic{Name: "t", Partitions: 8}}})
	if err != nil {
		t.Fatal(err)
	}
	id := res[1].TopicID

	// One chunk of each partition per segment, about 625 KB each: the
	// batches are copies of one template chunk.
	data, _, _ := benchChunks(t, 600)
	chunk := data[0]
	var batches []journal.Batch
	for bt, err := range recordbatch.Iterate(chunk) {
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, journal.Batch{Records: bt.NumRecords, MaxTimestamp: bt.MaxTimestamp, ProducerID: -1})
	}
	segments := mib << 20 / len(chunk)
	for range segments {
		var in []segment.ChunkInput
		for p := range int32(8) {
			in = append(in, segment.ChunkInput{Topic: "t", Partition: p, Data: chunk, Compress: true, Batches: int32(len(batches)), Records: 600})
		}
		sid := segment.NewID()
		obj, infos, err := segment.Build(sid, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bucket.Put(ctx, segment.Key(sid), obj); err != nil {
			t.Fatal(err)
		}
		cs := &journal.CommitSegment{Object: segment.Key(sid)}
		for _, in := range infos {
			cs.Chunks = append(cs.Chunks, journal.ChunkCommit{Topic: "t", TopicID: id, Partition: in.Partition, Pos: in.Pos, Len: in.Len,
				RawLen: in.RawLen, Codec: uint8(in.Codec), CRC: in.CRC, Batches: batches})
		}
		if _, _, err := cm.Submit(ctx, []journal.Command{{CommitSegment: cs}}); err != nil {
			t.Fatal(err)
		}
	}

	coldRead := func() (gets int64, records int64) {
		var chunks []journal.Chunk
		l.View(func(s *journal.State) { chunks = append(chunks, s.Partition("t", 0).Chunks...) })
		before := m.Snapshot()
		err := Scan(ctx, BucketReader(bucket), chunks, ScanOptions{}, func(*Record) error { records++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return m.Snapshot().Sub(before).Requests[objstore.OpGet], records
	}
	getsBefore, recsBefore := coldRead()
	c := New(bucket, l, CommitterProposer(cm), Options{Logger: logger,
		Now: func() time.Time { return time.Now().Add(time.Hour) }})
	start := time.Now()
	st, err := c.Merge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	getsAfter, recsAfter := coldRead()
	if recsAfter != recsBefore {
		t.Fatalf("read %d records after merging, %d before", recsAfter, recsBefore)
	}
	t.Logf("cold read of %d MiB of one partition: %d GETs before merging, %d after (1/%.0f); merged %d chunks of 8 partitions into %d objects in %v",
		mib, getsBefore, getsAfter, float64(getsBefore)/float64(max(getsAfter, 1)), st.Merged, st.MergedObjects, took.Round(time.Millisecond))
	if getsAfter*10 > getsBefore {
		t.Fatalf("merging cut the GETs of a cold read from %d to %d, less than 10 times", getsBefore, getsAfter)
	}
}

func TestMergeGroups(t *testing.T) {
	now := time.Now()
	key := func(age time.Duration) string {
		return segment.Key(segmentIDAt(now.Add(-age)))
	}
	ch := func(age time.Duration, raw int64) journal.Chunk { return journal.Chunk{Object: key(age), RawLen: raw} }
	const target = 100
	for _, tc := range []struct {
		name   string
		chunks []journal.Chunk
		want   []int // sizes of the groups
	}{
		{"young tail waits", []journal.Chunk{ch(time.Minute, 10), ch(time.Minute, 10)}, nil},
		{"old tail merges", []journal.Chunk{ch(20*time.Minute, 10), ch(19*time.Minute, 10)}, []int{2}},
		{"full tail merges", []journal.Chunk{ch(time.Minute, 30), ch(time.Minute, 30)}, []int{2}},
		{"cut at the target", []journal.Chunk{ch(time.Minute, 40), ch(time.Minute, 40), ch(time.Minute, 40), ch(time.Minute, 5)}, []int{2}},
		{"cut at the window", []journal.Chunk{ch(30*time.Minute, 1), ch(29*time.Minute, 1), ch(15*time.Minute, 1), ch(14*time.Minute, 1)}, []int{2, 2}},
		{"big chunks stay", []journal.Chunk{ch(time.Hour, 60), ch(time.Hour, 10), ch(time.Hour, 60), ch(time.Hour, 10), ch(time.Hour, 10)}, []int{2}},
		{"not a segment", []journal.Chunk{{Object: "x", RawLen: 1}, ch(time.Hour, 1)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for _, g := range mergeGroups(tc.chunks, target, 10*time.Minute, now) {
				got = append(got, len(g))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("groups %v, want %v", got, tc.want)
			}
		})
	}
}

// segmentIDAt returns a segment id whose time is t.
func segmentIDAt(t time.Time) segment.ID {
	id := segment.NewID()
	ms := t.UnixMilli()
	for i := 5; i >= 0; i-- {
		id[i] = byte(ms)
		ms >>= 8
	}
	return id
}
