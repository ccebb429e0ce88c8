package commit

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
)

// TestCommitterOneAnswer: Committer is the rendezvous owner of the role
// among the members, or this agent when Solo, and IsCommitter agrees.
func TestCommitterOneAnswer(t *testing.T) {
	members := []gossip.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	owner, _ := gossip.Owner(members, CommitterKey)
	other := members[0].Name
	if other == owner.Name {
		other = members[1].Name
	}
	for _, tc := range []struct {
		name string
		self string
		solo bool
		want string
	}{
		{"the owner", owner.Name, false, owner.Name},
		{"another member", other, false, owner.Name},
		{"another member, solo", other, true, other},
		{"the owner, solo", owner.Name, true, owner.Name},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := New(Env{Self: tc.self, Solo: tc.solo, Members: func() []gossip.Member { return members }})
			defer n.Close()
			if got := n.Committer().Name; got != tc.want {
				t.Errorf("Committer() = %s, want %s", got, tc.want)
			}
			if got := n.IsCommitter(); got != (tc.want == tc.self) {
				t.Errorf("IsCommitter() = %v, want %v", got, tc.want == tc.self)
			}
		})
	}
}

// counter reads a counter's value.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// countingBucket counts the reads of journal entries, so a test can tell
// an entry that arrived by push from one read from the bucket.
type countingBucket struct {
	objstore.Bucket
	entryReads atomic.Int64
}

func (b *countingBucket) count(key string) {
	if strings.HasPrefix(key, "journal/") {
		b.entryReads.Add(1)
	}
}

func (b *countingBucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	b.count(key)
	return b.Bucket.Get(ctx, key)
}

func (b *countingBucket) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	b.count(key)
	return b.Bucket.GetRange(ctx, key, off, n)
}

func (b *countingBucket) List(ctx context.Context, prefix, after string) iter.Seq2[objstore.ObjectInfo, error] {
	b.count(prefix)
	return b.Bucket.List(ctx, prefix, after)
}

// testNode is one agent's commit path on a shared bucket, with its internal
// RPC on a loopback HTTP server.
type testNode struct {
	*Node
	journal *journal.Log
	bucket  *countingBucket
	reg     *prometheus.Registry
}

// startNodes starts one node per name on one bucket; all see all as
// members. It returns them in the order named.
func startNodes(t *testing.T, names ...string) []*testNode {
	t.Helper()
	shared := mem.New()
	var members []gossip.Member
	nodes := make([]*testNode, len(names))
	var ready atomic.Bool
	for i, name := range names {
		tn := &testNode{bucket: &countingBucket{Bucket: shared}, reg: prometheus.NewRegistry()}
		tn.Node = New(Env{Self: name, Logger: slog.New(slog.DiscardHandler), Bucket: tn.bucket,
			Members: func() []gossip.Member { return members }, CommitTimeout: 10 * time.Second,
			Ready: ready.Load, Registerer: tn.reg})
		mux := http.NewServeMux()
		tn.Register(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		members = append(members, gossip.Member{Name: name, InternalAddr: srv.Listener.Addr().String()})
		lg, err := journal.Open(context.Background(), tn.bucket, journal.Options{WriterID: name, Logger: slog.New(slog.DiscardHandler), Appended: tn.Appended})
		if err != nil {
			t.Fatal(err)
		}
		tn.journal = lg
		tn.Start(lg)
		t.Cleanup(tn.Close)
		nodes[i] = tn
	}
	for _, tn := range nodes {
		tn.SetPeers(members)
	}
	for _, tn := range nodes {
		tn.bucket.entryReads.Store(0) // count from here, not the replay in Open
	}
	ready.Store(true)
	return nodes
}

// committerFirst orders two names so the first holds the committer role.
func committerFirst(a, b string) []string {
	if o, _ := gossip.Owner([]gossip.Member{{Name: a}, {Name: b}}, CommitterKey); o.Name == b {
		return []string{b, a}
	}
	return []string{a, b}
}

// A proposal made on an agent that does not commit goes to the committer
// over the RPC, and is answered once the proposer's own journal has the
// entry.
func TestProposeThroughTheCommitter(t *testing.T) {
	nodes := startNodes(t, committerFirst("one", "two")...)
	committer, other := nodes[0], nodes[1]
	if !committer.IsCommitter() || other.IsCommitter() {
		t.Fatal("the committer role is not where the test put it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq, res, err := other.Proposer().Submit(ctx, []journal.Command{{CreateTopic: &journal.CreateTopic{Name: "t", Partitions: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Code != 0 {
		t.Fatalf("create topic: code %d", res[0].Code)
	}
	if got := other.journal.Seq(); got < seq {
		t.Errorf("answered at entry %d before applying it (at %d)", seq, got)
	}
	if got := counter(t, committer.metrics.entriesWritten); got != 1 {
		t.Errorf("the committer wrote %v entries, want 1", got)
	}
	if got := counter(t, other.metrics.entriesWritten); got != 0 {
		t.Errorf("the other agent wrote %v entries, want 0", got)
	}
	if got := counter(t, other.metrics.proposals); got != 1 {
		t.Errorf("the other agent counted %v proposals, want 1", got)
	}
}

// segBody is the segment the inline tests commit: one chunk, "chunk".
var segBody = []byte("header|chunk|footer")

// createAndCommitInline creates topic t through p and proposes segBody
// inline under object, with one chunk of n records in partition 0.
func createAndCommitInline(t *testing.T, ctx context.Context, p *Proposer, object string, n int32) (uint64, []journal.Result) {
	t.Helper()
	_, res, err := p.Submit(ctx, []journal.Command{{CreateTopic: &journal.CreateTopic{Name: "t", Partitions: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	seq, res, err := p.Submit(ctx, []journal.Command{{CommitSegment: &journal.CommitSegment{
		Object: object, Inline: true, Data: [][]byte{segBody},
		Chunks: []journal.ChunkCommit{{Topic: "t", TopicID: res[0].TopicID, Partition: 0, Pos: 7, Len: 5, RawLen: 5,
			Batches: []journal.Batch{{Records: n, ProducerID: -1, BaseSequence: -1}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return seq, res
}

// An entry that carries an inline segment (stored framed, so its head is
// not JSON) reaches the other agents by push: they apply it without reading
// a journal entry from the bucket.
func TestInlineEntryReachesPeerByPush(t *testing.T) {
	nodes := startNodes(t, committerFirst("one", "two")...)
	committer, peer := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq, res := createAndCommitInline(t, ctx, committer.Proposer(), "segments/aa/inline.seg", 3)
	if res[0].Object != journal.EntryKey(seq) {
		t.Fatalf("the segment was not inlined: it lives in %q", res[0].Object)
	}
	for peer.journal.Seq() < seq {
		select {
		case <-peer.journal.Changed():
		case <-ctx.Done():
			t.Fatalf("the peer never applied entry %d (at %d); push failures %v", seq, peer.journal.Seq(),
				counter(t, committer.metrics.pushFailures))
		}
	}
	if n := peer.bucket.entryReads.Load(); n != 0 {
		t.Errorf("the peer read the journal in the bucket %d times; want every entry pushed", n)
	}
	// The peer counts a push once Offer has returned, a moment after the
	// journal applied the entry.
	for counter(t, peer.metrics.pushApplied) < 2 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if got := counter(t, peer.metrics.pushApplied); got != 2 {
		t.Errorf("the peer applied %v pushed entries, want 2", got)
	}
	// The committer counts a push once the peer has answered it, which is
	// after the peer applied it.
	for counter(t, committer.metrics.pushesSent) < 2 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if got := counter(t, committer.metrics.pushesSent); got != 2 {
		t.Errorf("the committer pushed %v entries, want 2", got)
	}
	peer.journal.View(func(s *journal.State) {
		if p := s.Partition("t", 0); p == nil || p.NextOffset != 3 || len(p.Chunks) != 1 || p.Chunks[0].Object != journal.EntryKey(seq) {
			t.Errorf("the peer's partition: %+v", p)
		}
	})
}

// A segment proposed inline by an agent that does not commit (the role
// moved after its writer chose to inline) is uploaded as an object of its
// own first, and committed as an ordinary segment: only the agent that
// writes an entry can put a segment inside it.
func TestInlineProposalElsewhereIsUploaded(t *testing.T) {
	nodes := startNodes(t, committerFirst("one", "two")...)
	committer, other := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const object = "segments/bb/moved.seg"
	seq, _ := createAndCommitInline(t, ctx, other.Proposer(), object, 1)
	got, err := objstore.ReadAll(ctx, committer.bucket, object)
	if err != nil || string(got) != string(segBody) {
		t.Fatalf("the segment's object holds %q (%v), want %q", got, err, segBody)
	}
	for _, n := range nodes {
		if err := n.journal.WaitFor(ctx, seq); err != nil {
			t.Fatal(err)
		}
		n.journal.View(func(s *journal.State) {
			if p := s.Partition("t", 0); len(p.Chunks) != 1 || p.Chunks[0].Object != object {
				t.Errorf("%s: chunks %+v, want one in %s", n.env.Self, p.Chunks, object)
			}
		})
	}
}
