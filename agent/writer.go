package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/backoff"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// errWriterClosed is returned by append once the agent is shutting down;
// the producer is told NOT_LEADER_OR_FOLLOWER and retries elsewhere.
var errWriterClosed = errors.New("agent is shutting down")

// writer buffers produced batches for all partitions and turns them into
// segments: cut, upload, commit, answer. See the package documentation for
// the ordering rules.
type writer struct {
	a *Agent

	mu struct {
		sync.Mutex
		open     *openSegment
		closed   bool
		inflight int        // bytes appended and not yet answered
		room     *sync.Cond // signalled when inflight falls
		// committing maps each uploaded segment whose commit is not yet
		// finished to a channel closed once its chunks are cached: a
		// fetch woken by the commit waits for that instead of a GET.
		committing map[string]chan struct{}
		// inlineCommitting holds the same channels for inline segments, in
		// the order they are committed: their object is a journal entry
		// whose number is known only once it is written.
		inlineCommitting []chan struct{}
	}
	maxInflight int

	dataC   chan struct{} // the open segment got its first batch
	fullC   chan struct{} // the open segment reached FlushBytes
	appendC chan struct{} // a batch was appended (for idle cuts)
	closeC  chan struct{}

	pipeline chan *cutSegment // in cut order, to commitLoop
	cutSeq   atomic.Uint64    // sequence number of the last segment cut
	// failedThrough is the cut sequence up to which segments fail because
	// an earlier one did (commitLoop only).
	failedThrough uint64

	finishing sync.WaitGroup
	runDone   chan struct{}
}

type chunkKey struct {
	topic     string
	partition int32
}

type openSegment struct {
	chunks map[chunkKey]*openChunk
	order  []*openChunk
	bytes  int
}

// openChunk is one partition's batches in the open segment.
type openChunk struct {
	topic     string
	topicID   journal.TopicID
	partition int32
	batches   [][]byte
	meta      []journal.Batch
	// compressible: every batch was left uncompressed by its producer.
	compressible bool
	records      int64
	appends      []*appendWait
}

// appendWait is one produce request's batches for one partition, waiting
// for their commit. Its fields are set before done is closed.
type appendWait struct {
	first, n   int // the batches' indexes in their chunk
	bytes      int
	done       chan struct{}
	code       int16
	baseOffset int64
	logStart   int64
}

// cutSegment is a segment on its way to the bucket and the journal.
type cutSegment struct {
	seq      uint64
	chunks   []*openChunk
	raw      [][]byte // each chunk's batches, back to back
	bytes    int
	uploaded chan struct{} // closed when the upload ends; then object/infos/err are set
	object   string
	infos    []segment.ChunkInfo
	err      error
	// inline holds the segment's bytes when it is not uploaded on its own
	// but written inside its journal entry (see shouldInline).
	inline []byte
}

func newWriter(a *Agent) *writer {
	w := &writer{
		a:           a,
		maxInflight: max(4*a.cfg.FlushBytes, 64<<20),
		dataC:       make(chan struct{}, 1),
		fullC:       make(chan struct{}, 1),
		appendC:     make(chan struct{}, 1),
		closeC:      make(chan struct{}),
		pipeline:    make(chan *cutSegment, 8),
		runDone:     make(chan struct{}),
	}
	w.mu.room = sync.NewCond(&w.mu.Mutex)
	w.mu.open = &openSegment{chunks: map[chunkKey]*openChunk{}}
	w.mu.committing = map[string]chan struct{}{}
	return w
}

// committed returns a channel closed once the chunks of object, a segment
// this agent is committing, are in the cache; nil if it is not one.
func (w *writer) committed(object string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if journal.IsEntryKey(object) {
		// Inline segments commit in order, so a fetch woken by an entry
		// holding one is most likely waiting for the oldest.
		if len(w.mu.inlineCommitting) > 0 {
			return w.mu.inlineCommitting[0]
		}
		return nil
	}
	return w.mu.committing[object]
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// append buffers validated batches of one partition. It blocks while too
// much is buffered and not yet committed, which pushes back on producers.
func (w *writer) append(topic string, id journal.TopicID, partition int32, batches [][]byte, headers []recordbatch.Header) (*appendWait, error) {
	size := 0
	for _, b := range batches {
		size += len(b)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.mu.closed && w.mu.inflight > w.maxInflight {
		w.mu.room.Wait()
	}
	if w.mu.closed {
		return nil, errWriterClosed
	}
	seg := w.mu.open
	k := chunkKey{topic, partition}
	ch := seg.chunks[k]
	if ch == nil || ch.topicID != id {
		if ch != nil {
			// The topic was recreated: the old chunk is committed (and
			// rejected) on its own.
			k.topic += "\x00" + id.String()
		}
		ch = &openChunk{topic: topic, topicID: id, partition: partition, compressible: true}
		seg.chunks[k] = ch
		seg.order = append(seg.order, ch)
	}
	wait := &appendWait{first: len(ch.batches), n: len(batches), bytes: size, done: make(chan struct{})}
	for i, b := range batches {
		h := headers[i]
		ch.batches = append(ch.batches, b)
		ch.meta = append(ch.meta, journal.Batch{
			Records:       h.LastOffsetDelta + 1,
			MaxTimestamp:  h.MaxTimestamp,
			ProducerID:    h.ProducerID,
			ProducerEpoch: h.ProducerEpoch,
			BaseSequence:  h.BaseSequence,
		})
		if h.Codec() != recordbatch.CodecNone {
			ch.compressible = false
		}
		ch.records += int64(h.NumRecords)
	}
	ch.appends = append(ch.appends, wait)
	wasEmpty := seg.bytes == 0
	seg.bytes += size
	w.mu.inflight += size
	if wasEmpty {
		signal(w.dataC)
	}
	signal(w.appendC)
	if seg.bytes >= w.a.cfg.FlushBytes {
		signal(w.fullC)
	}
	return wait, nil
}

func (w *writer) cutAndShip() {
	w.mu.Lock()
	seg := w.mu.open
	if seg.bytes == 0 {
		w.mu.Unlock()
		return
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
}

// upload builds the segment object and puts it in the bucket, retrying
// until CommitTimeout: a short outage of the store delays produces rather
// than failing them.
func (w *writer) upload(cut *cutSegment) {
	defer close(cut.uploaded)
	start := time.Now()
	id := segment.NewID()
	inputs := make([]segment.ChunkInput, len(cut.chunks))
	for i, ch := range cut.chunks {
		inputs[i] = segment.ChunkInput{
			Topic: ch.topic, Partition: ch.partition, Data: cut.raw[i], Compress: ch.compressible,
			Batches: int32(len(ch.meta)), Records: ch.records,
		}
	}
	data, infos, err := segment.Build(id, inputs)
	if err != nil {
		cut.err = fmt.Errorf("build segment %s: %w", id, err)
		return
	}
	key := segment.Key(id)
	if w.shouldInline(len(data)) {
		cut.object, cut.infos, cut.inline = key, infos, data
		w.a.metrics.flushBytes.Observe(float64(len(data)))
		w.a.metrics.flushChunks.Observe(float64(len(infos)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.a.cfg.CommitTimeout)
	defer cancel()
	retry := backoff.New(20*time.Millisecond, 2*time.Second)
	for {
		_, err = w.a.bucket.Put(ctx, key, data)
		if err == nil || ctx.Err() != nil {
			break
		}
		w.a.log.Warn("segment upload failed; retrying", "object", key, "err", err)
		if retry.Wait(ctx) != nil {
			break
		}
	}
	if err != nil {
		cut.err = fmt.Errorf("upload segment %s: %w", key, err)
		return
	}
	cut.object, cut.infos = key, infos
	w.a.metrics.uploadDuration.Observe(time.Since(start).Seconds())
	w.a.metrics.flushBytes.Observe(float64(len(data)))
	w.a.metrics.flushChunks.Observe(float64(len(infos)))
}

// shouldInline reports whether a segment of size bytes goes inside its
// journal entry rather than into an object of its own: one PUT per flush
// instead of two. Only the committer can do this (it writes the entry), and
// only for segments small enough that writing them in the journal's single
// line of entries does not hold the line up; a segment proposed inline
// that reaches another committer is uploaded first (proposer.go).
func (w *writer) shouldInline(size int) bool {
	a := w.a
	return size <= a.cfg.InlineSegmentBytes &&
		a.commit.IsCommitter()
}

// commitLoop proposes segments' commits in the order they were cut.
func (w *writer) commitLoop() {
	for cut := range w.pipeline {
		<-cut.uploaded
		if cut.err == nil && cut.seq <= w.failedThrough {
			cut.err = errors.New("an earlier segment failed; not committed out of order")
		}
		if cut.err != nil {
			// Fail every segment cut before this failure was known, so
			// none of them commits ahead of this one.
			w.failedThrough = w.cutSeq.Load()
			w.a.log.Error("segment not committed", "err", cut.err)
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
		ctx, cancel := context.WithTimeout(context.Background(), w.a.cfg.CommitTimeout)
		start := time.Now()
		pending := w.a.proposer.Propose(ctx, []journal.Command{{CommitSegment: &journal.CommitSegment{
			Object: cut.object, Chunks: chunks, Inline: cut.inline != nil, Data: cut.inline,
		}}})
		w.finishing.Go(func() {
			defer cancel()
			_, results, err := pending.Wait(ctx)
			w.a.metrics.commitDuration.Observe(time.Since(start).Seconds())
			var res *journal.Result
			if err == nil {
				res = &results[0]
			} else {
				err = fmt.Errorf("commit segment %s: %w", cut.object, err)
				w.a.log.Error("segment commit failed", "err", err)
			}
			w.finish(cut, res, err)
		})
	}
}

// finish answers the producers waiting on a segment, and on success puts
// its chunks, patched with their offsets, in the cache for tailing
// consumers.
func (w *writer) finish(cut *cutSegment, res *journal.Result, err error) {
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
func (ap *appendWait) resolve(results []journal.BatchResult, err error) {
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
func (w *writer) cacheChunk(cut *cutSegment, i int, res *journal.Result, results []journal.BatchResult) {
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
	patched, _, err := recordbatch.Patch(cut.raw[i], base, leaderEpoch, skip)
	if err != nil {
		w.a.log.Error("patch committed chunk", "object", cut.object, "err", err)
		return
	}
	w.a.cache.Put(chunkCacheKey(object, pos+cut.infos[i].Pos), patched)
}
