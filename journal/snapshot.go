package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/silt-io/silt/objstore"
)

// snapshotVersion is the snapshot format this code writes and reads.
const snapshotVersion = 1

// maxSnapshotSize bounds a decoded snapshot.
const maxSnapshotSize = 4 << 30

type snapshotFile struct {
	Version int    `json:"v"`
	State   *State `json:"state"`
}

var (
	encoderOnce sync.Once
	encoder     *zstd.Encoder
	decoder     *zstd.Decoder
)

func codecs() (*zstd.Encoder, *zstd.Decoder) {
	encoderOnce.Do(func() {
		encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
		decoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxSnapshotSize))
	})
	return encoder, decoder
}

// EncodeSnapshot returns the snapshot bytes of s: zstd-compressed JSON.
// The bytes depend only on the state (JSON sorts map keys).
func EncodeSnapshot(s *State) ([]byte, error) {
	raw, err := json.Marshal(snapshotFile{Version: snapshotVersion, State: s})
	if err != nil {
		return nil, err
	}
	enc, _ := codecs()
	return enc.EncodeAll(raw, nil), nil
}

// DecodeSnapshot parses snapshot bytes.
func DecodeSnapshot(data []byte) (*State, error) {
	_, dec := codecs()
	raw, err := dec.DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	var f snapshotFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if f.Version != snapshotVersion || f.State == nil {
		return nil, fmt.Errorf("unsupported snapshot version %d", f.Version)
	}
	f.State.init()
	return f.State, nil
}

// snapshots lists the sequence numbers of the snapshots in the bucket,
// ascending.
func (l *Log) snapshots(ctx context.Context) ([]uint64, error) {
	var seqs []uint64
	for info, err := range l.bucket.List(ctx, snapshotPrefix, "") {
		if err != nil {
			return nil, fmt.Errorf("list snapshots: %w", err)
		}
		if seq, ok := parseSeqKey(info.Key, snapshotPrefix); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// loadSnapshot returns the newest readable snapshot, or the empty state. A
// snapshot that cannot be decoded is skipped for the one before it: the
// journal entries after the older one are still there to replay.
func (l *Log) loadSnapshot(ctx context.Context) (*State, error) {
	seqs, err := l.snapshots(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(seqs) - 1; i >= 0; i-- {
		rc, err := l.bucket.Get(ctx, SnapshotKey(seqs[i]))
		if errors.Is(err, objstore.ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("read snapshot %d: %w", seqs[i], err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read snapshot %d: %w", seqs[i], err)
		}
		s, err := DecodeSnapshot(data)
		if err != nil {
			l.opts.Logger.Error("skipping unreadable snapshot", "seq", seqs[i], "err", err)
			continue
		}
		if s.Seq != seqs[i] {
			l.opts.Logger.Error("skipping snapshot whose state is at another entry", "seq", seqs[i], "state_seq", s.Seq)
			continue
		}
		return s, nil
	}
	return NewState(), nil
}

// WriteSnapshot writes the current state as snapshots/<seq>.
func (l *Log) WriteSnapshot(ctx context.Context) (uint64, error) {
	var (
		data []byte
		seq  uint64
		err  error
	)
	l.View(func(s *State) {
		seq = s.Seq
		data, err = EncodeSnapshot(s)
	})
	if err != nil {
		return 0, fmt.Errorf("encode snapshot %d: %w", seq, err)
	}
	if seq == 0 {
		return 0, nil
	}
	if _, err := l.bucket.Put(ctx, SnapshotKey(seq), data); err != nil {
		return 0, fmt.Errorf("write snapshot %d: %w", seq, err)
	}
	l.mu.Lock()
	l.mu.lastSnapshot = max(l.mu.lastSnapshot, seq)
	l.mu.Unlock()
	l.opts.Logger.Info("wrote journal snapshot", "seq", seq, "bytes", len(data))
	return seq, nil
}

// MaybeSnapshot writes a snapshot if SnapshotEvery entries were applied
// since the last one this Log wrote or loaded.
func (l *Log) MaybeSnapshot(ctx context.Context) error {
	l.mu.RLock()
	due := l.mu.state.Seq >= l.mu.lastSnapshot+l.opts.SnapshotEvery
	l.mu.RUnlock()
	if !due {
		return nil
	}
	_, err := l.WriteSnapshot(ctx)
	return err
}
