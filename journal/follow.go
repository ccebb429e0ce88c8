package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Following the committer.
//
// In a cluster one agent writes the journal and pushes each entry it wrote
// to the others, so they apply it without reading the bucket. A push is an
// optimisation, never the truth: pushes may arrive late, twice, out of
// order, or not at all. Offer applies what extends the state and ignores
// what it already has; a gap is filled from the bucket, where every entry
// is. Followers also poll the bucket (CatchUp) so that entries written by
// tools or by a committer that could not push are found.

// Offer applies pushed entries: each is the bytes of one entry as stored.
// Entries the state already has are ignored; if an entry lies beyond the
// next one, the missing entries are read from the bucket first. It
// returns the number of entries applied.
func (l *Log) Offer(ctx context.Context, entries [][]byte) (int, error) {
	applied := 0
	for _, data := range entries {
		e, err := decodePushed(data)
		if err != nil {
			return applied, err
		}
		if e.Seq <= l.Seq() {
			continue
		}
		if e.Seq > l.Seq()+1 {
			n, err := l.CatchUp(ctx)
			applied += n
			if err != nil {
				return applied, fmt.Errorf("fill journal gap before entry %d: %w", e.Seq, err)
			}
		}
		ok, err := l.applyIfNext(e)
		if err != nil {
			return applied, err
		}
		if ok {
			applied++
		}
	}
	return applied, nil
}

// decodePushed decodes an entry whose number is only known from its body:
// an entry's head, as Appended gives it.
func decodePushed(data []byte) (*Entry, error) {
	// DecodeEntry checks the number against the key's; a pushed entry
	// has no key, so read the number first.
	js := data
	if bytes.HasPrefix(data, []byte(entryMagic)) && len(data) >= entryFrame {
		js = data[entryFrame:]
	}
	var probe struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(js, &probe); err != nil || probe.Seq == 0 {
		return nil, fmt.Errorf("pushed journal entry has no number: %v", err)
	}
	return DecodeEntry(probe.Seq, data)
}

// applyIfNext applies e if it is the next entry, under the append lock.
func (l *Log) applyIfNext(e *Entry) (bool, error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if e.Seq != l.Seq()+1 {
		return false, nil
	}
	if _, err := l.apply(e); err != nil {
		return false, err
	}
	return true, nil
}

// WaitFor returns once entry seq is applied. Pushed entries usually bring
// it; if the state does not move for a while, WaitFor reads the bucket.
func (l *Log) WaitFor(ctx context.Context, seq uint64) error {
	const poll = 200 * time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		changed := l.Changed()
		if l.Seq() >= seq {
			return nil
		}
		select {
		case <-changed:
		case <-t.C:
			if _, err := l.CatchUp(ctx); err != nil && !errors.Is(err, context.Canceled) {
				l.opts.Logger.Warn("journal catch-up while waiting for an entry", "seq", seq, "err", err)
			}
			t.Reset(poll)
		case <-ctx.Done():
			return fmt.Errorf("wait for journal entry %d (at %d): %w", seq, l.Seq(), ctx.Err())
		}
	}
}
