package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/objstore"
)

// requestsSince returns the bucket requests made since before, or nil when
// the target's requests are not counted.
func requestsSince(t Target, before objstore.Counts, counted bool) *Requests {
	if !counted {
		return nil
	}
	now, _ := t.Requests()
	return requestsOf(now.Sub(before))
}

// produceThroughput produces ProduceBytes from Producers clients as fast
// as they go. Its topic is the one the consume steps read back.
func (r *runner) produceThroughput(ctx context.Context, t Target, rep *Report, _ bool) error {
	topic := r.topic("throughput")
	if err := createTopic(ctx, t.Seeds(), topic, r.cfg.Partitions); err != nil {
		return err
	}
	var (
		before  objstore.Counts
		counted bool
	)
	v, err := r.produceVolume(ctx, t.Seeds(), topic, r.cfg.Partitions, r.cfg.ProduceBytes,
		func() { before, counted = t.Requests() })
	if err != nil {
		return err
	}
	if r.counts == nil {
		r.counts = map[Target][]int64{}
	}
	r.counts[t] = v.counts
	rep.Produce, rep.ProduceSteady = v.phase, v.steady
	rep.Produce.Requests = requestsSince(t, before, counted)
	return nil
}

// volume is what produceVolume measured.
type volume struct {
	counts []int64 // records acknowledged per partition
	phase  Phase   // the whole volume, without requests
	steady *Phase  // from 10% to 90% acknowledged; nil if too short to tell
}

// produceVolume produces bytes of record values to a topic of partitions
// partitions from Producers clients bootstrapping with seeds (with extra
// client options, such as TLS), as fast as they go, and checks every
// record was acknowledged. atStart, if set, runs once the clients are
// connected, just before the first record.
func (r *runner) produceVolume(ctx context.Context, seeds []string, topic string, partitions int32, bytes int64, atStart func(), extra ...kgo.Opt) (volume, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clients := make([]*kgo.Client, r.cfg.Producers)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	for i := range clients {
		var err error
		if clients[i], err = r.producer(ctx, seeds, topic, extra...); err != nil {
			return volume{}, err
		}
	}
	records := bytes / int64(r.cfg.RecordSize)
	tl := newTally(partitions, cancel)
	tl.marks = []int64{records / 10, records - records/10}
	if atStart != nil {
		atStart()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, cl := range clients {
		share := records / int64(len(clients))
		if int64(i) < records%int64(len(clients)) {
			share++
		}
		wg.Go(func() {
			for j := range share {
				if ctx.Err() != nil {
					break
				}
				cl.Produce(ctx, &kgo.Record{Value: r.pool[(int64(i)+j*int64(len(clients)))%int64(len(r.pool))]}, tl.promise)
			}
			if err := cl.Flush(ctx); err != nil {
				tl.fail(fmt.Errorf("flush producer: %w", err))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	counts, acked, _, err := tl.result()
	if err != nil {
		return volume{}, err
	}
	if acked != records {
		return volume{}, fmt.Errorf("%d records acknowledged of %d produced", acked, records)
	}
	v := volume{counts: counts, phase: Phase{Records: acked, Bytes: acked * int64(r.cfg.RecordSize), Duration: elapsed}}
	if m := tl.marked(); len(m) == 2 && m[1].After(m[0]) {
		n := tl.marks[1] - tl.marks[0]
		v.steady = &Phase{Records: n, Bytes: n * int64(r.cfg.RecordSize), Duration: m[1].Sub(m[0])}
	}
	return v, nil
}

// readBack reads the throughput topic back from t's current agents.
func (r *runner) readBack(ctx context.Context, t Target) (Phase, error) {
	counts := r.counts[t]
	before, counted := t.Requests()
	start := time.Now()
	rd, err := newReader(t.Seeds(), r.topic("throughput"), r.cfg.Partitions, r.cfg.RecordSize)
	if err != nil {
		return Phase{}, err
	}
	defer rd.close()
	if err := rd.readUntil(ctx, counts, nil); err != nil {
		return Phase{}, err
	}
	return Phase{Records: rd.total, Bytes: rd.total * int64(r.cfg.RecordSize), Duration: time.Since(start),
		Requests: requestsSince(t, before, counted)}, nil
}

// cachedConsume reads the throughput topic back from the agent that wrote
// it, which still has it cached.
func (r *runner) cachedConsume(ctx context.Context, t Target, rep *Report, _ bool) error {
	p, err := r.readBack(ctx, t)
	rep.Cached = p
	return err
}

// tailConsume reads a topic while a producer writes it at SteadyRate.
func (r *runner) tailConsume(ctx context.Context, t Target, rep *Report, _ bool) error {
	topic := r.topic("tail")
	if err := createTopic(ctx, t.Seeds(), topic, r.cfg.Partitions); err != nil {
		return err
	}
	rd, err := newReader(t.Seeds(), topic, r.cfg.Partitions, r.cfg.RecordSize)
	if err != nil {
		return err
	}
	defer rd.close()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cl, err := r.producer(pctx, t.Seeds(), topic)
	if err != nil {
		return err
	}
	defer cl.Close()

	before, counted := t.Requests()
	start := time.Now()
	wantC := make(chan []int64, 1)
	readErr := make(chan error, 1)
	go func() { readErr <- rd.readUntil(pctx, nil, wantC) }()
	tl := newTally(r.cfg.Partitions, cancel)
	r.producePaced(pctx, cl, tl, pace{rate: r.cfg.SteadyRate, length: r.cfg.SteadyDuration})
	counts, _, _, perr := tl.result()
	if perr == nil {
		wantC <- counts
	} else {
		cancel()
	}
	err = <-readErr // readUntil ends: all read, or pctx cancelled
	if err := errors.Join(perr, err); err != nil {
		return err
	}
	rep.Tail = Phase{Records: rd.total, Bytes: rd.total * int64(r.cfg.RecordSize), Duration: time.Since(start),
		Requests: requestsSince(t, before, counted)}
	return nil
}

// putCount counts PUTs while producing at SteadyRate to Partitions and to
// ManyPartitions partitions, spreading records over all of them, for a
// target whose bucket requests are counted.
func (r *runner) putCount(ctx context.Context, t Target, rep *Report, _ bool) error {
	if _, counted := t.Requests(); !counted {
		return nil
	}
	for _, parts := range []int32{r.cfg.Partitions, r.cfg.ManyPartitions} {
		p, err := r.putCountOne(ctx, t, parts)
		if err != nil {
			return fmt.Errorf("%d partitions: %w", parts, err)
		}
		rep.Puts = append(rep.Puts, p)
	}
	return nil
}

func (r *runner) putCountOne(ctx context.Context, t Target, parts int32) (PutRate, error) {
	topic := r.topic(fmt.Sprintf("puts-%d", parts))
	if err := createTopic(ctx, t.Seeds(), topic, parts); err != nil {
		return PutRate{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cl, err := r.producer(ctx, t.Seeds(), topic, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		return PutRate{}, err
	}
	defer cl.Close()
	var (
		c0, c1     objstore.Counts
		s0, s1     uint64
		seqOK      bool
		warm, done time.Time
	)
	mark := func(c *objstore.Counts, s *uint64, at *time.Time) func() {
		return func() {
			*c, _ = t.Requests()
			*s, seqOK = t.JournalSeq()
			*at = time.Now()
		}
	}
	tl := newTally(parts, cancel)
	r.producePaced(ctx, cl, tl, pace{rate: r.cfg.SteadyRate, warmup: r.cfg.SteadyWarmup, length: r.cfg.SteadyDuration,
		atWarm: mark(&c0, &s0, &warm), atEnd: mark(&c1, &s1, &done)})
	_, records, _, err := tl.result()
	if err != nil {
		return PutRate{}, err
	}
	p := PutRate{Partitions: parts, Records: records, Duration: done.Sub(warm), FlushInterval: t.FlushInterval(),
		Budget: t.PutBudget(), Puts: c1.Sub(c0).Requests[objstore.OpPut], JournalEntries: -1}
	if seqOK {
		p.JournalEntries = int64(s1 - s0)
	}
	return p, nil
}

// coldConsume reads the throughput topic back through a fresh agent with
// an empty cache. The reference, which has no cache, reads it again; a
// silt target that cannot restart its agents has no cold read.
func (r *runner) coldConsume(ctx context.Context, t Target, rep *Report, ref bool) error {
	restarted, err := t.Restart(ctx, 0)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	if !restarted && !ref {
		return nil
	}
	p, err := r.readBack(ctx, t)
	if err != nil {
		return err
	}
	rep.Cold = &p
	return nil
}

// produceLatency measures per-record produce latency at LatencyRate, with
// silt's agents flushing every LatencyFlushInterval where they can be
// restarted so.
func (r *runner) produceLatency(ctx context.Context, t Target, rep *Report, ref bool) error {
	if !ref {
		if _, err := t.Restart(ctx, r.cfg.LatencyFlushInterval); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	topic := r.topic("latency")
	if err := createTopic(ctx, t.Seeds(), topic, r.cfg.Partitions); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cl, err := r.producer(ctx, t.Seeds(), topic)
	if err != nil {
		return err
	}
	defer cl.Close()
	tl := newTally(r.cfg.Partitions, cancel)
	r.producePaced(ctx, cl, tl, pace{rate: r.cfg.LatencyRate, warmup: r.cfg.LatencyWarmup, length: r.cfg.LatencyDuration, latency: true})
	_, _, lat, err := tl.result()
	if err != nil {
		return err
	}
	if len(lat) == 0 {
		return errors.New("no records after the warm-up")
	}
	l := percentiles(lat)
	l.FlushInterval, l.PutBudget = t.FlushInterval(), t.PutBudget()
	l.Rate = float64(int64(len(lat))*int64(r.cfg.RecordSize)) / r.cfg.LatencyDuration.Seconds()
	rep.Latency = l
	return nil
}

// percentiles sorts lat and returns its count, p50, p99, p99.9 and maximum.
func percentiles(lat []time.Duration) Latency {
	slices.Sort(lat)
	pct := func(q float64) time.Duration {
		i := int(q*float64(len(lat))+0.999999) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	return Latency{Records: int64(len(lat)), P50: pct(0.50), P99: pct(0.99), P999: pct(0.999), Max: lat[len(lat)-1]}
}
