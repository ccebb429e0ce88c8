package writer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// ErrClosed is returned by Append once the writer is closing (the agent
// is shutting down); the producer is told NOT_LEADER_OR_FOLLOWER and
// retries elsewhere.
var ErrClosed = errors.New("agent is shutting down")

// Proposer commits journal commands: the agent's commit.Proposer. Proposals
// must reach the journal in the order Propose is called; the writer relies
// on it to commit segments in the order it cut them.
type Proposer interface {
	// Propose queues cmds and returns at once.
	Propose(ctx context.Context, cmds []journal.Command) Pending
}

// Pending is a proposal on its way to the journal.
type Pending interface {
	// Wait returns the entry holding the proposal and each command's
	// result. An error means the commands may or may not be committed.
	Wait(ctx context.Context) (uint64, []journal.Result, error)
}

// Cache receives the chunks the writer committed, with their offsets
// patched in, under CacheKey: the agent's chunk cache.
type Cache interface {
	Put(key string, value []byte)
}

// Env is what the writer needs from its agent. Every field is required
// except Logger, Clock and Registerer.
type Env struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock drives the cut policy; default the wall clock.
	Clock clock.Clock
	// Bucket receives the segments.
	Bucket objstore.Writer
	// Cache receives committed chunks, for tailing consumers.
	Cache Cache
	// Proposer commits the segments.
	Proposer Proposer
	// IsCommitter reports whether this agent writes the journal entries
	// of its own proposals, and so may write a small segment inside its
	// entry (commit.Node.IsCommitter).
	IsCommitter func() bool
	// FlushInterval is the longest a batch waits before its segment is
	// cut; FlushBytes cuts a segment once that much is buffered;
	// InlineSegmentBytes is the largest segment written inside its
	// journal entry (0: never); CommitTimeout bounds the upload and the
	// commit of a segment. See agent.Config.
	FlushInterval      time.Duration
	FlushBytes         int
	InlineSegmentBytes int
	CommitTimeout      time.Duration
	// PutBudget is the PUTs a second the writer's early cuts may cause on
	// a store that charges per request; 0 means the store has no
	// per-request price, and segments are cut group-commit style (cut.go).
	PutBudget float64
	// Compress zstd-compresses the chunks whose batches producers left
	// uncompressed before they are written. The agent sets it on a store
	// that charges per request: there the bytes cross a network and are
	// stored at a price. A directory gets the batches as they came, which
	// keeps the CPU off the produce path; the compactor compresses them
	// when it merges old chunks.
	Compress bool
	// Registerer receives the metrics; nil means none are exported.
	Registerer prometheus.Registerer
}

// Writer buffers produced batches for all partitions and turns them into
// segments: cut, upload, commit, answer. See the package documentation for
// the ordering rules.
type Writer struct {
	env     Env
	log     *slog.Logger
	clock   clock.Clock
	metrics *metrics

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
		// finished counts segments finished since the run goroutine last
		// looked (finishedC): the cut policy's writes in flight.
		finished int
	}
	maxInflight int

	fullC   chan struct{} // the open segment reached FlushBytes
	appendC chan struct{} // a batch was appended (the cut policy's clock starts or idles)
	// finishedC is signalled when a segment's commit ends (mu.finished)
	finishedC chan struct{}
	closeC    chan struct{}

	pipeline chan *cutSegment // in cut order, to commitLoop
	cutSeq   atomic.Uint64    // sequence number of the last segment cut
	// failedThrough is the cut sequence up to which segments fail because
	// an earlier one did (commitLoop only).
	failedThrough uint64

	finishing sync.WaitGroup
	runDone   chan struct{}
	closeOnce sync.Once
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
	appends      []*Wait
}

// Wait is one produce request's batches for one partition, waiting for
// their commit. Its fields are set before done is closed.
type Wait struct {
	first, n   int // the batches' indexes in their chunk
	bytes      int
	done       chan struct{}
	code       int16
	baseOffset int64
	logStart   int64
}

// Done returns a channel closed once the batches are committed or have
// failed; then Result gives the outcome.
func (ap *Wait) Done() <-chan struct{} { return ap.done }

// Result returns the Kafka error code of the batches (0 when committed),
// the offset of the first and the partition's log start offset (-1 unless
// committed). Call it after Done is closed.
func (ap *Wait) Result() (code int16, baseOffset, logStart int64) {
	return ap.code, ap.baseOffset, ap.logStart
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
	// inline holds the segment's bytes, in parts (segment.BuildParts),
	// when it is not uploaded on its own but written inside its journal
	// entry (see shouldInline).
	inline [][]byte
}

// New starts a writer. Close stops it.
func New(env Env) *Writer {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	reg := env.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	w := &Writer{
		env:         env,
		log:         env.Logger,
		clock:       env.Clock,
		metrics:     newMetrics(reg, env.PutBudget),
		maxInflight: max(4*env.FlushBytes, 64<<20),
		fullC:       make(chan struct{}, 1),
		appendC:     make(chan struct{}, 1),
		finishedC:   make(chan struct{}, 1),
		closeC:      make(chan struct{}),
		pipeline:    make(chan *cutSegment, 8),
		runDone:     make(chan struct{}),
	}
	w.mu.room = sync.NewCond(&w.mu.Mutex)
	w.mu.open = &openSegment{chunks: map[chunkKey]*openChunk{}}
	w.mu.committing = map[string]chan struct{}{}
	go w.run()
	return w
}

// Committed returns a channel closed once the chunks of object, a segment
// this agent is committing, are in the cache; nil if it is not one. A
// fetch woken by the commit waits on it rather than GET what is in memory.
func (w *Writer) Committed(object string) <-chan struct{} {
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

// TxnAdd says whether an append's transactional batches may add their
// partition to their producer's transaction (journal.Batch.TxnAdd): they
// come from Produce v12+, a transaction-version-2 client's.
type TxnAdd bool

// Append buffers validated batches of one partition. It blocks while too
// much is buffered and not yet committed, which pushes back on producers.
func (w *Writer) Append(topic string, id journal.TopicID, partition int32, batches [][]byte, headers []recordbatch.Header, add TxnAdd) (*Wait, error) {
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
		return nil, ErrClosed
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
	wait := &Wait{first: len(ch.batches), n: len(batches), bytes: size, done: make(chan struct{})}
	for i, b := range batches {
		h := headers[i]
		ch.batches = append(ch.batches, b)
		ch.meta = append(ch.meta, journal.Batch{
			Records:       h.LastOffsetDelta + 1,
			MaxTimestamp:  h.MaxTimestamp,
			ProducerID:    h.ProducerID,
			ProducerEpoch: h.ProducerEpoch,
			BaseSequence:  h.BaseSequence,
			Txn:           h.Transactional(),
			TxnAdd:        h.Transactional() && bool(add),
		})
		if h.Codec() != recordbatch.CodecNone {
			ch.compressible = false
		}
		ch.records += int64(h.NumRecords)
	}
	ch.appends = append(ch.appends, wait)
	seg.bytes += size
	w.mu.inflight += size
	signal(w.appendC)
	if seg.bytes >= w.env.FlushBytes {
		signal(w.fullC)
	}
	return wait, nil
}
