package compat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// rebalanceTrials is how many times the fourth member joins (and leaves
// again) in each protocol's measurement; trial i starts it
// rebalancePause(i) after the group of three settled.
const rebalanceTrials = 3

// rebalancePause spreads the trials' joins over kgo's default classic
// heartbeat interval (3 s): the classic figure depends mostly on how long
// the running members wait for their next heartbeat, and so on when in
// that interval the newcomer arrives. (Right after a session starts, kgo's
// cooperative members also heartbeat once at 500 ms.)
func rebalancePause(trial int) time.Duration {
	return time.Duration(2*trial+1) * 3 * time.Second / (2 * rebalanceTrials)
}

// TestRebalanceTime measures how long a running group of three franz-go
// consumers (cooperative-sticky) takes to give a fourth its share: from
// the moment the fourth client starts to the last partition change that
// leaves all four with their new shares, seen through the members'
// OnPartitionsAssigned/Revoked callbacks. It runs with the classic
// protocol (running members learn of the rebalance on their next
// heartbeat, every 3 s by kgo's default, and cooperative rebalancing takes
// two rounds) and with KIP-848 (the coordinator assigns; members heartbeat
// every second, as silt tells them, and a partition moves once its owner
// has released it). Each protocol has rebalanceTrials trials: the fourth
// joins, the four settle, the fourth leaves, the three settle again.
//
// The figures are logged; only correctness is asserted: every settled
// state has disjoint, balanced (sizes differ by at most one), non-empty
// shares covering the topic, reached within the test's deadline.
func TestRebalanceTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol []kgo.GroupOpt
	}{
		{"classic", nil},
		{"kip848", []kgo.GroupOpt{kgo.ServerSideBalancer()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The two protocols run side by side: the figures are set by
			// heartbeat intervals and timers, not by the CPU.
			t.Parallel()
			const (
				topic      = "rebalance"
				group      = "rebalance-group"
				partitions = 12
			)
			c := startCluster(t, time.Second)
			createTopic(t, newAdmin(t, c), topic, partitions)
			ctx := testContext(t, 40*time.Second)
			own := newOwnership()
			opts := func(name string) []kgo.Opt {
				return append([]kgo.Opt{
					kgo.SeedBrokers(c.Seeds()...),
					kgo.ClientID(name),
					kgo.ConsumerGroup(group),
					kgo.ConsumeTopics(topic),
					kgo.Balancers(kgo.CooperativeStickyBalancer()),
					kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
						own.change(name, m[topic], nil)
					}),
					kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
						own.change(name, nil, m[topic])
					}),
					kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
						own.change(name, nil, m[topic])
					}),
				}, groupOpts(tc.protocol)...)
			}

			three := []string{"member-0", "member-1", "member-2"}
			four := append(slices.Clone(three), "member-3")
			for _, m := range three {
				startGroupMember(t, opts(m))
			}
			if _, err := own.waitBalanced(ctx, three, partitions); err != nil {
				t.Fatalf("the first three members: %v", err)
			}
			var firsts, settles []time.Duration
			for trial := range rebalanceTrials {
				time.Sleep(rebalancePause(trial))
				before := own.snapshot()
				start := time.Now()
				stop := startGroupMember(t, opts("member-3"))
				settledAt, err := own.waitBalanced(ctx, four, partitions)
				if err != nil {
					t.Fatalf("trial %d, after the fourth joined: %v; shares before: %v; changes since it started:%s", trial, err, before, own.eventsSince(start))
				}
				firstAt := own.firstAssigned("member-3", start)
				firsts, settles = append(firsts, firstAt.Sub(start)), append(settles, settledAt.Sub(start))
				t.Logf("%s trial %d: the fourth started %v after the three settled; its first partitions after %v, all four settled after %v; changes:%s",
					tc.name, trial, rebalancePause(trial), ms(firstAt.Sub(start)), ms(settledAt.Sub(start)), own.eventsSince(start))

				stop()
				if _, err := own.waitBalanced(ctx, three, partitions); err != nil {
					t.Fatalf("trial %d, after the fourth left: %v", trial, err)
				}
			}
			t.Logf("%s: a fourth member joining a running group of three, over %d trials: first partitions after %s; all four settled after %s",
				tc.name, rebalanceTrials, spread(firsts), spread(settles))
		})
	}
}

// ms rounds d to milliseconds.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// spread describes durations: their mean, and their minimum and maximum.
func spread(ds []time.Duration) string {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return fmt.Sprintf("mean %v (min %v, max %v)", ms(sum/time.Duration(len(ds))), ms(slices.Min(ds)), ms(slices.Max(ds)))
}

// groupOpts converts group options to client options.
func groupOpts(g []kgo.GroupOpt) []kgo.Opt {
	out := make([]kgo.Opt, len(g))
	for i, o := range g {
		out[i] = o
	}
	return out
}

// startGroupMember starts a group consumer that polls until it is
// stopped, or the test ends, and is then closed, leaving the group. stop
// returns once the client is closed.
func startGroupMember(t *testing.T, opts []kgo.Opt) (stop func()) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			if len(fs.Errors()) > 0 {
				time.Sleep(10 * time.Millisecond) // no busy loop on a persistent error
			}
		}
	}()
	stop = sync.OnceFunc(func() {
		cl.Close()
		<-done
	})
	t.Cleanup(stop)
	return stop
}

// ownership tracks which partitions each member owns, from its callbacks,
// and when that last changed. It is safe for concurrent use.
type ownership struct {
	mu      sync.Mutex
	owned   map[string][]int32
	changed time.Time // the last change
	events  []ownershipEvent
	notify  chan struct{}
}

// ownershipEvent is one callback that changed a member's partitions.
type ownershipEvent struct {
	at             time.Time
	member         string
	added, removed []int32
}

func newOwnership() *ownership {
	return &ownership{owned: map[string][]int32{}, notify: make(chan struct{}, 1)}
}

func (o *ownership) change(member string, added, removed []int32) {
	if len(added) == 0 && len(removed) == 0 {
		return
	}
	now := time.Now()
	o.mu.Lock()
	parts := slices.DeleteFunc(o.owned[member], func(p int32) bool { return slices.Contains(removed, p) })
	for _, p := range added {
		if !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	o.owned[member] = parts
	o.changed = now
	o.events = append(o.events, ownershipEvent{now, member, added, removed})
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

func (o *ownership) snapshot() map[string][]int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := make(map[string][]int32, len(o.owned))
	for m, ps := range o.owned {
		s[m] = slices.Clone(ps)
	}
	return s
}

// eventsSince describes the changes since t, with their times after t.
func (o *ownership) eventsSince(t time.Time) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	for _, e := range o.events {
		if e.at.Before(t) {
			continue
		}
		fmt.Fprintf(&b, "\n\t+%v %s", ms(e.at.Sub(t)), e.member)
		if len(e.added) > 0 {
			fmt.Fprintf(&b, " assigned %v", e.added)
		}
		if len(e.removed) > 0 {
			fmt.Fprintf(&b, " revoked %v", e.removed)
		}
	}
	return b.String()
}

// firstAssigned returns when member was first assigned partitions after t.
func (o *ownership) firstAssigned(member string, t time.Time) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.events {
		if e.member == member && len(e.added) > 0 && !e.at.Before(t) {
			return e.at
		}
	}
	return time.Time{}
}

// balanced reports why the members' shares are not yet disjoint, balanced
// (sizes differing by at most one), non-empty and covering all partitions,
// or "" if they are.
func (o *ownership) balanced(members []string, partitions int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	owner := map[int32]string{}
	lo, hi := partitions, 0
	for m, ps := range o.owned {
		if !slices.Contains(members, m) && len(ps) > 0 {
			return fmt.Sprintf("%s is no member, yet owns %v", m, ps)
		}
	}
	for _, m := range members {
		ps := o.owned[m]
		lo, hi = min(lo, len(ps)), max(hi, len(ps))
		for _, p := range ps {
			if other, ok := owner[p]; ok {
				return fmt.Sprintf("partition %d owned by both %s and %s", p, other, m)
			}
			owner[p] = m
		}
	}
	switch {
	case lo == 0:
		return "a member owns nothing"
	case hi-lo > 1:
		return fmt.Sprintf("shares of %d to %d partitions", lo, hi)
	case len(owner) != partitions:
		return fmt.Sprintf("%d of %d partitions owned", len(owner), partitions)
	}
	return ""
}

// waitBalanced waits until the members' shares are balanced (see
// balanced) and returns when they last changed.
func (o *ownership) waitBalanced(ctx context.Context, members []string, partitions int) (time.Time, error) {
	for {
		why := o.balanced(members, partitions)
		if why == "" {
			o.mu.Lock()
			defer o.mu.Unlock()
			return o.changed, nil
		}
		select {
		case <-ctx.Done():
			s := o.snapshot()
			return time.Time{}, fmt.Errorf("shares %v not balanced (%s): %w", s, why, ctx.Err())
		case <-o.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}
