package agent

import (
	"sync"
	"time"
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

// idleCut is how long the buffer must go without a new batch for an early
// cut.
const idleCut = 5 * time.Millisecond

// idleBurst is how many early cuts the budget saves up.
const idleBurst = 2

// cutBudget is the writer's budget of cuts made by the clock. It is used
// by the run goroutine only.
type cutBudget struct {
	per    time.Duration // one cut earned per this long
	tokens float64
	last   time.Time
}

func newCutBudget(per time.Duration) *cutBudget {
	return &cutBudget{per: per, tokens: idleBurst, last: time.Now()}
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

// run cuts segments: as soon as FlushBytes are buffered, FlushInterval
// after a segment's first batch, or earlier once batches stop arriving
// while the cut budget allows. On close it cuts what is left.
func (w *writer) run() {
	var commits sync.WaitGroup
	commits.Go(w.commitLoop)
	defer func() {
		close(w.pipeline)
		commits.Wait()
		w.finishing.Wait()
		close(w.runDone)
	}()
	budget := newCutBudget(w.a.cfg.FlushInterval)
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for {
		select {
		case <-w.dataC:
		case <-w.closeC:
			w.cutAndShip()
			return
		}
		interval := time.NewTimer(w.a.cfg.FlushInterval)
		idle.Reset(idleCut)
	wait:
		for {
			select {
			case <-interval.C:
				budget.spend(time.Now())
				break wait
			case <-w.fullC:
				break wait
			case <-w.appendC:
				idle.Reset(idleCut)
			case <-idle.C:
				// A large buffer is worth its PUT whenever it is cut:
				// only small early cuts draw on the budget.
				if w.openBytes() >= w.a.cfg.FlushBytes/4 {
					break wait
				}
				if now := time.Now(); budget.canCutEarly(now) {
					budget.spend(now)
					break wait
				}
			case <-w.closeC:
				break wait
			}
		}
		interval.Stop()
		idle.Stop()
		w.cutAndShip()
	}
}

// openBytes returns the size of the open segment.
func (w *writer) openBytes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.open.bytes
}

// close stops accepting batches, then cuts, uploads and commits what is
// buffered and answers every waiting producer. It is idempotent.
func (w *writer) close() {
	w.mu.Lock()
	if !w.mu.closed {
		w.mu.closed = true
		close(w.closeC)
		w.mu.room.Broadcast()
	}
	w.mu.Unlock()
	<-w.runDone
}
