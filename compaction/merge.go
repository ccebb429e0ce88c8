package compaction

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// partitionRef names a partition and carries a copy of its chunks, read
// under the state lock and used without it.
type partitionRef struct {
	topic     string
	id        journal.TopicID
	partition int32
	policy    policy
	start     int64
	next      int64
	lso       int64                // last stable offset: the export stops there
	aborted   []journal.AbortedTxn // the aborted-transaction index
	chunks    []journal.Chunk
	progress  journal.CompactionProgress
}

// partitions copies the chunks of every partition for which keep is true
// (nil: all).
func (c *Compactor) partitions(keep func(policy) bool) []partitionRef {
	var out []partitionRef
	c.log.View(func(s *journal.State) {
		for _, name := range s.TopicNames() {
			t := s.Topic(name)
			pol := policyOf(t, c.opts.ExportAll)
			if keep != nil && !keep(pol) {
				continue
			}
			for i, p := range t.Partitions {
				out = append(out, partitionRef{
					topic: name, id: t.ID, partition: int32(i), policy: pol,
					start: p.StartOffset, next: p.NextOffset, lso: p.LastStable(),
					aborted:  append([]journal.AbortedTxn(nil), p.Aborted...),
					chunks:   append([]journal.Chunk(nil), p.Chunks...),
					progress: s.Progress(t.ID, int32(i)),
				})
			}
		}
	})
	return out
}

// uploadTime is when a chunk's object was written, from its segment id;
// the zero time for an object that is not named like a segment.
func uploadTime(object string) time.Time {
	id, err := segment.ParseKey(object)
	if err != nil {
		return time.Time{}
	}
	return id.Time()
}

// chunkTime is when a chunk was written: its segment's upload time, or,
// for a chunk whose object names no time (an inline segment in a journal
// entry), the time the journal committed it.
func chunkTime(ch journal.Chunk) time.Time {
	if t := uploadTime(ch.Object); !t.IsZero() {
		return t
	}
	if ch.Written > 0 {
		return time.UnixMilli(ch.Written)
	}
	return time.Time{}
}

// mergeGroups returns the runs of chunks to merge: consecutive chunks
// smaller than half the target, cut where the next would take the group
// past the target or past the window of upload time. A group is merged
// only if it has at least two chunks and is complete: something follows
// it, or its first upload is a window old, so no later chunk can join it.
func mergeGroups(chunks []journal.Chunk, target int64, window time.Duration, now time.Time) [][]journal.Chunk {
	var groups [][]journal.Chunk
	var cur []journal.Chunk
	var size int64
	var first time.Time
	flush := func(complete bool) {
		if len(cur) >= 2 && complete {
			groups = append(groups, cur)
		}
		cur, size = nil, 0
	}
	for _, ch := range chunks {
		t := chunkTime(ch)
		if ch.RawLen >= target/2 || t.IsZero() {
			flush(true)
			continue
		}
		if len(cur) > 0 && (size+ch.RawLen > target || t.Sub(first) > window) {
			flush(true)
		}
		if len(cur) == 0 {
			first = t
		}
		cur = append(cur, ch)
		size += ch.RawLen
	}
	flush(len(cur) > 0 && (size >= target/2 || now.Sub(first) >= window))
	return groups
}

// Merge rewrites runs of small chunks of each partition into one object
// each (see mergeGroups) and commits each replacement with ReplaceChunks.
// A replacement refused because the partition changed meanwhile leaves the
// new object unused, and it is deleted at once.
func (c *Compactor) Merge(ctx context.Context) (Stats, error) {
	var st Stats
	now := c.opts.Now()
	for _, pr := range c.partitions(nil) {
		for _, group := range mergeGroups(pr.chunks, c.opts.MergeTarget, c.opts.MergeWindow, now) {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			newChunk, data, err := c.writeMerged(ctx, pr, group)
			if err != nil {
				return st, err
			}
			ok, err := c.replace(ctx, pr, group, []journal.Chunk{newChunk}, 0, nil)
			if err != nil {
				return st, err
			}
			if ok && c.opts.Merged != nil {
				c.opts.Merged(group, newChunk, data)
			}
			if ok {
				st.Merged += len(group)
				st.MergedObjects++
				var n int64
				for _, ch := range group {
					n += ch.RawLen
				}
				c.progress(Progress{Stage: "merge", Topic: pr.topic, Records: newChunk.Records(), Bytes: n})
			}
			if err := c.pace(ctx, newChunk.RawLen); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// writeMerged reads the chunks of group and writes their batches, in
// order, as the one chunk of a new segment object. The batches keep their
// real offsets (the fetch path patches them again to the same values) and
// the journal's skipped batches are left out, so the new chunk has no
// Skip list. It returns the new chunk and its batches, as Read returns
// them.
func (c *Compactor) writeMerged(ctx context.Context, pr partitionRef, group []journal.Chunk) (journal.Chunk, []byte, error) {
	var raw int64
	for _, ch := range group {
		raw += ch.RawLen
	}
	data := make([]byte, 0, raw)
	maxTS := int64(math.MinInt64)
	for _, ch := range group {
		b, err := c.opts.Read(ctx, ch)
		if err != nil {
			return journal.Chunk{}, nil, err
		}
		data = append(data, b...)
		maxTS = max(maxTS, ch.MaxTimestamp)
	}
	ch, err := c.writeChunk(ctx, pr, data, group[0].BaseOffset, group[len(group)-1].NextOffset, maxTS)
	return ch, data, err
}

// writeChunk stores data, a partition's batches for [base, next), as the
// one chunk of a new segment object and returns the chunk to commit.
func (c *Compactor) writeChunk(ctx context.Context, pr partitionRef, data []byte, base, next, maxTS int64) (journal.Chunk, error) {
	var batches int32
	var records int64
	var plain int
	for b, err := range recordbatch.Iterate(data) {
		if err != nil {
			return journal.Chunk{}, fmt.Errorf("%s/%d: %w", pr.topic, pr.partition, err)
		}
		batches++
		records += int64(b.NumRecords)
		if b.Codec() == recordbatch.CodecNone {
			plain += len(b.Bytes)
		}
	}
	id := segment.NewID()
	obj, infos, err := segment.Build(id, []segment.ChunkInput{{
		Topic: pr.topic, Partition: pr.partition, Data: data,
		// Compress when most of the bytes are not compressed already.
		Compress: plain*2 >= len(data),
		Batches:  batches, Records: records,
	}})
	if err != nil {
		return journal.Chunk{}, err
	}
	key := segment.Key(id)
	if _, err := c.bucket.Put(ctx, key, obj); err != nil {
		return journal.Chunk{}, fmt.Errorf("write %s: %w", key, err)
	}
	in := infos[0]
	return journal.Chunk{
		Object: key, Pos: in.Pos, Len: in.Len, RawLen: in.RawLen, Codec: uint8(in.Codec), CRC: in.CRC,
		BaseOffset: base, NextOffset: next, MaxTimestamp: maxTS,
	}, nil
}

// replace commits new in place of old. It reports whether the journal
// took the replacement; when it refused, the new objects are deleted.
// When the outcome is unknown, the error is returned and the objects are
// left for the orphan scan.
func (c *Compactor) replace(ctx context.Context, pr partitionRef, old, new []journal.Chunk, cleaned int64, dropAborted []int64) (bool, error) {
	cmd := &journal.ReplaceChunks{Topic: pr.topic, TopicID: pr.id, Partition: pr.partition, New: new, Cleaned: cleaned, DropAborted: dropAborted}
	for i := range old {
		cmd.Old = append(cmd.Old, journal.RefOf(&old[i]))
	}
	res, err := c.proposeOne(ctx, journal.Command{ReplaceChunks: cmd})
	if err != nil {
		return false, fmt.Errorf("replace chunks of %s/%d: %w", pr.topic, pr.partition, err)
	}
	if res.Code != 0 {
		c.opts.Logger.Info("compaction: replacement refused; the partition changed", "topic", pr.topic, "partition", pr.partition, "code", res.Code)
		// Nothing references the new objects (checked again, though the
		// command ID already makes a resent replacement answer with its
		// first outcome), so they go at once.
		var refs map[string]bool
		c.log.View(func(s *journal.State) { refs = s.Referenced() })
		var errs []error
		for _, n := range new {
			if !refs[n.Object] && !slices.ContainsFunc(old, func(o journal.Chunk) bool { return o.Object == n.Object }) {
				errs = append(errs, c.bucket.Delete(ctx, n.Object))
			}
		}
		return false, errors.Join(errs...)
	}
	for _, o := range old {
		// A transaction marker (no object) leaves nothing to delete.
		if o.Object != "" && !slices.ContainsFunc(new, func(n journal.Chunk) bool { return n.Object == o.Object }) {
			c.dropped = append(c.dropped, o.Object)
		}
	}
	return true, nil
}
