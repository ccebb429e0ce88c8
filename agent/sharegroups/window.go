package sharegroups

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/journal"
)

// window is one share-partition's in-flight records, Kafka's design:
// records below start (the share-partition start offset, SPSO) are done;
// records from end (SPEO) on were never acquired and are available; each
// record in between is Available, Acquired (by one member, until its lock
// expires), Acknowledged or Archived, with a delivery count. start moves
// up as the records at it complete.
//
// A window is pure: no locks, goroutines or clock; its owner (hosted)
// serialises calls and gives it the time.
type window struct {
	start, end int64
	recs       []record // recs[i] is offset start+i
}

type recState uint8

const (
	available recState = iota
	acquired
	acknowledged
	archived
)

type record struct {
	state    recState
	count    int16 // deliveries so far
	member   string
	deadline time.Time
}

// Acknowledgement types, Kafka's AcknowledgeType (GAP is 0; RENEW, KIP-1222,
// extends a lock).
const (
	ackGap     int8 = 0
	ackAccept  int8 = 1
	ackRelease int8 = 2
	ackReject  int8 = 3
	ackRenew   int8 = 4
)

// span is a run of acquired offsets with one delivery count.
type span struct {
	first, last int64
	count       int16
}

// limits are the group configs an acquisition obeys.
type limits struct {
	maxRecords    int   // records this acquisition may take
	maxLocks      int   // share.partition.max.record.locks: in-flight window size
	deliveryLimit int16 // share.delivery.count.limit
}

// tally counts what a change did, for the metrics.
type tally struct {
	acquired, redelivered, archived int
}

// acquire hands member up to l.maxRecords records, lowest offsets first:
// available records in the window, then new ones from end up to logEnd
// while the window holds fewer than l.maxLocks. Their locks expire at
// deadline.
func (w *window) acquire(member string, logEnd int64, l limits, deadline time.Time, t *tally) []span {
	var out []span
	take := func(off int64, r *record) {
		r.state, r.member, r.deadline = acquired, member, deadline
		r.count++
		t.acquired++
		if r.count > 1 {
			t.redelivered++
		}
		if n := len(out); n > 0 && out[n-1].last == off-1 && out[n-1].count == r.count {
			out[n-1].last = off
		} else {
			out = append(out, span{first: off, last: off, count: r.count})
		}
	}
	n := 0
	for i := range w.recs {
		if n >= l.maxRecords {
			return out
		}
		if w.recs[i].state == available {
			take(w.start+int64(i), &w.recs[i])
			n++
		}
	}
	for n < l.maxRecords && w.end < logEnd && len(w.recs) < l.maxLocks {
		w.recs = append(w.recs, record{})
		take(w.end, &w.recs[len(w.recs)-1])
		w.end++
		n++
	}
	return out
}

// undo gives back acquired offsets above last that were never delivered
// (a read that returned less than was acquired): available again, their
// delivery not counted.
func (w *window) undo(member string, spans []span, last int64, t *tally) {
	for _, s := range spans {
		for off := max(s.first, last+1); off <= s.last; off++ {
			r := w.rec(off)
			if r == nil || r.state != acquired || r.member != member {
				continue
			}
			r.state, r.member = available, ""
			r.count--
			t.acquired--
			if r.count > 0 {
				t.redelivered--
			}
		}
	}
	// New records at the end that were never delivered leave the window.
	for len(w.recs) > 0 {
		r := w.recs[len(w.recs)-1]
		if r.state != available || r.count != 0 {
			break
		}
		w.recs = w.recs[:len(w.recs)-1]
		w.end--
	}
}

func (w *window) rec(off int64) *record {
	if off < w.start || off >= w.end {
		return nil
	}
	return &w.recs[off-w.start]
}

// ack applies one acknowledgement batch of member: types holds one type
// for the whole run or one per offset. The batch applies whole or not at
// all: INVALID_RECORD_STATE if any record is not acquired by member,
// INVALID_REQUEST if the batch is malformed.
func (w *window) ack(member string, first, last int64, types []int8, l limits, renew time.Time, t *tally) int16 {
	if last < first || len(types) == 0 || (len(types) != 1 && int64(len(types)) != last-first+1) {
		return kerr.InvalidRequest.Code
	}
	typeAt := func(off int64) int8 {
		if len(types) == 1 {
			return types[0]
		}
		return types[off-first]
	}
	for off := first; off <= last; off++ {
		if ty := typeAt(off); ty < ackGap || ty > ackRenew {
			return kerr.InvalidRequest.Code
		}
		r := w.rec(off)
		if r == nil || r.state != acquired || r.member != member {
			return kerr.InvalidRecordState.Code
		}
	}
	for off := first; off <= last; off++ {
		r := w.rec(off)
		switch typeAt(off) {
		case ackAccept:
			r.state, r.member = acknowledged, ""
		case ackRelease:
			w.release(r, l, t)
		case ackGap, ackReject:
			r.state, r.member = archived, ""
			t.archived++
		case ackRenew:
			r.deadline = renew
		}
	}
	w.advance()
	return 0
}

// release makes an acquired record available again, or archives it once
// it has been delivered deliveryLimit times.
func (w *window) release(r *record, l limits, t *tally) {
	r.member = ""
	if r.count >= l.deliveryLimit {
		r.state = archived
		t.archived++
		return
	}
	r.state = available
}

// expire releases the records whose locks expired by now, and reports
// whether any did and the earliest lock still held (zero if none).
func (w *window) expire(now time.Time, l limits, t *tally) (bool, time.Time) {
	changed := false
	var next time.Time
	for i := range w.recs {
		r := &w.recs[i]
		if r.state != acquired {
			continue
		}
		if !r.deadline.After(now) {
			w.release(r, l, t)
			changed = true
		} else if next.IsZero() || r.deadline.Before(next) {
			next = r.deadline
		}
	}
	if changed {
		w.advance()
	}
	return changed, next
}

// releaseMember releases every record member holds (its session closed).
func (w *window) releaseMember(member string, l limits, t *tally) bool {
	changed := false
	for i := range w.recs {
		if r := &w.recs[i]; r.state == acquired && r.member == member {
			w.release(r, l, t)
			changed = true
		}
	}
	if changed {
		w.advance()
	}
	return changed
}

// advance moves start past the completed records at its head.
func (w *window) advance() {
	i := 0
	for i < len(w.recs) && (w.recs[i].state == acknowledged || w.recs[i].state == archived) {
		i++
	}
	if i > 0 {
		w.recs = append(w.recs[:0:0], w.recs[i:]...)
		w.start += int64(i)
	}
}

// clamp moves start up to the log start offset: records deleted from the
// log (retention, DeleteRecords) can no longer be delivered.
func (w *window) clamp(logStart int64) {
	if logStart <= w.start {
		return
	}
	if logStart >= w.end {
		w.start, w.end, w.recs = logStart, logStart, nil
		return
	}
	w.recs = append(w.recs[:0:0], w.recs[logStart-w.start:]...)
	w.start = logStart
}

// counts returns the records in flight (the window) and acquired.
func (w *window) counts() (inFlight, held int) {
	for i := range w.recs {
		if w.recs[i].state == acquired {
			held++
		}
	}
	return len(w.recs), held
}

// persisted renders the window as the journal stores it: runs of equal
// state and count, acquired records as available with their count, and
// available records never delivered left out.
func (w *window) persisted() (start, end int64, batches []journal.ShareBatch) {
	for i := range w.recs {
		r := w.recs[i]
		st := journal.ShareAvailable
		switch r.state {
		case acknowledged:
			st = journal.ShareAcknowledged
		case archived:
			st = journal.ShareArchived
		}
		if st == journal.ShareAvailable && r.count == 0 {
			continue
		}
		off := w.start + int64(i)
		if n := len(batches); n > 0 && batches[n-1].Last == off-1 && batches[n-1].State == st && batches[n-1].Count == r.count {
			batches[n-1].Last = off
			continue
		}
		batches = append(batches, journal.ShareBatch{First: off, Last: off, State: st, Count: r.count})
	}
	return w.start, w.end, batches
}

// load rebuilds a window from its persisted state.
func load(st *journal.ShareState) window {
	w := window{start: st.StartOffset, end: st.EndOffset}
	if w.end > w.start {
		w.recs = make([]record, w.end-w.start)
	}
	for _, b := range st.Batches {
		for off := b.First; off <= b.Last; off++ {
			r := w.rec(off)
			if r == nil {
				continue
			}
			r.count = b.Count
			switch b.State {
			case journal.ShareAcknowledged:
				r.state = acknowledged
			case journal.ShareArchived:
				r.state = archived
			}
		}
	}
	w.advance()
	return w
}
