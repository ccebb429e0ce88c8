package sharegroups

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// hosted is a share-partition at its owner: its window, the lock timer,
// and the writes of its state to the journal.
//
// Writes are batched per share-partition: at most one is in flight, and a
// change made meanwhile (acknowledgements of many consumers, acquisitions,
// lock timeouts) goes out in the next, which carries the whole window. An
// acknowledgement is answered once a write that includes it is applied,
// so an acknowledged record is never delivered again, whoever owns the
// share-partition next. Acquisitions are written too, without waiting, so
// delivery counts survive a move up to the last write.
type hosted struct {
	s     *Service
	key   spKey
	claim journal.GroupClaim // the claim it was loaded under

	mu      sync.Mutex
	w       window       // guarded by mu
	timer   clock.Timer  // guarded by mu; the next lock expiry
	timerAt time.Time    // guarded by mu
	dirty   bool         // guarded by mu; changed since the last write began
	writing bool         // guarded by mu
	waiters []chan int16 // guarded by mu; told the outcome of the next write
	gone    bool         // guarded by mu; dropped: no more writes
	total   tally        // guarded by mu; since loaded, for the metrics
	retired bool         // guarded by mu; total handed to Service.retire
}

func (h *hosted) claimed() journal.GroupClaim { return h.claim }

// drop stops the share-partition: no more timers or writes. Acks waiting
// for a write that will not happen are told NOT_LEADER_OR_FOLLOWER.
func (h *hosted) drop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.retired {
		h.retired = true
		h.s.retire(h.key.group, h.total)
	}
	h.gone = true
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if !h.writing {
		for _, w := range h.waiters {
			w <- kerr.NotLeaderForPartition.Code
		}
		h.waiters = nil
	}
}

// acquire takes records for member (see window.acquire).
func (h *hosted) acquire(member string, logStart, logEnd int64, l limits, lock time.Duration) []span {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		return nil
	}
	h.w.clamp(logStart)
	spans := h.w.acquire(member, logEnd, l, h.s.clock.Now().Add(lock), &h.total)
	if len(spans) > 0 {
		h.changedLocked(nil)
		h.armLocked()
	}
	return spans
}

// undo gives back what a read could not deliver (see window.undo).
func (h *hosted) undo(member string, spans []span, last int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.w.undo(member, spans, last, &h.total)
	h.changedLocked(nil)
}

// ackBatch is one acknowledgement batch of a request.
type ackBatch struct {
	first, last int64
	types       []int8
}

// ack applies member's batches in order and returns the first failure's
// code, and a channel that receives the outcome of the write that makes
// them durable (nil if nothing changed).
func (h *hosted) ack(member string, batches []ackBatch, l limits, lock time.Duration) (int16, <-chan int16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		return kerr.NotLeaderForPartition.Code, nil
	}
	var code int16
	changed := false
	renew := h.s.clock.Now().Add(lock)
	for _, b := range batches {
		if c := h.w.ack(member, b.first, b.last, b.types, l, renew, &h.total); c != 0 {
			if code == 0 {
				code = c
			}
			continue
		}
		changed = true
	}
	if !changed {
		return code, nil
	}
	ch := make(chan int16, 1)
	h.changedLocked(ch)
	h.armLocked()
	return code, ch
}

// releaseMember releases member's records when its session closes.
func (h *hosted) releaseMember(member string, l limits) <-chan int16 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone || !h.w.releaseMember(member, l, &h.total) {
		return nil
	}
	ch := make(chan int16, 1)
	h.changedLocked(ch)
	return ch
}

// armLocked sets the timer for the earliest lock still held.
func (h *hosted) armLocked() {
	if h.gone {
		return
	}
	var next time.Time
	for i := range h.w.recs {
		if r := &h.w.recs[i]; r.state == acquired && (next.IsZero() || r.deadline.Before(next)) {
			next = r.deadline
		}
	}
	if next.IsZero() || (h.timer != nil && h.timerAt.Equal(next)) {
		return
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	h.timerAt = next
	h.timer = h.s.clock.AfterFunc(next.Sub(h.s.clock.Now()), h.expire)
}

// expire releases the records whose locks have run out.
func (h *hosted) expire() {
	h.mu.Lock()
	h.timer = nil
	if h.gone {
		h.mu.Unlock()
		return
	}
	l := h.s.limitsFor(h.key.group, 0)
	changed, _ := h.w.expire(h.s.clock.Now(), l, &h.total)
	if changed {
		h.changedLocked(nil)
	}
	h.armLocked()
	h.mu.Unlock()
	if changed {
		h.s.wake()
	}
}

// changedLocked marks the window changed and starts a write unless one is
// in flight; wait, if not nil, gets the outcome of the write that
// includes this change.
func (h *hosted) changedLocked(wait chan int16) {
	h.dirty = true
	if wait != nil {
		h.waiters = append(h.waiters, wait)
	}
	if h.writing || h.gone {
		if h.gone && wait != nil && !h.writing {
			wait <- kerr.NotLeaderForPartition.Code
			h.waiters = h.waiters[:len(h.waiters)-1]
		}
		return
	}
	h.writing = true
	h.s.wg.Go(h.writeLoop)
}

// writeLoop writes the window until no change is left unwritten.
func (h *hosted) writeLoop() {
	for {
		h.mu.Lock()
		if !h.dirty || h.gone {
			h.writing = false
			if h.gone {
				for _, w := range h.waiters {
					w <- kerr.NotLeaderForPartition.Code
				}
				h.waiters = nil
			}
			h.mu.Unlock()
			return
		}
		start, end, batches := h.w.persisted()
		waiters := h.waiters
		h.waiters, h.dirty = nil, false
		h.mu.Unlock()

		claim := h.claim
		ctx, cancel := context.WithTimeout(h.s.ctx, h.s.env.CommitTimeout)
		res, code := h.s.env.Submit(ctx, journal.Command{WriteShare: &journal.WriteShare{
			Group: h.key.group, Topic: h.key.topic, Partition: h.key.partition, Claim: &claim,
			StartOffset: start, EndOffset: end, Batches: batches,
		}})
		cancel()
		if code == 0 {
			code = res[0].Code
		}
		if code == kerr.NotCoordinator.Code || code == kerr.UnknownTopicOrPartition.Code {
			// Another agent owns it now (or the topic is gone): its
			// members find the new owner through Metadata.
			h.s.log.Info("share-partition claimed elsewhere; letting it go", "group", h.key.group, "topic", h.key.topic, "partition", h.key.partition)
			code = kerr.NotLeaderForPartition.Code
			h.mu.Lock()
			h.gone = true
			h.mu.Unlock()
			h.s.forget(h)
		} else if code != 0 {
			h.s.log.Warn("write share-partition state", "group", h.key.group, "topic", h.key.topic, "partition", h.key.partition, "code", code)
			h.mu.Lock()
			h.dirty = true // try again with the next change or timer
			h.mu.Unlock()
			code = kerr.CoordinatorNotAvailable.Code
		}
		for _, w := range waiters {
			w <- code
		}
		if code != 0 {
			h.mu.Lock()
			h.writing = false
			h.mu.Unlock()
			return
		}
	}
}

// forget removes h from memory if it is still there.
func (s *Service) forget(h *hosted) {
	s.mu.Lock()
	if s.mu.parts[h.key] == h {
		delete(s.mu.parts, h.key)
	}
	s.mu.Unlock()
	h.drop()
}

// limitsFor returns the group's acquisition limits, maxRecords records.
func (s *Service) limitsFor(group string, maxRecords int) limits {
	set := s.settings(group)
	return limits{maxRecords: maxRecords, maxLocks: set.maxLocks, deliveryLimit: set.deliveryLimit}
}
