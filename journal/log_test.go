package journal

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/file"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/objstore/objstorefault"
)

func openLog(t *testing.T, b objstore.Bucket, writer string) *Log {
	t.Helper()
	l, err := Open(context.Background(), b, Options{WriterID: writer})
	if err != nil {
		t.Fatalf("open %s: %v", writer, err)
	}
	return l
}

func mustAppend(t *testing.T, l *Log, cmds ...Command) []Result {
	t.Helper()
	_, res, err := l.Append(context.Background(), cmds)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func encoded(t *testing.T, l *Log) []byte {
	t.Helper()
	var data []byte
	var err error
	l.View(func(s *State) { data, err = EncodeSnapshot(s) })
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Two writers race for the same entry numbers. Each must end with the same
// state, and no offset may be given twice.
func TestRacingWritersAgree(t *testing.T) {
	for name, newBucket := range map[string]func(t *testing.T) objstore.Bucket{
		"mem": func(t *testing.T) objstore.Bucket { return mem.New() },
		"file": func(t *testing.T) objstore.Bucket {
			b, err := file.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBucket(t)
			setup := openLog(t, b, "setup")
			id := mustAppend(t, setup, create("t", 2))[0].TopicID

			const writers, appends = 2, 100
			logs := make([]*Log, writers)
			for i := range logs {
				logs[i] = openLog(t, b, fmt.Sprintf("w%d", i))
			}
			type given struct {
				partition int32
				offset    int64
				n         int32
			}
			var mu sync.Mutex
			var all []given
			var wg sync.WaitGroup
			for w, l := range logs {
				wg.Go(func() {
					for i := range appends {
						part := int32(i % 2)
						n := int32(w + 1)
						_, res, err := l.Append(context.Background(), []Command{commit("t", id, part, plain(n))})
						if err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						mu.Lock()
						all = append(all, given{part, res[0].Chunks[0][0].BaseOffset, n})
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			for _, l := range logs {
				if _, err := l.CatchUp(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if a, b := encoded(t, logs[0]), encoded(t, logs[1]); !bytes.Equal(a, b) {
				t.Fatal("writers disagree on the state after the race")
			}
			// Every offset below each partition's end is given exactly once.
			taken := map[int32]map[int64]bool{0: {}, 1: {}}
			for _, g := range all {
				for o := g.offset; o < g.offset+int64(g.n); o++ {
					if taken[g.partition][o] {
						t.Fatalf("offset %d of partition %d given twice", o, g.partition)
					}
					taken[g.partition][o] = true
				}
			}
			logs[0].View(func(s *State) {
				for p := range int32(2) {
					if next := s.Partition("t", p).NextOffset; int64(len(taken[p])) != next {
						t.Errorf("partition %d: %d offsets given, next offset %d", p, len(taken[p]), next)
					}
				}
				if s.Seq != 1+writers*appends {
					t.Errorf("seq = %d, want %d", s.Seq, 1+writers*appends)
				}
			})
		})
	}
}

// A put whose response is lost did happen: the writer must recognise its own
// entry by its nonce, and not write the commands again at the next number.
func TestAmbiguousAppendIsNotDuplicated(t *testing.T) {
	f := objstorefault.Wrap(mem.New())
	l := openLog(t, f, "w")
	id := mustAppend(t, l, create("t", 1))[0].TopicID

	f.FailPuts("journal/", 2, objstorefault.LoseResponse)
	seq, res, err := l.Append(context.Background(), []Command{commit("t", id, 0, plain(3))})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if seq != 2 || res[0].Chunks[0][0].BaseOffset != 0 {
		t.Fatalf("seq %d result %+v", seq, res[0].Chunks[0][0])
	}
	l.View(func(s *State) {
		if s.Partition("t", 0).NextOffset != 3 || s.Seq != 2 {
			t.Fatalf("state after ambiguous append: seq %d next %d", s.Seq, s.Partition("t", 0).NextOffset)
		}
	})
	// A fresh reader sees the same.
	if got, want := encoded(t, openLog(t, f, "r")), encoded(t, l); !bytes.Equal(got, want) {
		t.Fatal("a fresh replay differs")
	}
}

// A put that failed before it was written is retried at the same number.
func TestFailedAppendIsRetried(t *testing.T) {
	f := objstorefault.Wrap(mem.New())
	l := openLog(t, f, "w")
	f.FailPuts("journal/", 3, objstorefault.FailBefore)
	seq, _, err := l.Append(context.Background(), []Command{create("t", 1)})
	if err != nil || seq != 1 {
		t.Fatalf("append = %d, %v", seq, err)
	}
}

// While the bucket is down, Append gives up when its context does and
// writes nothing; when the bucket returns, appends carry on.
func TestAppendWhileBucketDown(t *testing.T) {
	f := objstorefault.Wrap(mem.New())
	l := openLog(t, f, "w")
	f.SetDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := l.Append(ctx, []Command{create("t", 1)}); err == nil {
		t.Fatal("append succeeded while the bucket was down")
	}
	f.SetDown(false)
	if seq, _, err := l.Append(context.Background(), []Command{create("t", 1)}); err != nil || seq != 1 {
		t.Fatalf("append after recovery = %d, %v", seq, err)
	}
}

func TestSnapshotAndReopen(t *testing.T) {
	b := mem.New()
	l := openLog(t, b, "w")
	id := mustAppend(t, l, create("t", 3))[0].TopicID
	for i := range 50 {
		mustAppend(t, l, commit("t", id, int32(i%3), plain(int32(i+1))))
	}
	seq, err := l.WriteSnapshot(context.Background())
	if err != nil || seq != 51 {
		t.Fatalf("snapshot = %d, %v", seq, err)
	}
	for range 10 {
		mustAppend(t, l, commit("t", id, 1, plain(2)))
	}
	// Reopen: snapshot plus 10 entries.
	r := openLog(t, b, "r")
	if got, want := encoded(t, r), encoded(t, l); !bytes.Equal(got, want) {
		t.Fatal("state from snapshot + tail differs from the writer's")
	}
	// A corrupt newest snapshot is skipped for the replay from the start.
	b.Put(context.Background(), SnapshotKey(55), []byte("garbage"))
	if got, want := encoded(t, openLog(t, b, "r2")), encoded(t, l); !bytes.Equal(got, want) {
		t.Fatal("state after skipping a corrupt snapshot differs")
	}
}

// Proposals that arrive while an entry is being written go together into
// the next one.
func TestCommitterGroupsProposals(t *testing.T) {
	f := objstorefault.Wrap(mem.New())
	l := openLog(t, f, "w")
	c := NewCommitter(l, CommitterOptions{})
	defer c.Close()
	ctx := context.Background()
	_, res, err := c.Submit(ctx, []Command{create("t", 1)})
	if err != nil || res[0].Code != 0 {
		t.Fatalf("submit: %v %+v", err, res)
	}
	id := res[0].TopicID
	f.SetLatency(20 * time.Millisecond) // each entry takes a while to write
	const n = 200
	var wg sync.WaitGroup
	offsets := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			_, res, err := c.Submit(ctx, []Command{commit("t", id, 0, plain(1))})
			if err != nil {
				t.Errorf("submit: %v", err)
				return
			}
			offsets[i] = res[0].Chunks[0][0].BaseOffset
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, o := range offsets {
		if seen[o] {
			t.Fatalf("offset %d given twice", o)
		}
		seen[o] = true
	}
	entries := l.Seq() - 1
	t.Logf("%d proposals written in %d entries", n, entries)
	if entries > n/4 {
		t.Errorf("%d proposals took %d entries: no group commit", n, entries)
	}
}

func TestCommitterCloseFailsQueued(t *testing.T) {
	l := openLog(t, mem.New(), "w")
	c := NewCommitter(l, CommitterOptions{})
	c.Close()
	c.Close() // idempotent
	if _, _, err := c.Submit(context.Background(), []Command{create("t", 1)}); err != ErrClosed {
		t.Fatalf("submit after close: %v", err)
	}
}
