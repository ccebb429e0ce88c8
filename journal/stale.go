package journal

import (
	"context"
	"time"
)

// A Log that fell behind.
//
// CatchUp takes a missing entry for the end of the journal, and Append
// writes the next number with put-if-absent. Both are right as long as the
// entries a Log has not applied are still in the bucket. Housekeeping
// deletes the entries a snapshot covers once they are old (an hour, by
// default), so a Log that applied nothing for that long — an agent cut off
// from the bucket, or paused — could take a deleted entry for the end and
// write a new entry under its number, where no other agent will ever read
// it. A Log that has not seen the end of the journal for staleAfter
// therefore looks for a snapshot newer than its state before it trusts a
// missing entry, and starts again from it.

// staleAfter is how long a Log trusts that it is near the end of the
// journal: well below the age at which housekeeping deletes entries.
const staleAfter = 10 * time.Minute

// markSynced records that the Log is at the end of the journal now.
func (l *Log) markSynced() { l.synced.Store(l.opts.Now().UnixNano()) }

// skipAheadIfStale loads the newest snapshot in place of the state if the
// Log has not been at the end of the journal for staleAfter and the
// snapshot is ahead of it. It reports whether it moved. The caller holds
// writeMu.
func (l *Log) skipAheadIfStale(ctx context.Context) (bool, error) {
	if time.Duration(l.opts.Now().UnixNano()-l.synced.Load()) < staleAfter {
		return false, nil
	}
	seqs, err := l.snapshots(ctx)
	if err != nil {
		return false, err
	}
	if len(seqs) == 0 || seqs[len(seqs)-1] <= l.Seq() {
		return false, nil
	}
	s, err := l.loadSnapshot(ctx)
	if err != nil {
		return false, err
	}
	from := l.Seq()
	if s.Seq <= from {
		return false, nil
	}
	l.mu.Lock()
	l.mu.state = s
	l.mu.lastSnapshot = s.Seq
	close(l.mu.changed)
	l.mu.changed = make(chan struct{})
	l.mu.Unlock()
	l.opts.Logger.Warn("journal: this agent fell behind; starting again from a newer snapshot", "from", from, "snapshot", s.Seq)
	return true, nil
}
