package console

import (
	"context"
	"maps"
	"sync"
	"time"
)

// The sampler keeps the short histories the charts draw: every Interval it
// reads the agent's counters, each topic's end offsets and each group's
// lag, and appends rates and values to series of at most History points.
// Only the sampler's goroutine writes; pages read under the mutex.
//
// A series per topic costs History float64s: at the defaults (60 points)
// 10,000 topics hold about 10 MB. Series of topics and group partitions
// that disappear are dropped at the next sample.

// Rates are an agent's per-second rates over the last sample interval.
type Rates struct {
	ProduceBytes   float64            `json:"produce_bytes"`
	ProduceRecords float64            `json:"produce_records"`
	FetchBytes     float64            `json:"fetch_bytes"`
	FetchRecords   float64            `json:"fetch_records"`
	Requests       map[string]float64 `json:"requests"`
}

// agentHistory is an agent's rate history, oldest first.
type agentHistory struct {
	ProduceBytes []float64 `json:"produce_bytes"`
	FetchBytes   []float64 `json:"fetch_bytes"`
	// Requests is the object-store request rate of all types.
	Requests []float64 `json:"requests"`
}

type gtp struct {
	group, topic string
	partition    int32
}

type topicHistory struct {
	produced []float64 // records/s written
	consumed []float64 // records/s committed by groups
}

type sampler struct {
	src      Source
	interval time.Duration
	keep     int

	mu struct {
		sync.Mutex
		last      time.Time
		counters  Counters
		haveFirst bool
		rates     Rates
		// window holds the rates' running sums for the average request
		// rate the cost estimate uses.
		reqSum     map[string]float64
		reqSamples int
		agent      agentHistory
		topicEnd   map[string]int64
		topicCons  map[string]int64
		topics     map[string]*topicHistory
		lag        map[gtp][]float64
	}
}

func newSampler(src Source, interval time.Duration, keep int) *sampler {
	s := &sampler{src: src, interval: interval, keep: keep}
	s.mu.topics = map[string]*topicHistory{}
	s.mu.lag = map[gtp][]float64{}
	s.mu.reqSum = map[string]float64{}
	return s
}

// run samples every interval until ctx ends. Until the source is ready it
// tries every second, so the charts start soon after the agent does.
func (s *sampler) run(ctx context.Context) {
	for {
		wait := s.interval
		if !s.sample(time.Now()) {
			wait = min(time.Second, s.interval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// push appends v to series, keeping at most keep points.
func (s *sampler) push(series []float64, v float64) []float64 {
	series = append(series, v)
	if len(series) > s.keep {
		series = append(series[:0], series[len(series)-s.keep:]...)
	}
	return series
}

func rate(cur, prev float64, dt float64) float64 {
	if dt <= 0 || cur < prev {
		return 0
	}
	return (cur - prev) / dt
}

// sample takes one sample at now; it reports false if the source could
// not be read (an agent not ready yet).
func (s *sampler) sample(now time.Time) bool {
	c, err := s.src.Counters()
	if err != nil {
		return false
	}
	topics, err := s.src.Topics()
	if err != nil {
		return false
	}
	offsets, err := s.src.GroupOffsets()
	if err != nil {
		return false
	}
	ends := make(map[string]int64, len(topics))
	for _, t := range topics {
		ends[t.Name] = t.End
	}
	cons := map[string]int64{}
	for _, o := range offsets {
		cons[o.Topic] += o.Committed
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	dt := now.Sub(s.mu.last).Seconds()
	if s.mu.haveFirst {
		p := s.mu.counters
		r := Rates{
			ProduceBytes:   rate(c.ProduceBytes, p.ProduceBytes, dt),
			ProduceRecords: rate(c.ProduceRecords, p.ProduceRecords, dt),
			FetchBytes:     rate(c.FetchBytes, p.FetchBytes, dt),
			FetchRecords:   rate(c.FetchRecords, p.FetchRecords, dt),
			Requests:       map[string]float64{},
		}
		total := 0.0
		for op, n := range c.Requests {
			r.Requests[op] = rate(n, p.Requests[op], dt)
			total += r.Requests[op]
			s.mu.reqSum[op] += r.Requests[op]
		}
		s.mu.reqSamples++
		s.mu.rates = r
		s.mu.agent.ProduceBytes = s.push(s.mu.agent.ProduceBytes, r.ProduceBytes)
		s.mu.agent.FetchBytes = s.push(s.mu.agent.FetchBytes, r.FetchBytes)
		s.mu.agent.Requests = s.push(s.mu.agent.Requests, total)

		for name, end := range ends {
			h := s.mu.topics[name]
			if h == nil {
				h = &topicHistory{}
				s.mu.topics[name] = h
			}
			prevEnd, ok := s.mu.topicEnd[name]
			if !ok {
				prevEnd = end
			}
			prevCons, ok := s.mu.topicCons[name]
			if !ok {
				prevCons = cons[name]
			}
			h.produced = s.push(h.produced, rate(float64(end), float64(prevEnd), dt))
			h.consumed = s.push(h.consumed, rate(float64(cons[name]), float64(prevCons), dt))
		}
		maps.DeleteFunc(s.mu.topics, func(name string, _ *topicHistory) bool { _, ok := ends[name]; return !ok })
	}
	seen := make(map[gtp]bool, len(offsets))
	for _, o := range offsets {
		k := gtp{o.Group, o.Topic, o.Partition}
		seen[k] = true
		s.mu.lag[k] = s.push(s.mu.lag[k], float64(o.Lag))
	}
	maps.DeleteFunc(s.mu.lag, func(k gtp, _ []float64) bool { return !seen[k] })
	s.mu.counters, s.mu.last, s.mu.haveFirst = c, now, true
	s.mu.topicEnd, s.mu.topicCons = ends, cons
	return true
}

// agentRates returns the latest rates and the rate history.
func (s *sampler) agentRates() (Rates, agentHistory) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mu.rates
	r.Requests = maps.Clone(r.Requests)
	if r.Requests == nil {
		r.Requests = map[string]float64{}
	}
	h := agentHistory{
		ProduceBytes: append([]float64(nil), s.mu.agent.ProduceBytes...),
		FetchBytes:   append([]float64(nil), s.mu.agent.FetchBytes...),
		Requests:     append([]float64(nil), s.mu.agent.Requests...),
	}
	return r, h
}

// averageRequests returns the object-store request rates averaged over
// every sample since the agent started: what a month's bill extrapolates.
func (s *sampler) averageRequests() map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]float64{}
	if s.mu.reqSamples == 0 {
		return out
	}
	for op, sum := range s.mu.reqSum {
		out[op] = sum / float64(s.mu.reqSamples)
	}
	return out
}

// topic returns a topic's produced and consumed record rates.
func (s *sampler) topic(name string) (produced, consumed []float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.mu.topics[name]
	if h == nil {
		return nil, nil
	}
	return append([]float64(nil), h.produced...), append([]float64(nil), h.consumed...)
}

// lag returns a group partition's lag history.
func (s *sampler) lag(group, topic string, partition int32) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]float64(nil), s.mu.lag[gtp{group, topic, partition}]...)
}
