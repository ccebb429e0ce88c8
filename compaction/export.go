package compaction

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/silt-io/silt/iceberg"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/recordbatch"
)

// Export exports every partition of the topics with silt.export=parquet
// (or all, with ExportAll) whose archive is due: a range is pending (a
// compactor died exporting it), its last export is silt.export.interval.ms
// old, or ExportMaxBytes are waiting. The files of one pass over a topic
// are committed to the topic's Iceberg table as one snapshot.
//
// Exactly once: a range is fixed with BeginExport before any file is
// written, its files are named by the offsets they hold, the table's
// snapshot records the offsets it covers (iceberg.Table.Append), and
// CommitExport moves the exported offset from the begun range only. A
// compactor that dies anywhere in between leaves the range pending; the
// next one exports the same range again, writing the same file names over
// whatever the first left, adds them to the table unless the table already
// covers the range, and commits it. Retention and cleaning never touch
// offsets at or above the exported offset of an exported topic, so the
// records of a pending range are the same the second time.
func (c *Compactor) Export(ctx context.Context) (Stats, error) {
	nowMs := c.opts.Now().UnixMilli()
	return c.exportTopics(ctx, c.partitions(func(p policy) bool { return p.export }), nowMs, false)
}

// exportTopics exports the given partitions, one topic at a time.
func (c *Compactor) exportTopics(ctx context.Context, parts []partitionRef, nowMs int64, force bool) (Stats, error) {
	var st Stats
	for len(parts) > 0 {
		n := 1
		for n < len(parts) && parts[n].topic == parts[0].topic && parts[n].id == parts[0].id {
			n++
		}
		s, err := c.exportTopic(ctx, parts[:n], nowMs, force)
		st.add(s)
		if err != nil {
			return st, fmt.Errorf("%s: %w", parts[0].topic, err)
		}
		parts = parts[n:]
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
	keep := func(p partitionRef) bool { return p.policy.export }
	if topic != "" {
		keep = func(p partitionRef) bool { return p.topic == topic }
	}
	var parts []partitionRef
	for _, pr := range c.partitions(nil) {
		if keep(pr) {
			parts = append(parts, pr)
		}
	}
	if topic != "" && len(parts) == 0 {
		return st, fmt.Errorf("topic %q does not exist", topic)
	}
	// Export up to the end each partition has now. A pass that exports
	// nothing is not the end: another compactor may hold a range (a
	// refused BeginExport or CommitExport), and its export moves the
	// partition on; wait for that and go on.
	target := map[partitionKey]int64{}
	for _, pr := range parts {
		target[keyOf(pr)] = pr.lso
	}
	for {
		s, err := c.exportTopics(ctx, parts, nowMs, true)
		st.add(s)
		if err != nil {
			return st, err
		}
		if s.ExportedRecords == 0 && s.ExportedFiles == 0 {
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
		var left []partitionRef
		for _, p := range c.partitions(nil) {
			if t, ok := target[keyOf(p)]; ok && max(p.progress.Exported, p.start) < t {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return st, nil
		}
		parts = left
	}
}

// partitionKey identifies a partition of one incarnation of a topic.
type partitionKey struct {
	id        journal.TopicID
	partition int32
}

func keyOf(pr partitionRef) partitionKey { return partitionKey{pr.id, pr.partition} }

// exportedRange is a range of one partition whose files are written and
// wait for the table's commit and CommitExport.
type exportedRange struct {
	pr       partitionRef
	from, to int64
	records  int64
	files    []iceberg.DataFile
}

// exportTopic exports the due (or, with force, all) ranges of a topic's
// partitions, commits their files to the topic's table as one snapshot,
// then commits each range in the journal. A range refused because another
// compactor moved first is not an error.
func (c *Compactor) exportTopic(ctx context.Context, parts []partitionRef, nowMs int64, force bool) (Stats, error) {
	var st Stats
	var done []exportedRange
	var firstErr error
	for _, pr := range parts {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		from, to, ok, err := c.beginRange(ctx, pr, nowMs, force)
		if err != nil {
			firstErr = fmt.Errorf("partition %d: %w", pr.partition, err)
			break
		}
		if !ok {
			continue
		}
		if from < pr.start {
			c.opts.Logger.Warn("export: records deleted before they were exported", "topic", pr.topic, "partition", pr.partition,
				"from", from, "log_start", pr.start)
		}
		files, records, err := c.writeRange(ctx, pr, max(from, pr.start), to)
		if err != nil {
			firstErr = fmt.Errorf("partition %d: %w", pr.partition, err)
			break
		}
		done = append(done, exportedRange{pr: pr, from: from, to: to, records: records, files: files})
	}
	if len(done) == 0 {
		return st, firstErr
	}
	// The ranges written are committed even if a later partition failed:
	// the table first, then the journal.
	ranges := make([]iceberg.Range, 0, len(done))
	var files []iceberg.DataFile
	for _, d := range done {
		ranges = append(ranges, iceberg.Range{Partition: d.pr.partition, From: d.from, To: d.to})
		files = append(files, d.files...)
	}
	table := c.table(parts[0].topic)
	start := time.Now()
	commit, err := table.Append(ctx, parts[0].id.String(), ranges, files)
	if err != nil {
		return st, errors.Join(firstErr, fmt.Errorf("commit table: %w", err))
	}
	st.TableCommits, st.TableCommitTime = 1, time.Since(start)
	if commit.SnapshotID == 0 {
		st.TableCommits = 0
	}
	for _, d := range done {
		res, err := c.proposeOne(ctx, journal.Command{CommitExport: &journal.CommitExport{
			Topic: d.pr.topic, TopicID: d.pr.id, Partition: d.pr.partition, From: d.from, To: d.to,
		}})
		if err != nil {
			return st, errors.Join(firstErr, fmt.Errorf("partition %d: commit export: %w", d.pr.partition, err))
		}
		if res.Code != 0 {
			// Another compactor committed the same range: it wrote the same
			// files, and the table holds them once.
			c.opts.Logger.Info("export commit refused; another compactor committed the range", "topic", d.pr.topic, "partition", d.pr.partition)
			continue
		}
		st.ExportedFiles += len(d.files)
		st.ExportedRecords += d.records
	}
	return st, firstErr
}

// table returns the Iceberg table of a topic's export.
func (c *Compactor) table(topic string) *iceberg.Table {
	return iceberg.Open(c.bucket, topic, iceberg.Options{Location: c.opts.TableLocation, Now: c.opts.Now, SnapshotAge: c.opts.SnapshotAge})
}

// ArchiveRetention takes the hours older than Options.ArchiveRetention out
// of the tables of exported topics, by a delete snapshot each (see
// iceberg.Table.RemoveBefore); it does nothing when ArchiveRetention is 0.
func (c *Compactor) ArchiveRetention(ctx context.Context) (Stats, error) {
	var st Stats
	if c.opts.ArchiveRetention <= 0 {
		return st, nil
	}
	hour := iceberg.HourOf(c.opts.Now().Add(-c.opts.ArchiveRetention).UnixMilli())
	seen := map[string]bool{}
	for _, pr := range c.partitions(func(p policy) bool { return p.export }) {
		if seen[pr.topic] {
			continue
		}
		seen[pr.topic] = true
		commit, err := c.table(pr.topic).RemoveBefore(ctx, hour)
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return st, fmt.Errorf("%s: %w", pr.topic, err)
		}
		st.ArchiveRemoved += commit.Files
	}
	return st, nil
}

// beginRange returns the pending range of a partition, or else fixes the
// next one with BeginExport if it is due (or force). ok is false when
// there is nothing to export or another compactor moved first.
func (c *Compactor) beginRange(ctx context.Context, pr partitionRef, nowMs int64, force bool) (from, to int64, ok bool, err error) {
	prog := pr.progress
	from, to = prog.ExportFrom, prog.ExportTo
	if to != 0 {
		return from, to, true, nil
	}
	from = max(prog.Exported, pr.start)
	if from >= pr.lso {
		return 0, 0, false, nil
	}
	// The range ends at a chunk boundary once ExportMaxBytes are in it,
	// else at the last stable offset: an open transaction holds the
	// export back, so it carries committed records only.
	to = pr.lso
	var size int64
	for _, ch := range pr.chunks {
		if ch.NextOffset <= from {
			continue
		}
		size += ch.RawLen
		if size >= c.opts.ExportMaxBytes && ch.NextOffset < to {
			to = ch.NextOffset
			break
		}
	}
	due := force || size >= c.opts.ExportMaxBytes || nowMs-prog.ExportTime >= pr.policy.exportIntervalMs
	if !due {
		return 0, 0, false, nil
	}
	res, err := c.proposeOne(ctx, journal.Command{BeginExport: &journal.BeginExport{
		Topic: pr.topic, TopicID: pr.id, Partition: pr.partition, Prev: prog.Exported, From: from, To: to,
	}})
	if err != nil {
		return 0, 0, false, fmt.Errorf("begin export: %w", err)
	}
	if res.Code != 0 {
		c.opts.Logger.Info("export range refused; another compactor moved first", "topic", pr.topic, "partition", pr.partition, "code", res.Code)
		return 0, 0, false, nil
	}
	return from, to, true, nil
}

// writeRange writes the records of [from, to) of a partition as one file
// per hour of record time.
func (c *Compactor) writeRange(ctx context.Context, pr partitionRef, from, to int64) (files []iceberg.DataFile, records int64, err error) {
	open := map[int64]*parquetFile{}
	var batchBytes int64
	err = Scan(ctx, c.opts.Read, pr.chunks, ScanOptions{From: from, To: to, Aborted: pr.aborted, Batch: func(b recordbatch.Batch) {
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
		return nil, 0, err
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
		files = append(files, f.dataFile(pr.partition, int64(len(data))))
		delete(open, h) // let the file's memory go
	}
	c.progress(Progress{Stage: "export", Topic: pr.topic, Records: records, Bytes: batchBytes})
	return files, records, nil
}
