package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/chunkread"
	"github.com/silt-io/silt/internal/backoff"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// cutAndShip cuts the open segment and sends it on its way: the upload
// starts at once, the commit waits its turn in commitLoop. It reports
// whether there was anything to cut.
func (w *Writer) cutAndShip() bool {
	w.mu.Lock()
	seg := w.mu.open
	if seg.bytes == 0 {
		w.mu.Unlock()
		return false
	}
	w.mu.open = &openSegment{chunks: map[chunkKey]*openChunk{}}
	select {
	case <-w.fullC: // stale: it was about the segment just cut
	default:
	}
	w.mu.Unlock()

	cut := &cutSegment{seq: w.cutSeq.Add(1), chunks: seg.order, bytes: seg.bytes, uploaded: make(chan struct{})}
	cut.raw = make([][]byte, len(seg.order))
	for i, ch := range seg.order {
		size := 0
		for _, b := range ch.batches {
			size += len(b)
		}
		raw := make([]byte, 0, size)
		for _, b := range ch.batches {
			raw = append(raw, b...)
		}
		cut.raw[i] = raw
		ch.batches = nil // the request buffers can go
	}
	go w.upload(cut)
	w.pipeline <- cut
	return true
}

// upload builds the segment object and puts it in the bucket, retrying
// until CommitTimeout: a short outage of the store delays produces rather
// than failing them.
func (w *Writer) upload(cut *cutSegment) {
	defer close(cut.uploaded)
	start := time.Now()
	id := segment.NewID()
	inputs := make([]segment.ChunkInput, len(cut.chunks))
	for i, ch := range cut.chunks {
		inputs[i] = segment.ChunkInput{
			Topic: ch.topic, Partition: ch.partition, Data: cut.raw[i], Compress: ch.compressible && w.env.Compress,
			Batches: int32(len(ch.meta)), Records: ch.records,
		}
	}
	key := segment.Key(id)
	data, infos, inline, err := w.build(id, inputs, cut.bytes)
	if err != nil {
		cut.err = fmt.Errorf("build segment %s: %w", id, err)
		return
	}
	if inline != nil {
		cut.object, cut.infos, cut.inline = key, infos, inline
		w.metrics.flushBytes.Observe(float64(segmentSize(inline)))
		w.metrics.flushChunks.Observe(float64(len(infos)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.env.CommitTimeout)
	defer cancel()
	retry := backoff.New(20*time.Millisecond, 2*time.Second)
	for {
		_, err = w.env.Bucket.Put(ctx, key, data)
		if err == nil || ctx.Err() != nil {
			break
		}
		w.log.Warn("segment upload failed; retrying", "object", key, "err", err)
		if retry.Wait(ctx) != nil {
			break
		}
	}
	if err != nil {
		cut.err = fmt.Errorf("upload segment %s: %w", key, err)
		return
	}
	cut.object, cut.infos = key, infos
	w.metrics.uploadDuration.Observe(time.Since(start).Seconds())
	w.metrics.flushBytes.Observe(float64(len(data)))
	w.metrics.flushChunks.Observe(float64(len(infos)))
}

// build lays out the segment of a cut of raw bytes: as parts when it goes
// inline (the journal copies them into its entry, so the raw chunks are
// not copied here first), else as one object to upload.
func (w *Writer) build(id segment.ID, inputs []segment.ChunkInput, raw int) (data []byte, infos []segment.ChunkInfo, inline [][]byte, err error) {
	compress := false
	for _, in := range inputs {
		compress = compress || in.Compress
	}
	if !w.shouldInline(raw) && !(compress && w.env.IsCommitter()) {
		data, infos, err = segment.Build(id, inputs)
		return data, infos, nil, err
	}
	parts, size, infos, err := segment.BuildParts(id, inputs)
	if err != nil {
		return nil, nil, nil, err
	}
	if w.shouldInline(size) {
		return nil, infos, parts, nil
	}
	return bytes.Join(parts, nil), infos, nil, nil
}

// segmentSize is the length of a segment laid out in parts.
func segmentSize(parts [][]byte) int {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n
}

// shouldInline reports whether a segment of size bytes goes inside its
// journal entry rather than into an object of its own: one PUT per flush
// instead of two. Only the committer can do this (it writes the entry), and
// only for segments small enough that writing them in the journal's single
// line of entries does not hold the line up; a segment proposed inline
// that reaches another committer is uploaded first (agent/commit).
func (w *Writer) shouldInline(size int) bool {
	return size <= w.env.InlineSegmentBytes && w.env.IsCommitter()
}

// commitLoop proposes segments' commits in the order they were cut.
func (w *Writer) commitLoop() {
	for cut := range w.pipeline {
		<-cut.uploaded
		if cut.err == nil && cut.seq <= w.failedThrough {
			cut.err = errors.New("an earlier segment failed; not committed out of order")
		}
		if cut.err != nil {
			// Fail every segment cut before this failure was known, so
			// none of them commits ahead of this one.
			w.failedThrough = w.cutSeq.Load()
			w.log.Error("segment not committed", "err", cut.err)
			w.finish(cut, nil, cut.err)
			continue
		}
		chunks := make([]journal.ChunkCommit, len(cut.chunks))
		for i, ch := range cut.chunks {
			info := cut.infos[i]
			chunks[i] = journal.ChunkCommit{
				Topic: ch.topic, TopicID: ch.topicID, Partition: ch.partition,
				Pos: info.Pos, Len: info.Len, RawLen: info.RawLen, Codec: uint8(info.Codec), CRC: info.CRC,
				Batches: ch.meta,
			}
		}
		w.mu.Lock()
		if cut.inline != nil {
			w.mu.inlineCommitting = append(w.mu.inlineCommitting, make(chan struct{}))
		} else {
			w.mu.committing[cut.object] = make(chan struct{})
		}
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), w.env.CommitTimeout)
		start := time.Now()
		pending := w.env.Proposer.Propose(ctx, []journal.Command{{CommitSegment: &journal.CommitSegment{
			Object: cut.object, Chunks: chunks, Inline: cut.inline != nil, Data: cut.inline,
		}}})
		w.finishing.Go(func() {
			defer cancel()
			_, results, err := pending.Wait(ctx)
			w.metrics.commitDuration.Observe(time.Since(start).Seconds())
			var res *journal.Result
			if err == nil {
				res = &results[0]
			} else {
				err = fmt.Errorf("commit segment %s: %w", cut.object, err)
				w.log.Error("segment commit failed", "err", err)
			}
			w.finish(cut, res, err)
		})
	}
}

// finish answers the producers waiting on a segment, and on success puts
// its chunks, patched with their offsets, in the cache for tailing
// consumers.
func (w *Writer) finish(cut *cutSegment, res *journal.Result, err error) {
	for i, ch := range cut.chunks {
		var results []journal.BatchResult
		if res != nil {
			results = res.Chunks[i]
			w.cacheChunk(cut, i, res, results)
		}
		for _, ap := range ch.appends {
			ap.resolve(results, err)
		}
	}
	w.mu.Lock()
	w.mu.inflight -= cut.bytes
	w.mu.room.Broadcast()
	w.mu.finished++
	signal(w.finishedC)
	if cut.inline != nil {
		if len(w.mu.inlineCommitting) > 0 {
			close(w.mu.inlineCommitting[0])
			w.mu.inlineCommitting = w.mu.inlineCommitting[1:]
		}
	} else if c := w.mu.committing[cut.object]; c != nil {
		close(c)
		delete(w.mu.committing, cut.object)
	}
	w.mu.Unlock()
	for _, ch := range cut.chunks {
		for _, ap := range ch.appends {
			close(ap.done)
		}
	}
}

// resolve sets the outcome of one request's batches.
func (ap *Wait) resolve(results []journal.BatchResult, err error) {
	ap.baseOffset, ap.logStart = -1, -1
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		ap.code = kerr.RequestTimedOut.Code
		return
	case err != nil:
		ap.code = kerr.KafkaStorageError.Code
		return
	}
	for j := ap.first; j < ap.first+ap.n; j++ {
		r := results[j]
		if r.Code != 0 {
			ap.code = r.Code
			ap.baseOffset = -1
			return
		}
		if j == ap.first {
			ap.baseOffset = r.BaseOffset
		}
		ap.logStart = r.LogStartOffset
	}
}

// cacheChunk puts a committed chunk's batches, with their offsets, in the
// cache under the key fetches look for.
func (w *Writer) cacheChunk(cut *cutSegment, i int, res *journal.Result, results []journal.BatchResult) {
	// An inline segment's chunks landed in its journal entry.
	object, pos := cut.object, int64(0)
	if res.Object != "" {
		object, pos = res.Object, res.Base
	}
	var skip []int
	base := int64(-1)
	for j, r := range results {
		if r.Code != 0 || r.Duplicate {
			skip = append(skip, j)
			continue
		}
		if base < 0 {
			base = r.BaseOffset
		}
	}
	if base < 0 {
		return // nothing of the chunk was committed
	}
	patched, _, err := recordbatch.Patch(cut.raw[i], base, chunkread.LeaderEpoch, skip)
	if err != nil {
		w.log.Error("patch committed chunk", "object", cut.object, "err", err)
		return
	}
	w.env.Cache.Put(CacheKey(object, pos+cut.infos[i].Pos), patched)
}

// CacheKey names a chunk in the cache: its object and position. The
// writer fills the cache under it and the agent's fetch path reads it.
func CacheKey(object string, pos int64) string {
	return object + "@" + strconv.FormatInt(pos, 10)
}
