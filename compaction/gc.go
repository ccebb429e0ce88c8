package compaction

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/segment"
)

// CollectGarbage marks and deletes objects nothing references.
//
// Marking: an object becomes garbage when the last chunk referencing it
// goes (merged, cleaned, below a new log start, its topic deleted). The
// compactor notices it leave the set of referenced objects between two
// passes, and every OrphanScanInterval it lists segments/ for objects that
// are referenced by nothing and older than OrphanAge: those a compactor
// died before committing, and those that left the set while no compactor
// watched. An object younger than OrphanAge and never seen referenced may
// be a segment whose commit is in flight, so it is never a candidate. The
// candidates are proposed with MarkGarbage, which keeps only those still
// unreferenced when it is applied and stamps them with the entry's time.
//
// Sweeping: an object marked at least Grace ago is deleted, unless (which
// cannot happen, but costs nothing to check) it is referenced again, and
// then ForgetGarbage drops it from the list.
func (c *Compactor) CollectGarbage(ctx context.Context) (Stats, error) {
	var st Stats
	now := c.opts.Now()

	// Orphans: list first, then read the state, so that a segment
	// committed during the listing is seen referenced.
	var listed []string
	if now.Sub(c.lastOrphanScan) >= c.opts.OrphanScanInterval {
		for info, err := range c.bucket.List(ctx, segment.Dir, "") {
			if err != nil {
				return st, fmt.Errorf("list segments: %w", err)
			}
			if t := uploadTime(info.Key); !t.IsZero() && now.Sub(t) >= c.opts.OrphanAge {
				listed = append(listed, info.Key)
			}
		}
		c.lastOrphanScan = now
	}

	var refs map[string]bool
	var garbage map[string]int64
	c.log.View(func(s *journal.State) {
		refs = s.Referenced()
		garbage = make(map[string]int64, len(s.Garbage))
		for k, v := range s.Garbage {
			garbage[k] = v
		}
	})
	candidates := c.dropped
	c.dropped = nil
	for o := range c.prevRefs {
		if !refs[o] {
			candidates = append(candidates, o)
		}
	}
	for _, o := range listed {
		if !refs[o] {
			candidates = append(candidates, o)
		}
	}
	candidates = slices.DeleteFunc(candidates, func(o string) bool {
		_, marked := garbage[o]
		// A journal entry that held inline segments is not garbage when
		// they move: replay still needs its commands. The journal's
		// housekeeping deletes it once a snapshot covers it and nothing
		// references its data (journal.Log.DeleteCovered).
		return marked || journal.IsEntryKey(o)
	})
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	c.prevRefs = refs
	if len(candidates) > 0 {
		if _, err := c.proposeOne(ctx, journal.Command{MarkGarbage: &journal.MarkGarbage{Objects: candidates}}); err != nil {
			return st, fmt.Errorf("mark garbage: %w", err)
		}
		c.log.View(func(s *journal.State) {
			for _, o := range candidates {
				if _, ok := s.Garbage[o]; ok {
					st.Marked++
				}
			}
		})
	}

	// Sweep.
	var due []string
	for o, t := range garbage {
		if now.UnixMilli()-t >= c.opts.Grace.Milliseconds() && !refs[o] {
			due = append(due, o)
		}
	}
	if len(due) == 0 {
		return st, nil
	}
	slices.Sort(due)
	var deleted []string
	var errs []error
	for _, o := range due {
		if err := c.bucket.Delete(ctx, o); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, o)
	}
	if len(deleted) > 0 {
		if _, err := c.proposeOne(ctx, journal.Command{ForgetGarbage: &journal.ForgetGarbage{Objects: deleted}}); err != nil {
			errs = append(errs, fmt.Errorf("forget garbage: %w", err))
		}
		st.Deleted += len(deleted)
	}
	return st, errors.Join(errs...)
}

// housekeeping deletes journal entries and snapshots that a snapshot at
// least JournalRetention old covers, at most every OrphanScanInterval.
func (c *Compactor) housekeeping(ctx context.Context) (Stats, error) {
	var st Stats
	now := c.opts.Now()
	if c.opts.JournalRetention <= 0 || now.Sub(c.lastHousekeeping) < c.opts.OrphanScanInterval {
		return st, nil
	}
	c.lastHousekeeping = now
	n, err := c.log.DeleteCovered(ctx, now.Add(-c.opts.JournalRetention))
	st.JournalDeleted = n
	return st, err
}
