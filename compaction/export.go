package compaction

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// Export exports every partition of the topics with silt.export=parquet
// (or all, with ExportAll) whose archive is due: a range is pending (a
// compactor died exporting it), its last export is silt.export.interval.ms
// old, or ExportMaxBytes are waiting.
//
// Exactly once: a range is fixed with BeginExport before any file is
// written, its files are named by the offsets they hold, and CommitExport
// moves the exported offset from the begun range only. A compactor that
// dies anywhere in between leaves the range pending; the next one exports
// the same range again, writing the same file names over whatever the
// first left, and commits it. Retention and cleaning never touch offsets
// at or above the exported offset of an exported topic, so the records of
// a pending range are the same the second time.
func (c *Compactor) Export(ctx context.Context) (Stats, error) {
	var st Stats
	nowMs := c.opts.Now().UnixMilli()
	for _, pr := range c.partitions(func(p policy) bool { return p.export }) {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		s, err := c.exportPartition(ctx, pr, nowMs, false)
		st.add(s)
		if err != nil {
			return st, fmt.Errorf("%s/%d: %w", pr.topic, pr.partition, err)
		}
	}
	return st, nil
}

// ExportNow exports every exported topic up to its high watermark, whether
// due or not (silt export). topic, if set, limits it to that topic, which
// is exported even without silt.export.
func (c *Compactor) ExportNow(ctx context.Context, topic string) (Stats, error) {
	var st Stats
	if _, err := c.log.CatchUp(ctx); err != nil {
		return st, err
	}
	nowMs := c.opts.Now().UnixMilli()
	var parts []partitionRef
	if topic != "" {
		for _, pr := range c.partitions(nil) {
			if pr.topic == topic {
				parts = append(parts, pr)
			}
		}
		if len(parts) == 0 {
			return st, fmt.Errorf("topic %q does not exist", topic)
		}
	} else {
		parts = c.partitions(func(p policy) bool { return p.export })
	}
	for _, pr := range parts {
		// Export up to the end the partition has now. A pass that exports
		// nothing is not the end: another compactor may hold the range (a
		// refused BeginExport or CommitExport), and its export moves the
		// partition on; wait for that and go on.
		target := pr.next
		for {
			s, err := c.exportPartition(ctx, pr, nowMs, true)
			st.add(s)
			if err != nil {
				return st, fmt.Errorf("%s/%d: %w", pr.topic, pr.partition, err)
			}
			idle := s.ExportedRecords == 0 && s.ExportedFiles == 0
			if idle {
				select {
				case <-ctx.Done():
					return st, ctx.Err()
				case <-time.After(200 * time.Millisecond):
				}
				if _, err := c.log.CatchUp(ctx); err != nil {
					return st, err
				}
			}
			// More may remain past ExportMaxBytes: read the state again.
			found := false
			for _, p := range c.partitions(nil) {
				if p.topic == pr.topic && p.partition == pr.partition && p.id == pr.id {
					pr, found = p, true
				}
			}
			if !found || max(pr.progress.Exported, pr.start) >= target {
				break
			}
		}
	}
	return st, nil
}

// exportPartition exports the pending range of a partition, or else the
// next one if it is due (or force). A range refused because another
// compactor moved first is not an error.
func (c *Compactor) exportPartition(ctx context.Context, pr partitionRef, nowMs int64, force bool) (Stats, error) {
	var st Stats
	prog := pr.progress
	from, to := prog.ExportFrom, prog.ExportTo
	if to == 0 {
		from = max(prog.Exported, pr.start)
		if from >= pr.next {
			return st, nil
		}
		// The range ends at a chunk boundary once ExportMaxBytes are
		// in it, else at the high watermark.
		to = pr.next
		var size int64
		for _, ch := range pr.chunks {
			if ch.NextOffset <= from {
				continue
			}
			size += ch.RawLen
			if size >= c.opts.ExportMaxBytes {
				to = ch.NextOffset
				break
			}
		}
		due := force || size >= c.opts.ExportMaxBytes || nowMs-prog.ExportTime >= pr.policy.exportIntervalMs
		if !due {
			return st, nil
		}
		res, err := c.proposeOne(ctx, journal.Command{BeginExport: &journal.BeginExport{
			Topic: pr.topic, TopicID: pr.id, Partition: pr.partition, Prev: prog.Exported, From: from, To: to,
		}})
		if err != nil {
			return st, fmt.Errorf("begin export: %w", err)
		}
		if res.Code != 0 {
			c.opts.Logger.Info("export range refused; another compactor moved first", "topic", pr.topic, "partition", pr.partition, "code", res.Code)
			return st, nil
		}
	}
	if from < pr.start {
		c.opts.Logger.Warn("export: records deleted before they were exported", "topic", pr.topic, "partition", pr.partition,
			"from", from, "log_start", pr.start)
	}
	files, records, err := c.writeRange(ctx, pr, max(from, pr.start), to)
	if err != nil {
		return st, err
	}
	res, err := c.proposeOne(ctx, journal.Command{CommitExport: &journal.CommitExport{
		Topic: pr.topic, TopicID: pr.id, Partition: pr.partition, From: from, To: to,
	}})
	if err != nil {
		return st, fmt.Errorf("commit export: %w", err)
	}
	if res.Code != 0 {
		// Another compactor committed the same range: it wrote the same
		// files.
		c.opts.Logger.Info("export commit refused; another compactor committed the range", "topic", pr.topic, "partition", pr.partition)
		return st, nil
	}
	st.ExportedFiles, st.ExportedRecords = files, records
	return st, nil
}

// writeRange writes the records of [from, to) of a partition as one file
// per hour of record time.
func (c *Compactor) writeRange(ctx context.Context, pr partitionRef, from, to int64) (files int, records int64, err error) {
	open := map[int64]*parquetFile{}
	var batchBytes int64
	err = Scan(ctx, c.opts.Read, pr.chunks, ScanOptions{From: from, To: to, Batch: func(b recordbatch.Batch) {
		batchBytes += int64(len(b.Bytes))
	}}, func(r *Record) error {
		h := hourOf(r.Timestamp)
		f := open[h]
		if f == nil {
			f = newParquetFile(hourDir(pr.topic, r.Timestamp), c.opts.RowGroupBytes)
			open[h] = f
		}
		row := ExportRow{Topic: pr.topic, Partition: pr.partition, Offset: r.Offset, Timestamp: r.Timestamp * 1000,
			TimestampType: int32(r.TimestampType), Key: r.Key, Value: r.Value}
		size := int64(len(r.Key) + len(r.Value) + 40)
		if len(r.Headers) > 0 {
			row.Headers = make([]ExportHeader, len(r.Headers))
			for i, h := range r.Headers {
				row.Headers[i] = ExportHeader{Key: h.Key, Value: h.Value}
				size += int64(len(h.Key) + len(h.Value))
			}
		}
		records++
		return f.add(row, size)
	})
	if err != nil {
		return 0, 0, err
	}
	hours := make([]int64, 0, len(open))
	for h := range open {
		hours = append(hours, h)
	}
	slices.Sort(hours)
	for _, h := range hours {
		f := open[h]
		data, err := f.finish(pr.partition)
		if err != nil {
			return files, records, fmt.Errorf("encode parquet: %w", err)
		}
		if _, err := c.bucket.Put(ctx, f.key, data); err != nil {
			return files, records, fmt.Errorf("write %s: %w", f.key, err)
		}
		delete(open, h) // let the file's memory go
		files++
	}
	c.progress(Progress{Stage: "export", Topic: pr.topic, Records: records, Bytes: batchBytes})
	return files, records, nil
}
