package writer

import (
	"sync"
	"time"

	"github.com/silt-io/silt/internal/clock"
)

// When the writer cuts a segment.
//
// A segment is cut when FlushBytes are buffered (a full segment is the
// cheapest PUT there is), or FlushInterval after its first batch: the
// interval bounds how long a batch waits, and so how many PUTs an agent
// makes per second whatever the number of partitions — at most one per
// interval, plus the full ones.
//
// Waiting out the interval is wasted when nothing more is coming: a
// producer that has sent everything it had and waits for the answers (at
// the end of a burst, or an idempotent producer's first requests, which it
// sends one at a time) gains nothing from a fuller segment. So the writer
// also cuts a segment once no batch has arrived for idleCut — but only
// while it has PUTs to spare: cuts by the clock, early or on time, draw on
// a budget of one per FlushInterval (with a little saved up, idleBurst),
// and an early cut is made only when the budget has one left. A steady
// trickle of small produces therefore still costs one PUT per interval,
// while a burst is answered as soon as it has all arrived. An early cut of
// at least a quarter of FlushBytes needs no budget: like a full segment, it
// is a PUT well spent (and a trickle never buffers that much in an
// interval at the rates the budget is for).
//
// The decisions are made by cutPolicy, which owns no goroutine, timer or
// clock: it is told the time of each event and answers when to wake and
// whether to cut, so its tests replay a produce pattern in simulated time.
// The run goroutine does the waiting, on timers of the injected clock
// (internal/clock).

// idleCut is how long the buffer must go without a new batch for an early
// cut.
const idleCut = 5 * time.Millisecond

// idleBurst is how many early cuts the budget saves up.
const idleBurst = 2

// cutBudget is the writer's budget of cuts made by the clock.
type cutBudget struct {
	per    time.Duration // one cut earned per this long
	tokens float64
	last   time.Time
}

func newCutBudget(per time.Duration, now time.Time) cutBudget {
	return cutBudget{per: per, tokens: idleBurst, last: now}
}

func (b *cutBudget) refill(now time.Time) {
	b.tokens = min(idleBurst, b.tokens+float64(now.Sub(b.last))/float64(b.per))
	b.last = now
}

// canCutEarly reports whether an early cut is affordable now.
func (b *cutBudget) canCutEarly(now time.Time) bool {
	b.refill(now)
	return b.tokens >= 1
}

// spend records a cut by the clock; the budget may go into debt, which
// delays the next early cut.
func (b *cutBudget) spend(now time.Time) {
	b.refill(now)
	b.tokens--
}

// cutPolicy decides when the open segment is cut. It is deterministic:
// every method takes the time of its event. It is used by the run
// goroutine only.
type cutPolicy struct {
	interval   time.Duration
	flushBytes int
	budget     cutBudget
	open       bool      // the open segment has batches
	due        time.Time // FlushInterval after its first batch
	idleAt     time.Time // idleCut after its last batch; zero once refused
}

func newCutPolicy(interval time.Duration, flushBytes int, now time.Time) *cutPolicy {
	return &cutPolicy{interval: interval, flushBytes: flushBytes, budget: newCutBudget(interval, now)}
}

// appended notes that batches arrived at now.
func (p *cutPolicy) appended(now time.Time) {
	if !p.open {
		p.open, p.due = true, now.Add(p.interval)
	}
	p.idleAt = now.Add(idleCut)
}

// wake returns when tick should next be called; zero when nothing is
// buffered.
func (p *cutPolicy) wake() time.Time {
	if !p.open {
		return time.Time{}
	}
	if !p.idleAt.IsZero() && p.idleAt.Before(p.due) {
		return p.idleAt
	}
	return p.due
}

// tick reports whether the open segment, of size bytes, is to be cut at
// now. A cut resets the policy for the next segment.
func (p *cutPolicy) tick(now time.Time, size int) bool {
	if !p.open {
		return false
	}
	if size == 0 {
		// The batches that opened it went with the last cut.
		p.cut()
		return false
	}
	switch {
	case !now.Before(p.due):
		p.budget.spend(now)
	case p.idleAt.IsZero() || now.Before(p.idleAt):
		return false
	case size >= p.flushBytes/4:
		// A large buffer is worth its PUT whenever it is cut: only small
		// early cuts draw on the budget.
	case p.budget.canCutEarly(now):
		p.budget.spend(now)
	default:
		p.idleAt = time.Time{} // no budget: wait for the interval or the next batch
		return false
	}
	p.cut()
	return true
}

// cut resets the policy after a cut, whatever caused it.
func (p *cutPolicy) cut() {
	p.open, p.due, p.idleAt = false, time.Time{}, time.Time{}
}

// run cuts segments: as soon as FlushBytes are buffered, FlushInterval
// after a segment's first batch, or earlier once batches stop arriving
// while the cut budget allows. On close it cuts what is left.
func (w *Writer) run() {
	var commits sync.WaitGroup
	commits.Go(w.commitLoop)
	defer func() {
		close(w.pipeline)
		commits.Wait()
		w.finishing.Wait()
		close(w.runDone)
	}()
	policy := newCutPolicy(w.env.FlushInterval, w.env.FlushBytes, w.clock.Now())
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
	for {
		if at := policy.wake(); !at.Equal(armedAt) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			if !at.IsZero() {
				timer = w.clock.AfterFunc(at.Sub(w.clock.Now()), func() { signal(wakeC) })
			}
			armedAt = at
		}
		select {
		case <-w.appendC:
			policy.appended(w.clock.Now())
		case <-w.fullC:
			policy.cut()
			w.cutAndShip()
		case <-wakeC:
			armedAt = time.Time{} // fired: arm again if still needed
			if policy.tick(w.clock.Now(), w.openBytes()) {
				w.cutAndShip()
			}
		case <-w.closeC:
			w.cutAndShip()
			return
		}
	}
}

// openBytes returns the size of the open segment.
func (w *Writer) openBytes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.open.bytes
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
