// Package backoff is silt's one retry delay: exponential growth with full
// jitter, waited out under a context.
//
// Every loop in silt that retries a request to the bucket or to another
// agent (a journal append, a segment upload, a proposal to the committer, a
// put that met a conditional-write conflict) waits with it, so they all
// behave alike under an outage: the first retry comes quickly, later ones
// spread out up to a ceiling, and no two retriers fall into step.
//
// # Invariants
//
//   - The n-th delay (counting from 0) is drawn uniformly from
//     [1ns, min(Max, Base·2ⁿ)]: "full jitter" in the terms of the AWS
//     architecture blog's comparison of backoff schemes. It is never zero,
//     so a retry loop always yields, and never above Max.
//   - Wait returns ctx's error as soon as ctx ends, and nil only after the
//     whole delay: a caller may treat a nil return as "retry now".
//   - A Backoff is a value owned by one retry loop; it is not safe for
//     concurrent use, and needs no cleanup.
//
// # Rejected
//
// "Equal jitter" (half the ceiling fixed, half random), which the segment
// upload used, keeps retriers apart no better and waits longer on average;
// no jitter at all, which the proposer used, makes every agent that lost
// the committer at the same moment resend at the same moments. A retry
// package from outside (cenkalti/backoff and the like) brings options silt
// does not need for twenty lines of code.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields the delays of one retry loop. The zero value is not
// usable; create one with New.
type Backoff struct {
	base, max time.Duration
	ceiling   time.Duration // the bound of the next delay
	// jitter draws a delay in [1ns, ceiling]; tests replace it.
	jitter func(ceiling time.Duration) time.Duration
}

// New returns a Backoff whose first delay is at most base and whose delays
// double up to at most max. A base ≤ 0 is taken as 1ms, a max below base
// as base.
func New(base, max time.Duration) *Backoff {
	if base <= 0 {
		base = time.Millisecond
	}
	if max < base {
		max = base
	}
	return &Backoff{base: base, max: max, ceiling: base, jitter: fullJitter}
}

func fullJitter(ceiling time.Duration) time.Duration {
	return rand.N(ceiling) + 1
}

// Next returns the next delay and raises the ceiling for the one after.
func (b *Backoff) Next() time.Duration {
	d := b.jitter(b.ceiling)
	if b.ceiling > b.max/2 {
		b.ceiling = b.max
	} else {
		b.ceiling *= 2
	}
	return d
}

// Reset starts the delays again from base, after a success.
func (b *Backoff) Reset() { b.ceiling = b.base }

// Wait sleeps for the next delay, or until ctx ends; then it returns ctx's
// error.
func (b *Backoff) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
