package compaction

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"time"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// Cleaning compacted topics (cleanup.policy=compact).
//
// The cleanable part of a partition is its chunks from the log start up
// to the first chunk that is too young. Kafka never cleans its active
// segment, which it rolls once it is segment.ms old or segment.bytes
// large (or holds a record max.compaction.lag.ms old); silt has no
// segments per partition, so the newest chunks count as the active
// segment while together they are under segment.bytes and the first of
// them was committed less than segment.ms ago (or less than
// max.compaction.lag.ms, or than MergeWindow, whichever is shortest: by
// default a compacted topic is cleaned once its chunks are old enough to
// be merged, as before). A chunk holding a record newer than
// min.compaction.lag.ms, or, on an exported topic, not yet exported, also
// ends the cleanable part. Cleaning starts when the part not cleaned yet is
// at least min.cleanable.dirty.ratio of the cleanable bytes, or holds a
// chunk committed more than max.compaction.lag.ms ago. Run checks for
// cleaning every CleanInterval, so a topic configured to clean quickly is
// cleaned within seconds.
//
// A pass reads the cleanable part twice. The first read maps each key (by a
// 128-bit hash) to its latest offset. The second keeps a record if it is
// that latest one, or has a null key, and drops a tombstone (null value)
// older than delete.retention.ms by record time even when it is the
// latest. The kept records keep their offsets. Chunks are grouped up to
// MergeTarget and each group becomes one new chunk, committed with
// ReplaceChunks; a group in which nothing changes and that is a single
// chunk is left as it is.
//
// Offsets inside a chunk are given by the fetch path as a running count of
// each batch's offset span (LastOffsetDelta+1), so a rewritten chunk must
// still cover every offset of the group: the span of dropped records is
// kept by the batch that follows it (its base moves down and its records'
// offset deltas up, as recordbatch.Encode allows) or, at the end of the
// group, by the last kept batch (its LastOffsetDelta grows, as Kafka's
// cleaner keeps it). A group with no record left becomes one empty batch
// spanning it, which clients skip (KAFKA-5443). Consumers see the gaps
// exactly as a Kafka compacted topic shows them.
//
// Tombstones are dropped by record time, not (as Kafka's KIP-534 does) by
// a delete horizon stamped when they are first cleaned: the horizon reuses
// a batch field and cleaning would then rewrite timestamps.
//
// Transactions: an aborted transaction's records are all dropped (they are
// no key's latest value). A marker is dropped, as Kafka's cleaner drops it,
// once no record of its transaction is left (the pass reads the partition
// from its start, so it has seen them all; an aborted transaction never
// has one) and it is older than delete.retention.ms: a read_committed
// reader needs a commit marker for nothing, and a compacted topic written
// transactionally (a Kafka Streams changelog under exactly_once_v2 commits
// several times a second) would otherwise keep one per commit forever. An
// abort marker's entry in the partition's aborted-transaction index goes
// with it, in the same ReplaceChunks (DropAborted): a read_committed reader
// told of an aborted range skips its producer's batches until it meets the
// abort marker, so the index must never name a range whose marker is
// gone. As with tombstones, delete.retention.ms is how long a reader has
// to get past a marker once it has been told of its range.

// keyHash is the 128-bit hash of a key in the cleaning map.
type keyHash [2]uint64

var hashSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func hashKey(k []byte) keyHash {
	return keyHash{maphash.Bytes(hashSeeds[0], k), maphash.Bytes(hashSeeds[1], k)}
}

// cleanEnd returns the end of the cleanable part of a partition and its
// bytes, from the log start.
func (c *Compactor) cleanEnd(pr *partitionRef, nowMs int64) (end int64, chunks int) {
	active := activeStart(pr.chunks, pr.policy, c.opts.MergeWindow, nowMs)
	end = pr.start
	for i, ch := range pr.chunks {
		switch {
		case i >= active:
			return end, i
		case ch.MaxTimestamp >= nowMs-pr.policy.minCompactionLagMs:
			return end, i
		case pr.policy.export && ch.NextOffset > pr.progress.Exported:
			return end, i
		case ch.NextOffset > pr.lso:
			// An open transaction: what it wrote may yet be aborted.
			return end, i
		}
		end = ch.NextOffset
	}
	return end, len(pr.chunks)
}

// Clean cleans the compacted topics whose dirty part is due.
func (c *Compactor) Clean(ctx context.Context) (Stats, error) {
	var st Stats
	nowMs := c.opts.Now().UnixMilli()
	for _, pr := range c.partitions(func(p policy) bool { return p.compact }) {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		end, n := c.cleanEnd(&pr, nowMs)
		if n == 0 || end <= pr.progress.Cleaned {
			continue
		}
		var total, dirty int64
		overdue := false
		for _, ch := range pr.chunks[:n] {
			total += ch.RawLen
			if ch.NextOffset > pr.progress.Cleaned {
				dirty += ch.RawLen
				t := chunkTime(ch)
				overdue = overdue || (!t.IsZero() && nowMs-t.UnixMilli() >= pr.policy.maxCompactionLagMs)
			}
		}
		if float64(dirty) < pr.policy.dirtyRatio*float64(total) && !overdue {
			continue
		}
		s, err := c.cleanPartition(ctx, pr, pr.chunks[:n], end, nowMs)
		st.add(s)
		if err != nil {
			return st, fmt.Errorf("clean %s/%d: %w", pr.topic, pr.partition, err)
		}
	}
	return st, nil
}

// activeStart returns the index of the first chunk of what Kafka would
// still hold in the partition's active segment (see the top of this file):
// the longest run of newest chunks under segment.bytes together whose first
// was committed less than the roll time ago. A chunk of unknown commit time
// counts as old.
func activeStart(chunks []journal.Chunk, p policy, mergeWindow time.Duration, nowMs int64) int {
	roll := min(p.segmentMs, p.maxCompactionLagMs, mergeWindow.Milliseconds())
	var bytes int64
	i := len(chunks)
	for i > 0 {
		ch := chunks[i-1]
		t := chunkTime(ch)
		bytes += ch.RawLen
		if t.IsZero() || nowMs-t.UnixMilli() >= roll || bytes >= p.segmentBytes {
			break
		}
		i--
	}
	return i
}

func (c *Compactor) cleanPartition(ctx context.Context, pr partitionRef, chunks []journal.Chunk, end, nowMs int64) (Stats, error) {
	var st Stats
	latest := map[keyHash]int64{}
	// Aborted transactions' records are not the latest of their keys:
	// they are dropped below, as Kafka's cleaner drops them.
	err := Scan(ctx, c.opts.Read, chunks, ScanOptions{From: pr.start, To: end, Aborted: pr.aborted}, func(r *Record) error {
		if r.Key != nil {
			latest[hashKey(r.Key)] = r.Offset
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	keep := func(r *recordbatch.Record) bool {
		if r.Key == nil {
			return true
		}
		if latest[hashKey(r.Key)] != r.Offset {
			return false
		}
		return r.Value != nil || r.Timestamp >= nowMs-pr.policy.deleteRetentionMs
	}

	// Groups of chunks up to MergeTarget.
	var groups [][]journal.Chunk
	var size int64
	for _, ch := range chunks {
		if n := len(groups); n == 0 || size+ch.RawLen > c.opts.MergeTarget {
			groups = append(groups, nil)
			size = 0
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], ch)
		size += ch.RawLen
	}
	txns := txnTracker{live: map[int64]bool{}, horizon: nowMs - pr.policy.deleteRetentionMs}
	for gi, group := range groups {
		data, dropped, err := c.filterGroup(ctx, group, keep, pr.aborted, &txns)
		if err != nil {
			return st, err
		}
		last := gi == len(groups)-1
		if dropped == 0 && len(group) == 1 && !last {
			continue
		}
		var newChunks []journal.Chunk
		if dropped == 0 && len(group) == 1 {
			// Nothing changes, but the cleaned offset must be recorded:
			// the chunk replaces itself.
			newChunks = group
		} else {
			maxTS := int64(math.MinInt64)
			for _, ch := range group {
				maxTS = max(maxTS, ch.MaxTimestamp)
			}
			nc, err := c.writeChunk(ctx, pr, data, group[0].BaseOffset, group[len(group)-1].NextOffset, maxTS)
			if err != nil {
				return st, err
			}
			newChunks = []journal.Chunk{nc}
		}
		cleaned := int64(0)
		if last {
			cleaned = end
		}
		ok, err := c.replace(ctx, pr, group, newChunks, cleaned, txns.droppedAborts)
		txns.droppedAborts = nil
		if err != nil {
			return st, err
		}
		if !ok {
			return st, nil // the partition changed: next pass
		}
		if newChunks[0].Object != group[0].Object {
			st.Cleaned += len(group)
			st.CleanedRecords += dropped
		}
		c.progress(Progress{Stage: "clean", Topic: pr.topic, Records: dropped})
		var n int64
		for _, ch := range group {
			n += ch.RawLen
		}
		if err := c.pace(ctx, n); err != nil {
			return st, err
		}
	}
	return st, nil
}

// filterGroup reads a group of chunks and returns its batches with only
// the records keep accepts, covering the group's offsets exactly (see the
// comment at the top of this file), and the number of records dropped.
func (c *Compactor) filterGroup(ctx context.Context, group []journal.Chunk, keep func(*recordbatch.Record) bool, aborted []journal.AbortedTxn, txns *txnTracker) ([]byte, int64, error) {
	var out []byte
	var dropped int64
	end := group[len(group)-1].NextOffset
	pending := group[0].BaseOffset // first offset no emitted batch covers
	// The last emitted batch, kept apart so that its span can grow.
	var lastHdr recordbatch.Header
	var lastRecs []recordbatch.Record
	var lastRaw []byte // the batch as it is, when it needs no rewrite
	haveLast := false
	var emptyHdr recordbatch.Header // a header to build an empty batch from
	emit := func() error {
		if !haveLast {
			return nil
		}
		if lastRaw != nil {
			out = append(out, lastRaw...)
		} else {
			b, err := recordbatch.Encode(lastHdr, lastRecs, lastHdr.Codec())
			if err != nil {
				return err
			}
			out = append(out, b...)
		}
		haveLast = false
		return nil
	}
	for _, ch := range group {
		data, err := c.opts.Read(ctx, ch)
		if err != nil {
			return nil, 0, err
		}
		for b, err := range recordbatch.Iterate(data) {
			if err != nil {
				return nil, 0, err
			}
			emptyHdr = b.Header
			recs, err := recordbatch.Records(b.Bytes, maxBatchRecordsBytes)
			if err != nil {
				return nil, 0, fmt.Errorf("batch at offset %d: %w", b.BaseOffset, err)
			}
			// An aborted transaction's records all go; its marker stays,
			// and a commit marker goes once its transaction has nothing
			// left (see the top of this file).
			drop := abortedBatch(aborted, b)
			keepControl := b.Control() && txns.keepMarker(b, recs)
			kept := recs[:0:0]
			for i := range recs {
				if keepControl || !b.Control() && !drop && keep(&recs[i]) {
					kept = append(kept, recs[i])
				}
			}
			if b.Transactional() && !b.Control() && len(kept) > 0 {
				txns.live[b.ProducerID] = true
			}
			dropped += int64(len(recs) - len(kept))
			if len(kept) == 0 {
				continue // its span goes to the next kept batch
			}
			if err := emit(); err != nil {
				return nil, 0, err
			}
			haveLast = true
			if len(kept) == len(recs) && pending == b.BaseOffset {
				lastHdr, lastRecs, lastRaw = b.Header, nil, append([]byte(nil), b.Bytes...)
			} else {
				h := b.Header
				h.BaseOffset = pending
				h.LastOffsetDelta = int32(b.LastOffset() - pending)
				for i := range kept {
					kept[i].OffsetDelta = int32(kept[i].Offset - pending)
				}
				lastHdr, lastRecs, lastRaw = h, kept, nil
			}
			pending = b.LastOffset() + 1
		}
	}
	if pending < end {
		if haveLast {
			// The last batch keeps the span of the dropped ones after it.
			if lastRaw != nil {
				recs, err := recordbatch.Records(lastRaw, maxBatchRecordsBytes)
				if err != nil {
					return nil, 0, err
				}
				lastRecs, lastRaw = recs, nil
			}
			lastHdr.LastOffsetDelta = int32(end - 1 - lastHdr.BaseOffset)
		} else {
			// Nothing kept: one empty batch spans the group.
			h := emptyHdr
			h.Attributes &^= 0x07 // codec none: nothing to compress
			h.BaseOffset = pending
			h.LastOffsetDelta = int32(end - 1 - pending)
			lastHdr, lastRecs, lastRaw, haveLast = h, nil, nil, true
		}
	}
	if err := emit(); err != nil {
		return nil, 0, err
	}
	return out, dropped, nil
}

// txnTracker follows, through one cleaning pass of a partition, which
// producers' current transactions still have a record kept, to tell which
// markers may go.
type txnTracker struct {
	live    map[int64]bool // producer id → its open transaction kept a record
	horizon int64          // markers older than this (by batch time) may go
	// droppedAborts are the offsets of the abort markers dropped from the
	// group being filtered.
	droppedAborts []int64
}

// keepMarker reports whether the control batch b, whose records are recs,
// stays, and ends its producer's transaction in the tracker.
func (t *txnTracker) keepMarker(b recordbatch.Batch, recs []recordbatch.Record) bool {
	live := t.live[b.ProducerID]
	delete(t.live, b.ProducerID)
	m, err := recordbatch.ParseMarker(b.Bytes)
	switch {
	case err != nil:
		return true // a control batch of another kind
	case live || b.MaxTimestamp >= t.horizon:
		return true
	case !m.Commit:
		if len(recs) == 0 {
			return true
		}
		// The marker's own offset: an earlier cleaning may have moved the
		// batch's base down over dropped records, or its end up.
		t.droppedAborts = append(t.droppedAborts, recs[len(recs)-1].Offset)
	}
	return false
}
