package compaction

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/silt-io/silt/iceberg"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore/file"
)

// BenchmarkExportPass measures one export pass of a topic at 1 GiB of
// 1 KiB records over 4 partitions, onto a directory bucket (files written
// and fsynced as the agent's are): the Parquet export of the four ranges,
// then the Iceberg commit of their files to a table that already has 50
// snapshots. It reports the commit's share of the pass (commit-%, the
// target is at most 10%) and the export's throughput in MB/s of record
// keys and values; run on one core for the throughput per core:
//
//	go test -run '^$' -bench ExportPass -benchtime 1x -count 3 -cpu 1 ./compaction/
//
// SILT_EXPORT_PASS_MIB sets another volume. The pass is the compactor's
// own code (writeRange per partition, then iceberg.Table.Append, as
// exportTopic runs them) without the journal's BeginExport and
// CommitExport around it.
func BenchmarkExportPass(b *testing.B) {
	mib := 1024
	if v, err := strconv.Atoi(os.Getenv("SILT_EXPORT_PASS_MIB")); err == nil && v > 0 {
		mib = v
	}
	const parts = 4
	n := mib << 10 // records of about 1 KiB
	data, refs, payload := benchChunks(b, n)
	byObject := map[string][]byte{}
	for i, r := range refs {
		byObject[r.Object] = data[i]
	}
	// Partition p holds a quarter of the offsets.
	var prs []partitionRef
	for p := range parts {
		lo, hi := int64(p*n/parts), int64((p+1)*n/parts)
		pr := partitionRef{topic: "bench", partition: int32(p), start: lo, next: hi}
		for _, r := range refs {
			if r.NextOffset > lo && r.BaseOffset < hi {
				pr.chunks = append(pr.chunks, r)
			}
		}
		prs = append(prs, pr)
	}
	ctx := context.Background()
	var exportTime, commitTime time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		bucket, err := file.Open(filepath.Join(b.TempDir(), strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		c := New(bucket, nil, nil, Options{Logger: slog.New(slog.DiscardHandler), ExportMaxBytes: 1 << 40,
			Read: func(_ context.Context, ch journal.Chunk) ([]byte, error) { return byObject[ch.Object], nil }})
		table := c.table("bench")
		for s := range 50 { // the table's history: 50 earlier passes of one small file each
			f := iceberg.DataFile{Key: fmt.Sprintf("export/bench/dt=2024-12-31/hour=23/part-9-%d-%d.parquet", s*10, s*10+9),
				Size: 1000, Partition: 9, Hour: iceberg.HourOf(1735686000000), Records: 10, FirstOffset: int64(s * 10), LastOffset: int64(s*10 + 9)}
			if _, err := table.Append(ctx, "bench", []iceberg.Range{{Partition: 9, From: int64(s * 10), To: int64(s*10 + 10)}}, []iceberg.DataFile{f}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()

		start := time.Now()
		var files []iceberg.DataFile
		var ranges []iceberg.Range
		for _, pr := range prs {
			fs, recs, err := c.writeRange(ctx, pr, pr.start, pr.next)
			if err != nil || recs != pr.next-pr.start {
				b.Fatal(recs, err)
			}
			files = append(files, fs...)
			ranges = append(ranges, iceberg.Range{Partition: pr.partition, From: pr.start, To: pr.next})
		}
		exported := time.Now()
		commit, err := table.Append(ctx, "bench", ranges, files)
		if err != nil || commit.Files != len(files) {
			b.Fatal(commit, err)
		}
		exportTime += exported.Sub(start)
		commitTime += time.Since(exported)
	}
	b.SetBytes(payload)
	passes := float64(b.N)
	b.ReportMetric(exportTime.Seconds()/passes, "export-s/pass")
	b.ReportMetric(float64(commitTime.Milliseconds())/passes, "commit-ms/pass")
	b.ReportMetric(100*commitTime.Seconds()/(exportTime+commitTime).Seconds(), "commit-%")
	b.ReportMetric(float64(payload)/1e6/exportTime.Seconds()*passes, "export-MB/s")
}
