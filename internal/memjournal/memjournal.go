// Package memjournal is a journal kept in memory for the tests of the
// packages that read and propose to the agent's journal (the group
// coordinators), so they run without a bucket or a committer: what is
// submitted is applied at once, as a one-agent journal would, with the
// time of an injected clock.
package memjournal

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// Journal is a journal.State behind a lock. It is safe for concurrent use.
type Journal struct {
	clock clock.Clock
	mu    sync.Mutex
	state *journal.State
	// changed is closed and replaced by every entry.
	changed chan struct{}
	// down makes every submit fail, as a bucket that is down does.
	down bool
}

// New returns an empty journal whose entries take their time from c.
func New(c clock.Clock) *Journal {
	return &Journal{clock: c, state: journal.NewState(), changed: make(chan struct{})}
}

// View calls fn with the state under the lock.
func (j *Journal) View(fn func(*journal.State)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fn(j.state)
}

// Changed returns a channel closed when the next entry is applied.
func (j *Journal) Changed() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.changed
}

// CatchUp has nothing to catch up on: every entry is applied at once.
func (j *Journal) CatchUp(context.Context) (int, error) { return 0, nil }

// Submit applies the commands as one entry and returns their results, or
// REQUEST_TIMED_OUT while the journal is down. It panics on an entry the
// state refuses to apply, which only a test can build.
func (j *Journal) Submit(_ context.Context, cmds ...journal.Command) ([]journal.Result, int16) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.down {
		return nil, kerr.RequestTimedOut.Code
	}
	res, err := j.state.Apply(&journal.Entry{Version: journal.EntryVersion, Seq: j.state.Seq + 1,
		Time: j.clock.Now().UnixMilli(), Commands: cmds})
	if err != nil {
		panic(fmt.Sprintf("memjournal: %v", err))
	}
	close(j.changed)
	j.changed = make(chan struct{})
	return res, 0
}

// SetDown makes submits fail (true) or succeed again (false).
func (j *Journal) SetDown(down bool) {
	j.mu.Lock()
	j.down = down
	j.mu.Unlock()
}

// Claimer returns a group claimer for the agent named node, as the groups
// coordinator's Claim works: it keeps the claim it made while that is the
// group's latest, and claims the group anew otherwise.
func (j *Journal) Claimer(node string) func(ctx context.Context, group string) (journal.GroupClaim, int16) {
	var mu sync.Mutex
	held := map[string]journal.GroupClaim{}
	return func(ctx context.Context, group string) (journal.GroupClaim, int16) {
		mu.Lock()
		defer mu.Unlock()
		current := false
		j.View(func(s *journal.State) {
			latest, ok := s.GroupClaim(group)
			h, had := held[group]
			current = ok && had && latest == h
		})
		if current {
			return held[group], 0
		}
		res, code := j.Submit(ctx, journal.Command{ClaimGroup: &journal.ClaimGroup{Group: group, Coordinator: node}})
		if code == 0 {
			code = res[0].Code
		}
		if code != 0 {
			return journal.GroupClaim{}, code
		}
		held[group] = *res[0].Claim
		return held[group], 0
	}
}
