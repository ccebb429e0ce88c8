package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The ceilings double from base and stop at max, whatever the arguments.
func TestCeilings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base, max time.Duration
		want      []time.Duration // the ceilings of the first delays
	}{
		{"journal", 20 * time.Millisecond, 2 * time.Second,
			[]time.Duration{20e6, 40e6, 80e6, 160e6, 320e6, 640e6, 1280e6, 2e9, 2e9}},
		{"max not a power of two of base", 100 * time.Millisecond, 250 * time.Millisecond,
			[]time.Duration{100e6, 200e6, 250e6, 250e6}},
		{"max below base", time.Second, time.Millisecond, []time.Duration{1e9, 1e9}},
		{"no base", 0, 4 * time.Millisecond, []time.Duration{1e6, 2e6, 4e6, 4e6}},
		{"huge max does not overflow", time.Hour, 1<<63 - 1,
			[]time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.base, tc.max)
			var got []time.Duration
			b.jitter = func(c time.Duration) time.Duration { got = append(got, c); return c }
			for range tc.want {
				b.Next()
			}
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Fatalf("ceilings %v, want %v", got, tc.want)
				}
			}
			b.Reset()
			got = got[:0]
			b.Next()
			if got[0] != tc.want[0] {
				t.Errorf("after Reset the ceiling is %v, want %v", got[0], tc.want[0])
			}
		})
	}
}

// Real delays are full jitter: within (0, ceiling], and spread over it.
func TestFullJitter(t *testing.T) {
	for _, ceiling := range []time.Duration{1, 2, time.Millisecond, 2 * time.Second} {
		lowest, highest := ceiling, time.Duration(0)
		for range 2000 {
			d := fullJitter(ceiling)
			if d <= 0 || d > ceiling {
				t.Fatalf("fullJitter(%v) = %v, outside (0, %v]", ceiling, d, ceiling)
			}
			lowest, highest = min(lowest, d), max(highest, d)
		}
		if ceiling >= time.Millisecond && (lowest > ceiling/4 || highest < 3*ceiling/4) {
			t.Errorf("fullJitter(%v) spans only [%v, %v] in 2000 draws", ceiling, lowest, highest)
		}
	}
}

func TestWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		delay   time.Duration
		cancel  bool // the context ends before Wait
		timeout time.Duration
		want    error
	}{
		{"sleeps the delay", time.Millisecond, false, time.Minute, nil},
		{"returns at once on an ended context", time.Hour, true, time.Minute, context.Canceled},
		{"returns when the context ends", time.Hour, false, 20 * time.Millisecond, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.delay, tc.delay)
			b.jitter = func(c time.Duration) time.Duration { return c }
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			if tc.cancel {
				cancel()
			}
			start := time.Now()
			err := b.Wait(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Wait = %v, want %v", err, tc.want)
			}
			took := time.Since(start)
			if tc.want == nil && took < tc.delay {
				t.Errorf("Wait returned after %v, before the %v delay", took, tc.delay)
			}
			if tc.want != nil && took > 10*time.Second {
				t.Errorf("Wait took %v to see its context end", took)
			}
		})
	}
}
