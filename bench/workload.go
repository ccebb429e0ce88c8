package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// words fill the message field of the record values.
var words = strings.Fields(`order payment user session checkout cart item shipped delivered
	refund warehouse inventory account login logout search click view recommend price
	discount coupon address billing invoice carrier tracking returned cancelled pending
	confirmed retry timeout upstream downstream cache hit miss region zone replica primary
	request response latency error warning info debug trace span service gateway api`)

// valuePool returns record values that compress the way application events
// do: JSON with repeated field names and a small vocabulary, plus ids and
// numbers that differ from record to record. Values of all zeros would
// flatter compression, random bytes defeat it; neither is realistic.
func valuePool(size int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	levels := []string{"info", "info", "info", "warn", "error", "debug"}
	services := []string{"checkout", "payments", "search", "catalog", "shipping", "accounts"}
	pool := make([][]byte, 4096)
	for i := range pool {
		b := make([]byte, 0, size+64)
		b = fmt.Appendf(b, `{"ts":"2026-03-%02dT%02d:%02d:%02d.%03dZ","level":%q,"service":%q,"host":"%s-%02d",`+
			`"user_id":%d,"order_id":"%016x","amount":%d.%02d,"status":%d,"latency_ms":%.2f,"msg":"`,
			1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000),
			levels[rng.IntN(len(levels))], services[rng.IntN(len(services))], services[rng.IntN(len(services))], rng.IntN(40),
			rng.IntN(10_000_000), rng.Uint64(), rng.IntN(500), rng.IntN(100),
			[]int{200, 200, 200, 201, 404, 500}[rng.IntN(6)], rng.Float64()*250)
		for len(b) < size {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = append(b[:size-2], '"', '}')
		pool[i] = b
	}
	return pool
}

// producer returns a client producing to topic the way every measurement
// does: acks=all and idempotent (franz-go's defaults), with the configured
// codec and linger.
func (r *runner) producer(ctx context.Context, seeds []string, topic string, extra ...kgo.Opt) (*kgo.Client, error) {
	c, err := codec(r.cfg.Compression)
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(c),
		kgo.ProducerLinger(r.cfg.Linger),
	}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("producer client: %w", err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("producer client: %w", err)
	}
	return cl, nil
}

// createTopic creates a topic and returns once the broker has it.
func createTopic(ctx context.Context, seeds []string, name string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 60_000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("create topic %s: %d topics in the response", name, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// tally counts acknowledged records per partition and keeps the first
// produce error, cancelling the phase on it.
type tally struct {
	cancel context.CancelFunc
	// marks are record counts whose acknowledgement times are kept in
	// mu.marked, to measure a steady state away from the ramp and the tail.
	marks []int64

	mu struct {
		sync.Mutex
		counts  []int64
		records int64
		err     error
		lat     []time.Duration
		marked  []time.Time
	}
}

func newTally(partitions int32, cancel context.CancelFunc) *tally {
	t := &tally{cancel: cancel}
	t.mu.counts = make([]int64, partitions)
	return t
}

// promise is a produce callback that counts the record.
func (t *tally) promise(rec *kgo.Record, err error) { t.ack(rec, err, -1) }

// ack counts rec; a latency of 0 or more is also kept for the percentiles.
func (t *tally) ack(rec *kgo.Record, err error, latency time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil:
		t.failLocked(fmt.Errorf("produce: %w", err))
	case rec.Partition < 0 || int(rec.Partition) >= len(t.mu.counts):
		t.failLocked(fmt.Errorf("produce: acknowledged in partition %d of %d", rec.Partition, len(t.mu.counts)))
	default:
		t.mu.counts[rec.Partition]++
		t.mu.records++
		if n := len(t.mu.marked); n < len(t.marks) && t.mu.records == t.marks[n] {
			t.mu.marked = append(t.mu.marked, time.Now())
		}
		if latency >= 0 {
			t.mu.lat = append(t.mu.lat, latency)
		}
	}
}

func (t *tally) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failLocked(err)
}

func (t *tally) failLocked(err error) {
	if t.mu.err == nil {
		t.mu.err = err
		t.cancel()
	}
}

// result returns the counts once every promise has run.
func (t *tally) result() (counts []int64, records int64, lat []time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.counts, t.mu.records, t.mu.lat, t.mu.err
}

// marked returns when each of marks was reached, as far as it was.
func (t *tally) marked() []time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.marked
}

// pace describes a producer at a fixed rate.
type pace struct {
	rate           int64 // bytes of record values per second
	warmup, length time.Duration
	// atWarm and atEnd, if set, run when the warm-up ends and when the
	// last record has been handed to the client (before it is acked).
	atWarm, atEnd func()
	// latency keeps each record's produce latency, for those due after
	// the warm-up.
	latency bool
}

// producePaced produces at a fixed rate from one goroutine. A record's
// latency runs from when it was due, not when Produce was called, so a
// producer that falls behind is not flattered (coordinated omission).
func (r *runner) producePaced(ctx context.Context, cl *kgo.Client, t *tally, p pace) {
	perRecord := time.Duration(float64(time.Second) * float64(r.cfg.RecordSize) / float64(p.rate))
	start := time.Now()
	warmAt, endAt := start.Add(p.warmup), start.Add(p.warmup+p.length)
	warmed := false
	for i := int64(0); ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * perRecord)
		if !warmed && !due.Before(warmAt) {
			warmed = true
			if p.atWarm != nil {
				p.atWarm()
			}
		}
		if !due.Before(endAt) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		rec := &kgo.Record{Value: r.pool[i%int64(len(r.pool))]}
		if p.latency && warmed {
			cl.Produce(ctx, rec, func(rec *kgo.Record, err error) { t.ack(rec, err, time.Since(due)) })
		} else {
			cl.Produce(ctx, rec, t.promise)
		}
	}
	if p.atEnd != nil {
		p.atEnd()
	}
	if err := cl.Flush(ctx); err != nil {
		t.fail(fmt.Errorf("flush producer: %w", err))
	}
}

// reader consumes a topic from its start and checks every record: each
// partition's offsets run 0, 1, 2… with no gap or duplicate, and every
// value has the record size.
type reader struct {
	cl    *kgo.Client
	size  int
	next  []int64 // next offset expected, per partition
	total int64
}

func newReader(seeds []string, topic string, partitions int32, size int, extra ...kgo.Opt) (*reader, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("consumer client: %w", err)
	}
	return &reader{cl: cl, size: size, next: make([]int64, partitions)}, nil
}

func (rd *reader) close() { rd.cl.Close() }

// stallTimeout fails a read that makes no progress for this long, well
// before the phase timeout: records that never arrive are a finding, not
// something to wait out.
const stallTimeout = 30 * time.Second

// readUntil reads until it has read want[p] records of each partition p.
// want may be unknown at first: it is taken from wantC when it arrives.
func (rd *reader) readUntil(ctx context.Context, want []int64, wantC <-chan []int64) error {
	lastTotal, lastProgress := int64(-1), time.Now()
	sum := func() int64 {
		n := int64(0)
		for _, w := range want {
			n += w
		}
		return n
	}
	for {
		if want == nil {
			select {
			case want = <-wantC:
			default:
			}
		}
		if want != nil && rd.total == sum() {
			return nil
		}
		if rd.total != lastTotal {
			lastTotal, lastProgress = rd.total, time.Now()
		}
		err := ctx.Err()
		if err == nil && time.Since(lastProgress) > stallTimeout {
			err = fmt.Errorf("no record for %v", stallTimeout)
		}
		if err != nil {
			if want == nil {
				return fmt.Errorf("read %d records, and the producer never finished: %w", rd.total, err)
			}
			return fmt.Errorf("read %d of %d records: %w", rd.total, sum(), err)
		}
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fs := rd.cl.PollFetches(pctx)
		cancel()
		if err := rd.check(fs, want); err != nil {
			return err
		}
	}
}

// check verifies and counts one poll's records.
func (rd *reader) check(fs kgo.Fetches, want []int64) error {
	var failed error
	fs.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || kerr.IsRetriable(err) {
			return // a poll that timed out, or an error the client retries
		}
		failed = errors.Join(failed, fmt.Errorf("fetch %s/%d: %w", topic, p, err))
	})
	if failed != nil {
		return failed
	}
	fs.EachRecord(func(rec *kgo.Record) {
		p := rec.Partition
		switch {
		case failed != nil:
		case p < 0 || int(p) >= len(rd.next):
			failed = fmt.Errorf("record from partition %d of %d", p, len(rd.next))
		case rec.Offset != rd.next[p]:
			failed = fmt.Errorf("partition %d: record at offset %d, want %d (a gap or a duplicate)", p, rec.Offset, rd.next[p])
		case want != nil && rec.Offset >= want[p]:
			failed = fmt.Errorf("partition %d: record at offset %d, but only %d were produced", p, rec.Offset, want[p])
		case len(rec.Value) != rd.size:
			failed = fmt.Errorf("partition %d offset %d: value of %d bytes, want %d", p, rec.Offset, len(rec.Value), rd.size)
		default:
			rd.next[p]++
			rd.total++
		}
	})
	return failed
}
