package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/silt-io/silt/objstore"
)

// DeleteCovered deletes the journal entries and snapshots that a newer
// snapshot makes unnecessary, keeping everything written after before.
//
// It picks the newest snapshot whose entry was written before before and
// that decodes (loadSnapshot would fall back to it if every newer one were
// damaged), then deletes every entry up to and including its number and
// every older snapshot. An agent starting afterwards loads that snapshot or
// a newer one and replays the entries after it, which are all kept.
//
// The margin matters: an agent that is replaying entries it has not yet
// applied must find them. Agents follow the journal within seconds, so a
// margin of an hour leaves only an agent that stopped applying entries for
// longer than that behind; such an agent must start again from a snapshot.
// An entry that carries inline segments the snapshot's chunks still read is
// kept; once compaction has moved them, a later run deletes it.
// It returns how many objects it deleted.
func (l *Log) DeleteCovered(ctx context.Context, before time.Time) (int, error) {
	seqs, err := l.snapshots(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := before.UnixMilli()
	var (
		cover uint64
		refs  map[string]bool // objects the covering snapshot's chunks read
	)
	for i := len(seqs) - 1; i >= 0 && cover == 0; i-- {
		s, err := l.readSnapshot(ctx, seqs[i])
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			l.opts.Logger.Warn("housekeeping: skipping unreadable snapshot", "seq", seqs[i], "err", err)
			continue
		}
		if s.Time <= cutoff && s.Seq == seqs[i] {
			cover, refs = seqs[i], s.Referenced()
		}
	}
	if cover == 0 {
		return 0, nil
	}
	n := 0
	var errs []error
	for _, seq := range seqs {
		if seq >= cover {
			break
		}
		if err := l.bucket.Delete(ctx, SnapshotKey(seq)); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	for info, err := range l.bucket.List(ctx, entryPrefix, "") {
		if err != nil {
			errs = append(errs, fmt.Errorf("list journal: %w", err))
			break
		}
		seq, ok := parseSeqKey(info.Key, entryPrefix)
		if !ok {
			continue
		}
		if seq > cover {
			break
		}
		if refs[info.Key] {
			continue // its inline segments are still read; a later run deletes it
		}
		if err := l.bucket.Delete(ctx, info.Key); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n > 0 {
		l.opts.Logger.Info("journal housekeeping", "covered_by_snapshot", cover, "deleted", n)
	}
	return n, errors.Join(errs...)
}

// readSnapshot reads and decodes one snapshot.
func (l *Log) readSnapshot(ctx context.Context, seq uint64) (*State, error) {
	data, err := objstore.ReadAll(ctx, l.bucket, SnapshotKey(seq))
	if err != nil {
		return nil, err
	}
	return DecodeSnapshot(data)
}
