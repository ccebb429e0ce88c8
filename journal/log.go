package journal

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/silt-io/silt/internal/backoff"
	"github.com/silt-io/silt/objstore"
)

// maxEntrySize bounds what is read of one entry, so a corrupt object cannot
// exhaust memory.
const maxEntrySize = 256 << 20

// Options configures a Log. The zero value works.
type Options struct {
	// WriterID names this writer in the entries it writes; default a
	// random id. Agents use their node name.
	WriterID string
	// Now is the clock entries are stamped with; default time.Now.
	Now func() time.Time
	// SnapshotEvery is the number of entries between snapshots written by
	// MaybeSnapshot; default 1000.
	SnapshotEvery uint64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Appended, if set, is called with each entry this Log wrote, once it
	// is applied, with the bytes stored in the bucket: a committer pushes
	// them to the other agents. It runs under the append lock and must not
	// block.
	Appended func(seq uint64, data []byte)
}

func (o Options) withDefaults() Options {
	if o.WriterID == "" {
		o.WriterID = "writer-" + randomHex(4)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SnapshotEvery == 0 {
		o.SnapshotEvery = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func randomHex(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	return hex.EncodeToString(b)
}

// Log is the journal in a bucket together with the state it replays to.
// Readers use View; Append and CatchUp, which apply entries, are serialised.
type Log struct {
	bucket objstore.Bucket
	opts   Options

	// writeMu serialises everything that applies entries, so the state
	// only moves forward one entry at a time.
	writeMu sync.Mutex
	// lostRaces counts entry numbers Append found taken by another writer.
	lostRaces atomic.Uint64
	// synced is when (unix ns, Options.Now) the Log last knew it was at
	// the end of the journal (stale.go).
	synced atomic.Int64
	// aclVersion mirrors State.ACLVersion, so an authorizer can tell its
	// index is current without taking the state lock on every check.
	aclVersion atomic.Uint64

	mu struct {
		sync.RWMutex
		state        *State
		changed      chan struct{} // closed after each apply, then replaced
		lastSnapshot uint64
	}
}

// Open loads the newest snapshot and replays the entries after it.
func Open(ctx context.Context, bucket objstore.Bucket, opts Options) (*Log, error) {
	l := &Log{bucket: bucket, opts: opts.withDefaults()}
	l.mu.changed = make(chan struct{})
	state, err := l.loadSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.state = state
	l.mu.lastSnapshot = state.Seq
	l.aclVersion.Store(state.ACLVersion)
	if err := l.replayListed(ctx); err != nil {
		return nil, err
	}
	if _, err := l.CatchUp(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// View calls fn with the current state under a read lock. fn must not keep
// references into the state after it returns, nor modify it.
func (l *Log) View(fn func(s *State)) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	fn(l.mu.state)
}

// Seq returns the number of the last entry applied.
func (l *Log) Seq() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.state.Seq
}

// ACLVersion returns the state's ACLVersion (the entry that last changed
// the ACLs) without the state lock: an authorizer reads it on every check
// and rebuilds its index, under View, only when it moved.
func (l *Log) ACLVersion() uint64 { return l.aclVersion.Load() }

// Changed returns a channel closed when the next entry is applied: fetches
// waiting at the end of a log select on it.
func (l *Log) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.changed
}

// apply applies e under the state lock and wakes waiters. The caller holds
// writeMu.
func (l *Log) apply(e *Entry) ([]Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	results, err := l.mu.state.Apply(e)
	if err != nil {
		return nil, err
	}
	l.aclVersion.Store(l.mu.state.ACLVersion)
	close(l.mu.changed)
	l.mu.changed = make(chan struct{})
	return results, nil
}

func (l *Log) readEntry(ctx context.Context, seq uint64) (*Entry, error) {
	rc, err := l.bucket.Get(ctx, EntryKey(seq))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	head, err := readEntryHead(rc)
	if err != nil {
		return nil, fmt.Errorf("read journal entry %d: %w", seq, err)
	}
	return DecodeEntry(seq, head)
}

// readEntryHead reads what DecodeEntry needs of an entry object: all of a
// JSON entry, the frame and JSON of a framed one (its data, inline
// segments, stays unread).
func readEntryHead(r io.Reader) ([]byte, error) {
	frame := make([]byte, entryFrame)
	n, err := io.ReadFull(r, frame)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	frame = frame[:n]
	if n < entryFrame || string(frame[:4]) != entryMagic {
		rest, err := io.ReadAll(io.LimitReader(r, maxEntrySize+1-int64(n)))
		if err != nil {
			return nil, err
		}
		data := append(frame, rest...)
		if len(data) > maxEntrySize {
			return nil, fmt.Errorf("over %d bytes", maxEntrySize)
		}
		return data, nil
	}
	size := int64(binary.BigEndian.Uint32(frame[4:]))
	if size > maxEntrySize {
		return nil, fmt.Errorf("frame says %d bytes of commands, over %d", size, maxEntrySize)
	}
	head := make([]byte, entryFrame+size)
	copy(head, frame)
	if _, err := io.ReadFull(r, head[entryFrame:]); err != nil {
		return nil, fmt.Errorf("truncated commands: %w", err)
	}
	return head, nil
}

// replayListed applies the entries a listing finds after the state.
func (l *Log) replayListed(ctx context.Context) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	start := l.Seq()
	for info, err := range l.bucket.List(ctx, entryPrefix, EntryKey(start)) {
		if err != nil {
			return fmt.Errorf("list journal: %w", err)
		}
		seq, ok := parseSeqKey(info.Key, entryPrefix)
		if !ok {
			continue
		}
		if seq != l.Seq()+1 {
			break // CatchUp reads on from here one entry at a time
		}
		e, err := l.readEntry(ctx, seq)
		if err != nil {
			return err
		}
		if _, err := l.apply(e); err != nil {
			return err
		}
	}
	return nil
}

// CatchUp reads and applies the entries written since the state, until the
// next one does not exist. It returns how many it applied.
func (l *Log) CatchUp(ctx context.Context) (int, error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	n := 0
	for {
		seq := l.Seq() + 1
		e, err := l.readEntry(ctx, seq)
		if errors.Is(err, objstore.ErrNotFound) {
			moved, err := l.skipAheadIfStale(ctx)
			if err != nil {
				return n, err
			}
			if moved {
				continue
			}
			l.markSynced()
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if _, err := l.apply(e); err != nil {
			return n, err
		}
		n++
	}
}

// Append writes cmds as the next entry and returns its number and the
// outcome of each command. If another writer took the number, Append
// applies that writer's entry and tries the next one. Transient bucket
// errors are retried until ctx ends; an error return means the commands
// may or may not have been written (a later CatchUp or Append will find out).
func (l *Log) Append(ctx context.Context, cmds []Command) (uint64, []Result, error) {
	if len(cmds) == 0 {
		return 0, nil, errors.New("append: no commands")
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if _, err := l.skipAheadIfStale(ctx); err != nil {
		return 0, nil, fmt.Errorf("append: %w", err)
	}
	nonce := randomHex(8)
	retry := backoff.New(20*time.Millisecond, 2*time.Second)
	inline := inlineData(cmds)
	var (
		e          *Entry
		data, head []byte
	)
	for {
		seq := l.Seq() + 1
		if e == nil || e.Seq != seq {
			// A new number: a fresh entry. Retrying the same number
			// re-sends the same bytes, so a delayed first attempt that
			// lands later is still recognised as ours.
			e = &Entry{Version: EntryVersion, Seq: seq, Writer: l.opts.WriterID, Nonce: nonce,
				Time: l.opts.Now().UnixMilli(), Commands: cmds}
			var err error
			if data, head, err = e.encodeObject(inline); err != nil {
				return 0, nil, fmt.Errorf("append: encode entry %d: %w", seq, err)
			}
		}
		_, err := l.bucket.PutIfAbsent(ctx, EntryKey(seq), data)
		if err == nil {
			l.markSynced()
			return l.applyOwn(e, head)
		}
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("append entry %d: %w", seq, err)
		}
		// We lost the race, or do not know: read entry seq back.
		got, rerr := l.readEntry(ctx, seq)
		switch {
		case rerr == nil && got.Writer == e.Writer && got.Nonce == e.Nonce:
			return l.applyOwn(got, head)
		case rerr == nil:
			if _, err := l.apply(got); err != nil {
				return 0, nil, err
			}
			l.lostRaces.Add(1)
			l.opts.Logger.Debug("journal entry taken by another writer", "seq", seq, "writer", got.Writer)
			continue // propose again at the next number, without waiting
		case errors.Is(rerr, objstore.ErrNotFound):
			// Not written (yet): retry the same bytes at the same number.
			l.opts.Logger.Warn("journal append failed; retrying", "seq", seq, "err", err)
		default:
			l.opts.Logger.Warn("journal append: cannot read back entry; retrying", "seq", seq, "err", err, "read_err", rerr)
		}
		if err := retry.Wait(ctx); err != nil {
			return 0, nil, fmt.Errorf("append entry %d: %w (last error: %w)", seq, err, rerr)
		}
	}
}

// LostRaces returns how many times Append found the entry number it
// proposed taken by another writer and retried at the next: the cost of
// two agents committing at once.
func (l *Log) LostRaces() uint64 { return l.lostRaces.Load() }

// applyOwn applies an entry this Log wrote and hands its head (the entry
// without inline data) to Appended.
func (l *Log) applyOwn(e *Entry, head []byte) (uint64, []Result, error) {
	results, err := l.apply(e)
	if err != nil {
		return 0, nil, err
	}
	if l.opts.Appended != nil {
		l.opts.Appended(e.Seq, head)
	}
	return e.Seq, results, nil
}

// inline is an entry's inline data: the inline segments' bytes, in the
// order they follow the entry's head.
type inline struct {
	parts [][]byte
	size  int
}

// inlineData lays out the inline segments of cmds back to back, setting
// each one's DataPos, without copying them.
func inlineData(cmds []Command) inline {
	var in inline
	for i := range cmds {
		if cs := cmds[i].CommitSegment; cs != nil && cs.Inline {
			cs.DataPos = int64(in.size)
			for _, p := range cs.Data {
				in.parts = append(in.parts, p)
				in.size += len(p)
			}
		}
	}
	return in
}
