package writer

import (
	"sync"
	"time"

	"github.com/silt-io/silt/internal/clock"
)

// When the writer cuts a segment.
//
// The answer depends on what a write costs the store. Every policy cuts a
// segment once FlushBytes are buffered (a full segment is the cheapest PUT
// there is) and FlushInterval after its first batch at the latest (the
// longest a batch waits). In between:
//
//   - A store without a per-request price (a local directory, memory) is
//     written group-commit style, the way databases group their fsyncs: the
//     open segment is cut as soon as no segment is in flight (cut and not
//     yet committed), so a lone produce is written at once and everything
//     that arrives while a write is in flight goes into the next one. Under
//     load the segments grow by themselves; nothing waits for a clock.
//   - A store that charges per request (S3, MinIO) is written within a
//     budget of PUTs per second per agent (PutBudget). The open segment is
//     cut once no batch has arrived for idleCut, as soon as the budget can
//     pay for the PUTs the cut causes: one when the segment goes inside the
//     committer's journal entry, two otherwise (the segment, and the
//     journal entry committing it, counted in full though the committer may
//     share it with other agents' segments). A steady trickle of small
//     produces thus costs the budget and no more, while light traffic is
//     answered within idleCut plus the store's latency.
//
// Cuts the budget cannot refuse (a full buffer, the interval, a buffer of
// at least a quarter of FlushBytes, worth its PUT like a full one) are still
// paid for, the budget going into debt (at most a second's worth), so the
// early cuts that follow them wait: the rate stays within the budget unless
// the produced bytes alone need more.
//
// The decisions are made by cutPolicy, which owns no goroutine, timer or
// clock: it is told the time of each event and answers when to wake and
// whether to cut, so its tests replay a produce pattern in simulated time.
// The run goroutine does the waiting, on timers of the injected clock
// (internal/clock).
//
// Rejected: an idle wait on free stores too (every lone produce would wait
// it out for nothing; the write in flight is the natural batching window),
// and a budget counted in cuts rather than PUTs (an inline segment costs
// half what an uploaded one does, and the bill counts PUTs).

// idleCut is how long the buffer must go without a new batch for an early
// cut on a priced store.
const idleCut = 5 * time.Millisecond

// groupDepth is how many segments may be in flight (cut, not yet committed)
// before a store without a per-request price stops cutting early: with one,
// everything arriving during a write goes into the next.
const groupDepth = 1

// putBudget is a token bucket of PUTs: rate a second, saving up to one
// second's worth, owing up to as much.
type putBudget struct {
	rate   float64 // PUTs a second
	burst  float64
	tokens float64
	last   time.Time
}

func newPutBudget(rate float64, now time.Time) *putBudget {
	burst := max(rate, 2)
	return &putBudget{rate: rate, burst: burst, tokens: burst, last: now}
}

func (b *putBudget) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
}

// affordableAt returns the earliest time, not before now, at which cost
// PUTs are affordable.
func (b *putBudget) affordableAt(now time.Time, cost float64) time.Time {
	b.refill(now)
	if b.tokens >= cost {
		return now
	}
	return now.Add(time.Duration((cost - b.tokens) / b.rate * float64(time.Second)))
}

// spend pays for cost PUTs, into debt if need be.
func (b *putBudget) spend(now time.Time, cost float64) {
	b.refill(now)
	b.tokens = max(b.tokens-cost, -b.burst)
}

// cutReason says why a segment was cut, for the metrics.
type cutReason int

const (
	cutNone     cutReason = iota
	cutGroup              // free store, no write in flight
	cutIdle               // priced store, idle and within the budget
	cutLarge              // priced store, idle with a quarter of FlushBytes
	cutInterval           // FlushInterval after the first batch
	cutFull               // FlushBytes buffered
)

var cutReasons = [...]string{cutNone: "none", cutGroup: "group", cutIdle: "idle", cutLarge: "large",
	cutInterval: "interval", cutFull: "full"}

func (r cutReason) String() string { return cutReasons[r] }

// cutPolicy decides when the open segment is cut. It is deterministic:
// every method takes the time of its event. It is used by the run
// goroutine only.
type cutPolicy struct {
	interval   time.Duration
	flushBytes int
	budget     *putBudget // nil: the store has no per-request price
	open       bool       // the open segment has batches
	due        time.Time  // FlushInterval after its first batch
	idleAt     time.Time  // priced: idleCut after its last batch, or when the budget allows
	inflight   int        // segments cut and not yet committed
}

// newCutPolicy returns the policy for a store with a budget of putBudget
// PUTs a second; 0 means the store has no per-request price.
func newCutPolicy(interval time.Duration, flushBytes int, putBudget float64, now time.Time) *cutPolicy {
	p := &cutPolicy{interval: interval, flushBytes: flushBytes}
	if putBudget > 0 {
		p.budget = newPutBudget(putBudget, now)
	}
	return p
}

// appended notes that batches arrived at now.
func (p *cutPolicy) appended(now time.Time) {
	if !p.open {
		p.open, p.due = true, now.Add(p.interval)
	}
	p.idleAt = now.Add(idleCut)
}

// finished notes that a segment cut earlier has been committed (or failed).
func (p *cutPolicy) finished() {
	if p.inflight > 0 {
		p.inflight--
	}
}

// wake returns when tick should next be called (possibly now or earlier);
// zero when nothing is buffered.
func (p *cutPolicy) wake(now time.Time) time.Time {
	switch {
	case !p.open:
		return time.Time{}
	case p.budget == nil && p.inflight < groupDepth:
		return now
	case p.budget != nil && p.idleAt.Before(p.due):
		return p.idleAt
	}
	return p.due
}

// tick reports whether the open segment, of size bytes, is to be cut at
// now, and why; a cut of a priced store costs cost PUTs. A cut resets the
// policy for the next segment.
func (p *cutPolicy) tick(now time.Time, size int, cost float64) cutReason {
	if !p.open {
		return cutNone
	}
	if size == 0 {
		// The batches that opened it went with the last cut.
		p.reset()
		return cutNone
	}
	reason := cutNone
	switch {
	case !now.Before(p.due):
		reason = cutInterval
	case p.budget == nil:
		if p.inflight < groupDepth {
			reason = cutGroup
		}
	case now.Before(p.idleAt):
	case size >= p.flushBytes/4:
		reason = cutLarge
	default:
		if at := p.budget.affordableAt(now, cost); at.After(now) {
			p.idleAt = at // wait for the budget (or the interval, or more batches)
		} else {
			reason = cutIdle
		}
	}
	if reason != cutNone {
		p.cut(now, cost)
	}
	return reason
}

// cut records a cut at now costing cost PUTs, whatever caused it, and
// resets the policy for the next segment.
func (p *cutPolicy) cut(now time.Time, cost float64) {
	if p.budget != nil {
		p.budget.spend(now, cost)
	}
	p.inflight++
	p.reset()
}

func (p *cutPolicy) reset() {
	p.open, p.due, p.idleAt = false, time.Time{}, time.Time{}
}

// run cuts segments as the policy decides; on close it cuts what is left.
func (w *Writer) run() {
	var commits sync.WaitGroup
	commits.Go(w.commitLoop)
	defer func() {
		close(w.pipeline)
		commits.Wait()
		w.finishing.Wait()
		close(w.runDone)
	}()
	policy := newCutPolicy(w.env.FlushInterval, w.env.FlushBytes, w.env.PutBudget, w.clock.Now())
	// The timer only wakes the loop; tick decides by the time, so a late
	// or stale wake-up is harmless.
	wakeC := make(chan struct{}, 1)
	var (
		timer   clock.Timer
		armedAt time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	ship := func(reason cutReason) {
		if w.cutAndShip() {
			w.metrics.cuts.WithLabelValues(reason.String()).Inc()
		} else {
			policy.finished() // nothing was in flight for it
		}
	}
	for {
		now := w.clock.Now()
		at := policy.wake(now)
		if !at.IsZero() && !at.After(now) {
			if reason := policy.tick(now, w.openBytes(), w.cutCost()); reason != cutNone {
				ship(reason)
			}
			at = policy.wake(now)
			if !at.IsZero() && !at.After(now) {
				at = time.Time{} // waiting for a write in flight, not the clock
			}
		}
		if !at.Equal(armedAt) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			if !at.IsZero() {
				timer = w.clock.AfterFunc(at.Sub(now), func() { signal(wakeC) })
			}
			armedAt = at
		}
		select {
		case <-w.appendC:
			policy.appended(w.clock.Now())
		case <-w.finishedC:
			for range w.takeFinished() {
				policy.finished()
			}
		case <-w.fullC:
			policy.cut(w.clock.Now(), w.cutCost())
			ship(cutFull)
		case <-wakeC:
			armedAt = time.Time{} // fired: arm again if still needed
		case <-w.closeC:
			w.cutAndShip()
			return
		}
	}
}

// cutCost returns the PUTs cutting the open segment now would cause: one
// if it would go inside this agent's journal entry, else two (see
// shouldInline; the buffered size stands for the built segment's).
func (w *Writer) cutCost() float64 {
	if w.env.PutBudget <= 0 {
		return 0
	}
	if w.shouldInline(w.openBytes()) {
		return 1
	}
	return 2
}

// openBytes returns the size of the open segment.
func (w *Writer) openBytes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.open.bytes
}

// takeFinished returns how many segments finished since it was last called.
func (w *Writer) takeFinished() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.mu.finished
	w.mu.finished = 0
	return n
}

// Close stops accepting batches, then cuts, uploads and commits what is
// buffered and answers every waiting producer. It is idempotent and waits.
func (w *Writer) Close() {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.mu.closed = true
		close(w.closeC)
		w.mu.room.Broadcast()
		w.mu.Unlock()
	})
	<-w.runDone
}
