package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/cache"
	"github.com/silt-io/silt/chunkread"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// committerProposer commits through a real journal.Committer, as the
// committer agent does; its Pending is the journal's.
type committerProposer struct{ c *journal.Committer }

func (p committerProposer) Propose(ctx context.Context, cmds []journal.Command) Pending {
	return p.c.Propose(ctx, cmds)
}

// failingBucket refuses every Put: a store that is down.
type failingBucket struct{ objstore.Bucket }

func (failingBucket) Put(context.Context, string, []byte) (string, error) {
	return "", errors.New("the store is down")
}

// rig is a writer over a journal on a memory bucket, with a fake clock.
type rig struct {
	w       *Writer
	clock   *armClock
	bucket  objstore.Bucket
	journal *journal.Log
	cache   *cache.Cache
	topic   journal.TopicID
}

func newRig(t *testing.T, configure func(*Env)) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{clock: newArmClock(), bucket: mem.New()}
	lg, err := journal.Open(ctx, r.bucket, journal.Options{WriterID: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r.journal = lg
	committer := journal.NewCommitter(lg, journal.CommitterOptions{})
	t.Cleanup(func() { committer.Close() })
	_, res, err := committer.Submit(ctx, []journal.Command{{CreateTopic: &journal.CreateTopic{Name: "t", Partitions: 2}}})
	if err != nil || res[0].Code != 0 {
		t.Fatalf("create topic: %v %v", err, res)
	}
	r.topic = res[0].TopicID
	c, err := cache.New(cache.Options{MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r.cache = c
	env := Env{
		Logger: slog.New(slog.DiscardHandler), Clock: r.clock, Bucket: r.bucket, Cache: c,
		Proposer: committerProposer{committer}, IsCommitter: func() bool { return true },
		FlushInterval: 2 * time.Second, FlushBytes: 1 << 20, CommitTimeout: 10 * time.Second,
	}
	if configure != nil {
		configure(&env)
	}
	r.w = New(env)
	t.Cleanup(r.w.Close)
	return r
}

// batch is a producer's batch of n records.
func batch(t *testing.T, n int, tag string) ([]byte, recordbatch.Header) {
	t.Helper()
	recs := make([]recordbatch.Record, n)
	for i := range recs {
		recs[i] = recordbatch.Record{Value: fmt.Appendf(nil, "%s-%d", tag, i), Timestamp: 1}
	}
	b, err := recordbatch.Encode(recordbatch.Header{FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, BaseSequence: -1}, recs, recordbatch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	h, err := recordbatch.Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, h
}

func (r *rig) append(t *testing.T, partition int32, sizes ...int) *Wait {
	t.Helper()
	var batches [][]byte
	var headers []recordbatch.Header
	for i, n := range sizes {
		b, h := batch(t, n, fmt.Sprintf("p%d-%d", partition, i))
		batches, headers = append(batches, b), append(headers, h)
	}
	w, err := r.w.Append("t", r.topic, partition, batches, headers, false)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func await(t *testing.T, w *Wait) (int16, int64) {
	t.Helper()
	select {
	case <-w.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	code, base, _ := w.Result()
	return code, base
}

// Committed batches are answered with their offsets, and the chunks the
// writer caches are byte for byte what a reader gets from the bucket with
// chunkread: tailing consumers see exactly what a GET would give them.
func TestCommitAnswersAndCaches(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inline int
	}{
		{"uploaded segment", 0},
		{"inline segment", 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// FlushBytes is the three appends' size: the last cuts the
			// segment, whatever the clock. A PUT budget makes the policy
			// the priced stores' (an early cut only once idle, on a clock
			// that does not move here), so no group-commit cut can take
			// the first append alone, however the goroutines interleave.
			total := 0
			for _, b := range []struct {
				n   int
				tag string
			}{{3, "p0-0"}, {2, "p0-1"}, {1, "p1-0"}, {4, "p0-0"}} {
				data, _ := batch(t, b.n, b.tag)
				total += len(data)
			}
			r := newRig(t, func(e *Env) { e.InlineSegmentBytes, e.FlushBytes, e.PutBudget = tc.inline, total, 8 })
			a := r.append(t, 0, 3, 2)
			b := r.append(t, 1, 1)
			c := r.append(t, 0, 4)
			for _, want := range []struct {
				w    *Wait
				base int64
			}{{a, 0}, {b, 0}, {c, 5}} {
				if code, base := await(t, want.w); code != 0 || base != want.base {
					t.Errorf("answered code %d base %d, want 0 and %d", code, base, want.base)
				}
			}
			var chunks []journal.Chunk
			r.journal.View(func(s *journal.State) {
				for p := range int32(2) {
					chunks = append(chunks, s.Partition("t", p).Chunks...)
				}
			})
			if len(chunks) != 2 {
				t.Fatalf("%d chunks committed, want 2", len(chunks))
			}
			if inlined := journal.IsEntryKey(chunks[0].Object); inlined != (tc.inline > 0) {
				t.Errorf("chunk in %s: inline %v, want %v", chunks[0].Object, inlined, tc.inline > 0)
			}
			for _, ch := range chunks {
				cached, ok := r.cache.Get(CacheKey(ch.Object, ch.Pos))
				if !ok {
					t.Fatalf("chunk %s@%d not cached", ch.Object, ch.Pos)
				}
				read, err := chunkread.Read(context.Background(), r.bucket, ch)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(cached, read) {
					t.Errorf("chunk %s@%d: the cache differs from the bucket", ch.Object, ch.Pos)
				}
			}
		})
	}
}

// Uncompressed batches are zstd-compressed before they are written only
// where the writer is told to (the agent tells it on a store that charges
// per request); otherwise they are stored as the producer sent them, and
// read back the same either way.
func TestCompressOnlyWhenTold(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			r := newRig(t, func(e *Env) { e.Compress = compress })
			if code, _ := await(t, r.append(t, 0, 500)); code != 0 {
				t.Fatalf("answered code %d", code)
			}
			var chunks []journal.Chunk
			r.journal.View(func(s *journal.State) { chunks = s.Partition("t", 0).Chunks })
			if len(chunks) != 1 {
				t.Fatalf("%d chunks committed, want 1", len(chunks))
			}
			ch := chunks[0]
			if stored := ch.Codec == uint8(segment.CodecZstd) && ch.Len < ch.RawLen; stored != compress {
				t.Errorf("chunk codec %d, %d of %d bytes stored: compressed %v, want %v", ch.Codec, ch.Len, ch.RawLen, stored, compress)
			}
			want, _ := batch(t, 500, "p0-0")
			read, err := chunkread.Read(context.Background(), r.bucket, ch)
			if err != nil {
				t.Fatal(err)
			}
			if len(read) != len(want) || !bytes.Equal(read[recordbatch.HeaderSize:], want[recordbatch.HeaderSize:]) {
				t.Errorf("read back %d bytes, want the %d produced", len(read), len(want))
			}
		})
	}
}

// On a store without a per-request price, a lone produce is cut, written
// and answered at once: no clock is waited for (the fake one never moves).
func TestGroupCommitCutsAtOnce(t *testing.T) {
	r := newRig(t, nil)
	for i := range 3 {
		if code, base := await(t, r.append(t, 0, 1)); code != 0 || base != int64(i) {
			t.Errorf("produce %d: code %d base %d", i, code, base)
		}
	}
}

// On a priced store, a lone produce is cut once the buffer has been idle
// for idleCut, long before the flush interval; until then nothing is cut.
func TestIdleCut(t *testing.T) {
	r := newRig(t, func(e *Env) { e.PutBudget = 8 })
	w := r.append(t, 0, 1)
	start := r.clock.Now()
	r.clock.waitArmed(t, start.Add(idleCut))
	r.clock.Advance(idleCut - time.Millisecond)
	select {
	case <-w.Done():
		t.Fatal("answered before the buffer was idle")
	case <-time.After(20 * time.Millisecond):
	}
	r.clock.Advance(time.Millisecond)
	if code, base := await(t, w); code != 0 || base != 0 {
		t.Errorf("code %d base %d", code, base)
	}
}

// A full buffer is cut without waiting for any clock.
func TestFullCut(t *testing.T) {
	r := newRig(t, func(e *Env) { e.FlushBytes = 100 })
	if code, _ := await(t, r.append(t, 0, 10)); code != 0 {
		t.Errorf("code %d", code)
	}
}

// Close cuts and commits what is buffered and answers it; appends after it
// are refused.
func TestCloseFlushes(t *testing.T) {
	r := newRig(t, nil)
	w := r.append(t, 1, 2)
	r.w.Close()
	if code, _ := await(t, w); code != 0 {
		t.Errorf("code %d", code)
	}
	b, h := batch(t, 1, "late")
	if _, err := r.w.Append("t", r.topic, 0, [][]byte{b}, []recordbatch.Header{h}, false); !errors.Is(err, ErrClosed) {
		t.Errorf("append after Close: %v, want ErrClosed", err)
	}
}

// A segment that cannot be uploaded fails its producers with a retriable
// code, and nothing of it is committed.
func TestUploadFailure(t *testing.T) {
	r := newRig(t, func(e *Env) {
		e.Bucket = failingBucket{e.Bucket.(objstore.Bucket)}
		e.CommitTimeout = 100 * time.Millisecond
		e.FlushBytes = 100
	})
	if code, _ := await(t, r.append(t, 0, 10)); code != kerr.KafkaStorageError.Code && code != kerr.RequestTimedOut.Code {
		t.Errorf("code %d, want KAFKA_STORAGE_ERROR or REQUEST_TIMED_OUT", code)
	}
	r.journal.View(func(s *journal.State) {
		if n := len(s.Partition("t", 0).Chunks); n != 0 {
			t.Errorf("%d chunks committed", n)
		}
	})
}
