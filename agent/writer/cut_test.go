package writer

import (
	"testing"
	"time"
)

func TestPutBudget(t *testing.T) {
	start := time.Unix(1000, 0)
	b := newPutBudget(4, start) // 4 PUTs a second, 4 saved up
	for _, step := range []struct {
		name  string
		at    time.Duration
		cost  float64
		spend bool
		wait  time.Duration // until affordable, before spending
	}{
		{"a full budget", 0, 2, true, 0},
		{"two left", 0, 2, true, 0},
		{"spent", 0, 1, false, 250 * time.Millisecond},
		{"half a PUT later", 125 * time.Millisecond, 1, false, 125 * time.Millisecond},
		{"a PUT later", 250 * time.Millisecond, 1, true, 0},
		{"in debt after a cut it cannot refuse", 250 * time.Millisecond, 2, true, 500 * time.Millisecond},
		{"a huge cut", 250 * time.Millisecond, 100, true, 25500 * time.Millisecond},
		{"owes no more than a second's worth", 250 * time.Millisecond, 1, false, 1250 * time.Millisecond},
		{"saved up no more than a second's worth", time.Hour, 4, true, 0},
	} {
		now := start.Add(step.at)
		if got := b.affordableAt(now, step.cost).Sub(now); got != step.wait {
			t.Errorf("%s: affordable in %v, want %v (tokens %.2f)", step.name, got, step.wait, b.tokens)
		}
		if step.spend {
			b.spend(now, step.cost)
		}
		if b.tokens > b.burst || b.tokens < -b.burst {
			t.Errorf("%s: tokens %.2f outside ±%v", step.name, b.tokens, b.burst)
		}
	}
}

// produced is a batch of size bytes arriving at an offset from the start.
type produced struct {
	at   time.Duration
	size int
}

// every returns n batches of size bytes, one each period from from.
func every(from, period time.Duration, n, size int) []produced {
	out := make([]produced, n)
	for i := range out {
		out[i] = produced{from + time.Duration(i)*period, size}
	}
	return out
}

// store is what the simulated writer writes to: its PUT budget (0: no
// per-request price), what a cut costs, and how long a segment takes from
// its cut to its commit.
type store struct {
	budget  float64
	cost    float64
	latency time.Duration
}

// cutAt is a simulated cut: when, why, and how many bytes.
type cutAt struct {
	at     time.Duration
	reason cutReason
	size   int
}

// simulate runs the cut policy over a produce pattern the way the run
// goroutine does (appends, timer wake-ups, full cuts, finished writes), in
// simulated time, until end. It returns the cuts.
func simulate(st store, interval time.Duration, flushBytes int, events []produced, end time.Duration) []cutAt {
	start := time.Unix(1000, 0)
	p := newCutPolicy(interval, flushBytes, st.budget, start)
	size := 0
	var (
		cuts     []cutAt
		finishes []time.Duration // of the writes in flight, in order
		cur      time.Duration
	)
	record := func(r cutReason) {
		cuts = append(cuts, cutAt{cur, r, size})
		size = 0
		finishes = append(finishes, cur+st.latency)
	}
	for {
		// The run goroutine ticks whenever the policy wants it now.
		if w := p.wake(start.Add(cur)); !w.IsZero() && !w.After(start.Add(cur)) {
			if r := p.tick(start.Add(cur), size, st.cost); r != cutNone {
				record(r)
			}
		}
		next := end
		if len(finishes) > 0 {
			next = min(next, finishes[0])
		}
		if len(events) > 0 {
			next = min(next, events[0].at)
		}
		if w := p.wake(start.Add(cur)); !w.IsZero() {
			next = min(next, max(w.Sub(start), cur))
		}
		if next >= end {
			return cuts
		}
		cur = next
		switch {
		case len(finishes) > 0 && finishes[0] == cur:
			finishes = finishes[1:]
			p.finished()
		case len(events) > 0 && events[0].at == cur:
			size += events[0].size
			events = events[1:]
			p.appended(start.Add(cur))
			if size >= flushBytes {
				p.cut(start.Add(cur), st.cost)
				record(cutFull)
			}
		}
	}
}

func TestCutPolicy(t *testing.T) {
	const interval = 250 * time.Millisecond
	const flush = 256 << 10
	free := store{latency: 2 * time.Millisecond}
	s3 := store{budget: 8, cost: 2, latency: 40 * time.Millisecond}
	burst := every(0, 100*time.Microsecond, 50, 100) // 50 batches in 5ms, then quiet
	for _, tc := range []struct {
		name   string
		store  store
		events []produced
		end    time.Duration
		check  func(t *testing.T, cuts []cutAt)
	}{
		{"free: a lone batch is cut at once", free, []produced{{0, 100}}, time.Minute, func(t *testing.T, cuts []cutAt) {
			if len(cuts) != 1 || cuts[0].at != 0 || cuts[0].reason != cutGroup {
				t.Errorf("cuts %v, want one at once", cuts)
			}
		}},
		{"free: what arrives during a write goes into the next", free, burst, time.Minute, func(t *testing.T, cuts []cutAt) {
			// The first batch is cut at once; the 19 that arrive in the
			// 2ms it is in flight, at 2ms; and so on.
			want := []cutAt{{0, cutGroup, 100}, {2 * time.Millisecond, cutGroup, 1900}, {4 * time.Millisecond, cutGroup, 2000}, {6 * time.Millisecond, cutGroup, 1000}}
			if len(cuts) != len(want) {
				t.Fatalf("cuts %v, want %v", cuts, want)
			}
			for i := range want {
				if cuts[i] != want[i] {
					t.Errorf("cut %d: %v, want %v", i, cuts[i], want[i])
				}
			}
		}},
		{"free: a slow write is still cut at the interval", store{latency: time.Second}, every(0, time.Millisecond, 400, 10), time.Minute, func(t *testing.T, cuts []cutAt) {
			if len(cuts) < 2 || cuts[0].at != 0 || cuts[1].at != time.Millisecond+interval || cuts[1].reason != cutInterval {
				t.Errorf("cuts %v, want one at once, then one at the interval after the next batch", cuts)
			}
		}},
		{"priced: a lone batch is cut once idle", s3, []produced{{0, 100}}, time.Minute, func(t *testing.T, cuts []cutAt) {
			if len(cuts) != 1 || cuts[0].at != idleCut || cuts[0].reason != cutIdle {
				t.Errorf("cuts %v, want one at %v", cuts, idleCut)
			}
		}},
		{"priced: a burst is cut once it has all arrived", s3, burst, time.Minute, func(t *testing.T, cuts []cutAt) {
			last := burst[len(burst)-1].at
			if len(cuts) != 1 || cuts[0].at != last+idleCut {
				t.Errorf("cuts %v, want one at %v", cuts, last+idleCut)
			}
		}},
		{"priced: a trickle stays within the budget", s3, every(0, 20*time.Millisecond, 500, 100), 10 * time.Second, func(t *testing.T, cuts []cutAt) {
			// 10 s at 8 PUTs a second, 2 a cut: 40 cuts, plus the 4 saved up.
			if n := len(cuts); n > 10*8/2+4 || n < 30 {
				t.Errorf("%d cuts for a 10 s trickle at a budget of 8 PUTs/s", n)
			}
			for i := 1; i < len(cuts); i++ {
				// The interval runs from the first batch after a cut.
				if gap := cuts[i].at - cuts[i-1].at; gap > interval+20*time.Millisecond {
					t.Errorf("cut %d came %v after the one before; the interval is %v", i, gap, interval)
				}
			}
		}},
		{"priced: a lone batch now and then is answered within idleCut", s3, every(0, 300*time.Millisecond, 30, 100), 10 * time.Second, func(t *testing.T, cuts []cutAt) {
			for i, c := range cuts {
				if want := time.Duration(i)*300*time.Millisecond + idleCut; c.at != want {
					t.Errorf("cut %d at %v, want %v", i, c.at, want)
				}
			}
		}},
		{"priced: a steady stream is cut by the interval", s3, every(0, time.Millisecond, 4500, 10), 5 * time.Second, func(t *testing.T, cuts []cutAt) {
			// The interval runs from the first batch after a cut, 1ms later.
			for i, c := range cuts[:len(cuts)-1] {
				if want := time.Duration(i)*(interval+time.Millisecond) + interval; c.at != want || c.reason != cutInterval {
					t.Errorf("cut %d: %v, want by the interval at %v", i, c, want)
				}
			}
		}},
		{"a full buffer is cut at once", s3, every(0, time.Millisecond, 4, flush/2), time.Minute, func(t *testing.T, cuts []cutAt) {
			if len(cuts) != 2 || cuts[0].at != time.Millisecond || cuts[1].at != 3*time.Millisecond || cuts[1].reason != cutFull {
				t.Errorf("cuts %v, want full at 1ms and 3ms", cuts)
			}
		}},
		{"priced: with the budget spent, a quarter of FlushBytes is still cut once idle", s3,
			append(every(0, 20*time.Millisecond, 100, 100), produced{3 * time.Second, flush / 4}), time.Minute,
			func(t *testing.T, cuts []cutAt) {
				if last := cuts[len(cuts)-1]; last.at != 3*time.Second+idleCut || last.reason != cutLarge {
					t.Errorf("the big batch was cut at %v, want %v (cuts %v)", last, 3*time.Second+idleCut, cuts)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, simulate(tc.store, interval, flush, tc.events, tc.end))
		})
	}
}
