package writer

import (
	"testing"
	"time"
)

func TestCutBudget(t *testing.T) {
	start := time.Unix(1000, 0)
	b := newCutBudget(100*time.Millisecond, start)
	for _, step := range []struct {
		name  string
		at    time.Duration
		spend bool
		early bool // canCutEarly before spending
	}{
		{"a full budget", 0, true, true},
		{"one left", 0, true, true},
		{"spent", 0, false, false},
		{"half a period later", 50 * time.Millisecond, false, false},
		{"a period later", 100 * time.Millisecond, true, true},
		{"in debt after a cut on time", 100 * time.Millisecond, true, false},
		{"saved up no more than the burst", time.Hour, true, true},
	} {
		now := start.Add(step.at)
		if got := b.canCutEarly(now); got != step.early {
			t.Errorf("%s: canCutEarly = %v, want %v (tokens %.2f)", step.name, got, step.early, b.tokens)
		}
		if step.spend {
			b.spend(now)
		}
	}
	if b.tokens > idleBurst {
		t.Errorf("tokens %.2f over the burst %d", b.tokens, idleBurst)
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

// simulate runs the cut policy over a produce pattern the way the run
// goroutine does (appends, timer wake-ups, full cuts), in simulated time,
// until end. It returns when each cut happened, from the start.
func simulate(interval time.Duration, flushBytes int, events []produced, end time.Duration) []time.Duration {
	start := time.Unix(1000, 0)
	p := newCutPolicy(interval, flushBytes, start)
	size := 0
	var cuts []time.Duration
	for {
		next := end
		if len(events) > 0 {
			next = events[0].at
		}
		if wake := p.wake(); !wake.IsZero() && wake.Sub(start) <= next {
			if p.tick(wake, size) {
				cuts = append(cuts, wake.Sub(start))
				size = 0
			}
			continue
		}
		if len(events) == 0 {
			return cuts
		}
		e := events[0]
		events = events[1:]
		size += e.size
		p.appended(start.Add(e.at))
		if size >= flushBytes {
			p.cut()
			cuts = append(cuts, e.at)
			size = 0
		}
	}
}

func TestCutPolicy(t *testing.T) {
	const interval = 2 * time.Second
	const flush = 256 << 10
	burst := every(0, 100*time.Microsecond, 50, 100) // 50 batches in 5ms, then quiet
	for _, tc := range []struct {
		name   string
		events []produced
		end    time.Duration
		check  func(t *testing.T, cuts []time.Duration)
	}{
		{"a lone batch is cut once idle", []produced{{0, 100}}, time.Minute, func(t *testing.T, cuts []time.Duration) {
			if len(cuts) != 1 || cuts[0] != idleCut {
				t.Errorf("cuts at %v, want one at %v", cuts, idleCut)
			}
		}},
		{"a burst is cut once it has all arrived", burst, time.Minute, func(t *testing.T, cuts []time.Duration) {
			last := burst[len(burst)-1].at
			if len(cuts) != 1 || cuts[0] != last+idleCut {
				t.Errorf("cuts at %v, want one at %v", cuts, last+idleCut)
			}
		}},
		{"a trickle costs about one cut per interval", every(0, 20*time.Millisecond, 500, 100), 10 * time.Second, func(t *testing.T, cuts []time.Duration) {
			// 10 s of trickle: one cut per interval, plus the burst saved
			// up, plus the last batches' cut.
			if n := len(cuts); n > int(10*time.Second/interval)+idleBurst+1 || n < 5 {
				t.Errorf("%d cuts for a 10 s trickle with a %v interval: %v", n, interval, cuts)
			}
			for i := idleBurst + 1; i < len(cuts); i++ {
				if gap := cuts[i] - cuts[i-1]; gap > interval+idleCut {
					t.Errorf("cut %d came %v after the one before; the interval is %v", i, gap, interval)
				}
			}
		}},
		{"a steady stream is cut by the interval", every(0, time.Millisecond, 4500, 10), 5 * time.Second, func(t *testing.T, cuts []time.Duration) {
			if len(cuts) != 3 || cuts[0] != interval || cuts[1] != 2*interval {
				t.Errorf("cuts at %v, want every %v", cuts, interval)
			}
		}},
		{"a full buffer is cut at once", every(0, time.Millisecond, 4, flush/2), time.Minute, func(t *testing.T, cuts []time.Duration) {
			if len(cuts) != 2 || cuts[0] != time.Millisecond || cuts[1] != 3*time.Millisecond {
				t.Errorf("cuts at %v, want at 1ms and 3ms", cuts)
			}
		}},
		{"with the budget spent, a quarter of FlushBytes is still cut once idle",
			append(every(0, 20*time.Millisecond, 100, 100), produced{3 * time.Second, flush / 4}), time.Minute,
			func(t *testing.T, cuts []time.Duration) {
				if last := cuts[len(cuts)-1]; last != 3*time.Second+idleCut {
					t.Errorf("the big batch was cut at %v, want %v (cuts %v)", last, 3*time.Second+idleCut, cuts)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, simulate(interval, flush, tc.events, tc.end))
		})
	}
}
