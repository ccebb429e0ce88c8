package txns

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/internal/memjournal"
	"github.com/silt-io/silt/journal"
)

// The coordinator's tests run without sockets or a bucket: coordinators
// (one per pretend agent) share a journal kept in memory, time is a fake
// clock, and ownership is whatever the test says.

type harness struct {
	t       *testing.T
	ctx     context.Context
	clock   *clock.Fake
	journal *memjournal.Journal
	owner   string
	coords  map[string]*Coordinator
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, ctx: context.Background(), clock: clock.NewFake(time.Unix(1_700_000_000, 0)), owner: "a", coords: map[string]*Coordinator{}}
	h.journal = memjournal.New(h.clock)
	if _, code := h.journal.Submit(h.ctx, journal.Command{CreateTopic: &journal.CreateTopic{Name: "t", Partitions: 2}}); code != 0 {
		t.Fatalf("create topic: %d", code)
	}
	return h
}

// coord returns the coordinator of the pretend agent name.
func (h *harness) coord(name string) *Coordinator {
	if c := h.coords[name]; c != nil {
		return c
	}
	c := New(Env{
		Clock: h.clock, NodeName: name, Journal: h.journal, Submit: h.journal.Submit,
		Owns: func(string) bool { return h.owner == name },
	})
	h.coords[name] = c
	return c
}

func (h *harness) init(c *Coordinator, id string, timeoutMs int32, pid int64, epoch int16) (int64, int16, int16) {
	r := kmsg.NewPtrInitProducerIDRequest()
	r.Version, r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch = 5, &id, timeoutMs, pid, epoch
	resp := c.InitProducerID(h.ctx, r)
	return resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode
}

func (h *harness) add(c *Coordinator, id string, pid int64, epoch int16, parts ...int32) []int16 {
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.Version, r.TransactionalID, r.ProducerID, r.ProducerEpoch = 3, id, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = "t", parts
	r.Topics = append(r.Topics, rt)
	var codes []int16
	for _, p := range c.AddPartitions(h.ctx, r).Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	return codes
}

func (h *harness) end(c *Coordinator, id string, pid int64, epoch int16, commit bool, version int16) *kmsg.EndTxnResponse {
	r := kmsg.NewPtrEndTxnRequest()
	r.Version, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit = version, id, pid, epoch, commit
	return c.EndTxn(h.ctx, r)
}

func (h *harness) txn(id string) journal.TxnState {
	var t journal.TxnState
	h.journal.View(func(s *journal.State) {
		if st := s.Txn(id); st != nil {
			t = *st
		}
	})
	return t
}

func (h *harness) partition(p int32) journal.Partition {
	var out journal.Partition
	h.journal.View(func(s *journal.State) { out = *s.Partition("t", p) })
	return out
}

// produce commits a transactional batch of n records from the producer to
// partition p, as the produce path would, and returns its result code.
func (h *harness) produce(pid int64, epoch int16, seq int32, p int32, n int32) int16 {
	var topicID journal.TopicID
	h.journal.View(func(s *journal.State) { topicID = s.Topic("t").ID })
	res, code := h.journal.Submit(h.ctx, journal.Command{CommitSegment: &journal.CommitSegment{
		Object: "segments/00/x.seg",
		Chunks: []journal.ChunkCommit{{Topic: "t", TopicID: topicID, Partition: p, Len: 1, RawLen: 1,
			Batches: []journal.Batch{{Records: n, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Txn: true}}}},
	}})
	if code != 0 {
		return code
	}
	return res[0].Chunks[0][0].Code
}

// open initialises id with a timeout, adds partition 0 and commits two
// records there: a transaction open on partition 0.
func (h *harness) open(c *Coordinator, id string, timeoutMs int32) (int64, int16) {
	h.t.Helper()
	pid, epoch, code := h.init(c, id, timeoutMs, -1, -1)
	if code != 0 {
		h.t.Fatalf("init %s: %d", id, code)
	}
	if codes := h.add(c, id, pid, epoch, 0); codes[0] != 0 {
		h.t.Fatalf("add partitions: %v", codes)
	}
	if code := h.produce(pid, epoch, 0, 0, 2); code != 0 {
		h.t.Fatalf("produce: %d", code)
	}
	return pid, epoch
}

func TestTransactionLifecycle(t *testing.T) {
	h := newHarness(t)
	c := h.coord("a")
	pid, epoch, code := h.init(c, "tx", 60000, -1, -1)
	if code != 0 || epoch != 0 {
		t.Fatalf("init: pid %d epoch %d code %d", pid, epoch, code)
	}
	if code := h.produce(pid, epoch, 0, 0, 3); code != kerr.InvalidTxnState.Code {
		t.Errorf("produce before AddPartitionsToTxn: code %d, want INVALID_TXN_STATE", code)
	}
	if codes := h.add(c, "tx", pid, epoch, 0, 1); codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("add partitions: %v", codes)
	}
	if got := h.txn("tx"); got.Status != journal.TxnOngoing || len(got.Partitions) != 2 {
		t.Fatalf("after add: %+v", got)
	}
	if code := h.produce(pid, epoch, 0, 0, 3); code != 0 {
		t.Fatalf("produce: %d", code)
	}
	if p := h.partition(0); p.LastStable() != 0 || p.NextOffset != 3 {
		t.Errorf("open transaction: LSO %d HWM %d, want 0 and 3", p.LastStable(), p.NextOffset)
	}
	resp := h.end(c, "tx", pid, epoch, false, 3)
	if resp.ErrorCode != 0 {
		t.Fatalf("abort: %d", resp.ErrorCode)
	}
	p0 := h.partition(0)
	if p0.NextOffset != 4 || p0.LastStable() != 4 {
		t.Errorf("after abort: HWM %d LSO %d, want 4 and 4 (3 records and a marker)", p0.NextOffset, p0.LastStable())
	}
	if len(p0.Aborted) != 1 || p0.Aborted[0] != (journal.AbortedTxn{ProducerID: pid, FirstOffset: 0, LastOffset: 3}) {
		t.Errorf("aborted index %+v", p0.Aborted)
	}
	last := p0.Chunks[len(p0.Chunks)-1]
	if last.Marker == nil || last.Marker.Commit || last.BaseOffset != 3 {
		t.Errorf("last chunk %+v, want an abort marker at 3", last)
	}
	if p1 := h.partition(1); p1.NextOffset != 1 || len(p1.Aborted) != 0 {
		t.Errorf("partition without data: HWM %d aborted %v, want a marker and no index entry", p1.NextOffset, p1.Aborted)
	}
	if got := h.txn("tx"); got.Status != journal.TxnCompleteAbort || len(got.Partitions) != 0 {
		t.Errorf("after abort: %+v", got)
	}
	// A retried abort answers as the first; a commit now is refused.
	if resp := h.end(c, "tx", pid, epoch, false, 3); resp.ErrorCode != 0 {
		t.Errorf("retried abort: %d", resp.ErrorCode)
	}
	if resp := h.end(c, "tx", pid, epoch, true, 3); resp.ErrorCode != kerr.InvalidTxnState.Code {
		t.Errorf("commit after abort: %d, want INVALID_TXN_STATE", resp.ErrorCode)
	}
	if code := h.produce(pid, epoch, 3, 0, 1); code != kerr.InvalidTxnState.Code {
		t.Errorf("produce after the end: %d, want INVALID_TXN_STATE", code)
	}
}

func TestTransactionFencing(t *testing.T) {
	cases := []struct {
		name string
		// second initialises the id again (another producer) with the
		// first's id and epoch, or as new.
		kip360  bool
		wantErr int16
	}{
		{"new producer fences the old", false, 0},
		{"KIP-360 with the current epoch bumps", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			c := h.coord("a")
			pid, epoch := h.open(c, "tx", 60000)
			askPID, askEpoch := int64(-1), int16(-1)
			if tc.kip360 {
				askPID, askEpoch = pid, epoch
			}
			pid2, epoch2, code := h.init(c, "tx", 60000, askPID, askEpoch)
			if code != tc.wantErr || pid2 != pid || epoch2 != epoch+1 {
				t.Fatalf("second init: pid %d epoch %d code %d; want %d, %d, %d", pid2, epoch2, code, pid, epoch+1, tc.wantErr)
			}
			// The open transaction was aborted on the way.
			if p := h.partition(0); p.LastStable() != p.NextOffset || len(p.Aborted) != 1 {
				t.Errorf("the first producer's transaction is still open: %+v", p)
			}
			if code := h.produce(pid, epoch, 2, 0, 1); code != kerr.InvalidProducerEpoch.Code {
				t.Errorf("zombie produce: %d, want INVALID_PRODUCER_EPOCH", code)
			}
			if codes := h.add(c, "tx", pid, epoch, 1); codes[0] != kerr.ProducerFenced.Code {
				t.Errorf("zombie add partitions: %v, want PRODUCER_FENCED", codes)
			}
			if resp := h.end(c, "tx", pid, epoch, true, 3); resp.ErrorCode != kerr.ProducerFenced.Code {
				t.Errorf("zombie commit: %d, want PRODUCER_FENCED", resp.ErrorCode)
			}
			if resp := h.end(c, "tx", pid, epoch, true, 1); resp.ErrorCode != kerr.InvalidProducerEpoch.Code {
				t.Errorf("zombie commit at v1: %d, want INVALID_PRODUCER_EPOCH", resp.ErrorCode)
			}
			// A KIP-360 init naming the epoch just bumped is taken for a
			// retry of that bump (as Kafka takes it); one naming an
			// epoch older still is fenced.
			if _, e, code := h.init(c, "tx", 60000, pid, epoch); code != 0 || e != epoch+1 {
				t.Errorf("init retried with the previous epoch: epoch %d code %d, want %d and 0", e, code, epoch+1)
			}
			h.init(c, "tx", 60000, -1, -1)
			if _, _, code := h.init(c, "tx", 60000, pid, epoch); code != kerr.ProducerFenced.Code {
				t.Errorf("init with a fenced epoch: %d, want PRODUCER_FENCED", code)
			}
		})
	}
}

// EndTxn v5 bumps the epoch with every completion (KIP-890 part 2); a
// retry with the old epoch is answered as the first.
func TestEndTxnV5BumpsEpoch(t *testing.T) {
	h := newHarness(t)
	c := h.coord("a")
	pid, epoch := h.open(c, "tx", 60000)
	resp := h.end(c, "tx", pid, epoch, true, 5)
	if resp.ErrorCode != 0 || resp.ProducerID != pid || resp.ProducerEpoch != epoch+1 {
		t.Fatalf("commit v5: %+v", resp)
	}
	if again := h.end(c, "tx", pid, epoch, true, 5); again.ErrorCode != 0 || again.ProducerEpoch != epoch+1 {
		t.Errorf("retried commit v5: %+v", again)
	}
	if code := h.produce(pid, epoch, 2, 0, 1); code != kerr.InvalidProducerEpoch.Code {
		t.Errorf("produce at the old epoch: %d", code)
	}
	h.add(c, "tx", pid, epoch+1, 0)
	if code := h.produce(pid, epoch+1, 0, 0, 1); code != 0 {
		t.Errorf("produce at the new epoch from sequence 0: %d", code)
	}
}

// A transaction open past its timeout, by the fake clock, is aborted and
// its producer fenced; one within its timeout is left alone.
func TestTimeoutAbortsAndFences(t *testing.T) {
	h := newHarness(t)
	c := h.coord("a")
	pid, epoch := h.open(c, "slow", 10_000)
	h.clock.Advance(9 * time.Second)
	if n := c.AbortExpired(h.ctx); n != 0 {
		t.Fatalf("aborted %d transactions within their timeout", n)
	}
	h.clock.Advance(2 * time.Second)
	if n := c.AbortExpired(h.ctx); n != 1 {
		t.Fatalf("aborted %d transactions past their timeout, want 1", n)
	}
	if got := h.txn("slow"); got.Status != journal.TxnCompleteAbort || got.Epoch != epoch+1 {
		t.Errorf("after the timeout: %+v", got)
	}
	if p := h.partition(0); p.LastStable() != p.NextOffset || len(p.Aborted) != 1 {
		t.Errorf("partition after the timeout: %+v", p)
	}
	if resp := h.end(c, "slow", pid, epoch, true, 3); resp.ErrorCode != kerr.ProducerFenced.Code {
		t.Errorf("commit after the timeout: %d, want PRODUCER_FENCED", resp.ErrorCode)
	}
	if code := h.produce(pid, epoch, 2, 0, 1); code != kerr.InvalidProducerEpoch.Code {
		t.Errorf("produce after the timeout: %d, want INVALID_PRODUCER_EPOCH", code)
	}
}

// Another agent that claims a transactional id fences the old
// coordinator: its next step is NOT_COORDINATOR, and the new one carries
// the transaction on from the journal.
func TestClaimFencesStaleCoordinator(t *testing.T) {
	h := newHarness(t)
	a := h.coord("a")
	pid, epoch, _ := h.init(a, "tx", 60000, -1, -1)
	h.add(a, "tx", pid, epoch, 0)
	h.owner = "b"
	b := h.coord("b")
	if codes := h.add(b, "tx", pid, epoch, 1); codes[0] != 0 {
		t.Fatalf("add on the new coordinator: %v", codes)
	}
	h.owner = "a" // gossip flaps back, but a's claim is stale
	a.mu.Lock()
	stale := a.mu.held["tx"]
	a.mu.Unlock()
	res, code := h.journal.Submit(h.ctx, journal.Command{EndTxn: &journal.EndTxn{TxnID: "tx", ProducerID: pid, Epoch: epoch, Commit: true, Claim: &stale}})
	if code != 0 || res[0].Code != kerr.NotCoordinator.Code {
		t.Errorf("end under a stale claim: %d %+v, want NOT_COORDINATOR", code, res)
	}
	if got := h.txn("tx"); got.Status != journal.TxnOngoing || len(got.Partitions) != 2 {
		t.Errorf("transaction after the stale end: %+v", got)
	}
	h.owner = "b"
	if resp := h.end(b, "tx", pid, epoch, true, 3); resp.ErrorCode != 0 {
		t.Errorf("commit on the new coordinator: %d", resp.ErrorCode)
	}
	h.owner = "a"
	if _, _, code := h.init(h.coord("c"), "tx", 60000, -1, -1); code != kerr.NotCoordinator.Code {
		t.Errorf("init on an agent that does not own the id: %d", code)
	}
}

func TestInitRejectsTimeoutOverMax(t *testing.T) {
	h := newHarness(t)
	if _, _, code := h.init(h.coord("a"), "tx", int32((DefaultMaxTimeout + time.Second).Milliseconds()), -1, -1); code != kerr.InvalidTransactionTimeout.Code {
		t.Errorf("timeout over the maximum: %d, want INVALID_TRANSACTION_TIMEOUT", code)
	}
}

// Offsets committed in a transaction are held until it ends: applied at
// commit, dropped at abort, and only for a group added to it.
func TestTxnOffsetCommit(t *testing.T) {
	for _, commit := range []bool{true, false} {
		h := newHarness(t)
		c := h.coord("a")
		pid, epoch, _ := h.init(c, "tx", 60000, -1, -1)
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.Version, r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch = 3, "tx", "g", pid, epoch
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 1, 42
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		ok := func() int16 { return 0 }
		if resp := CommitOffsets(h.ctx, h.journal.Submit, r, ok); resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidTxnState.Code {
			t.Errorf("commit before AddOffsetsToTxn: %d, want INVALID_TXN_STATE", resp.Topics[0].Partitions[0].ErrorCode)
		}
		ao := kmsg.NewPtrAddOffsetsToTxnRequest()
		ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = "tx", pid, epoch, "g"
		if resp := c.AddOffsets(h.ctx, ao); resp.ErrorCode != 0 {
			t.Fatalf("add offsets: %d", resp.ErrorCode)
		}
		if resp := CommitOffsets(h.ctx, h.journal.Submit, r, ok); resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("txn offset commit: %d", resp.Topics[0].Partitions[0].ErrorCode)
		}
		pending, visible := false, false
		h.journal.View(func(s *journal.State) {
			pending = s.PendingTxnOffset("g", "t", 1)
			_, visible = s.GroupOffset("g", "t", 1)
		})
		if !pending || visible {
			t.Errorf("before the end: pending %v visible %v, want true false", pending, visible)
		}
		h.end(c, "tx", pid, epoch, commit, 3)
		var o journal.GroupOffset
		h.journal.View(func(s *journal.State) {
			pending = s.PendingTxnOffset("g", "t", 1)
			o, visible = s.GroupOffset("g", "t", 1)
		})
		if pending || visible != commit || (commit && o.Offset != 42) {
			t.Errorf("commit=%v: pending %v visible %v offset %d", commit, pending, visible, o.Offset)
		}
	}
}

// A journal that cannot be written answers COORDINATOR_NOT_AVAILABLE, which
// clients retry; the retried commit, once the journal is back, commits.
func TestJournalDownIsRetriable(t *testing.T) {
	h := newHarness(t)
	c := h.coord("a")
	pid, epoch, _ := h.init(c, "tx", 60000, -1, -1)
	h.add(c, "tx", pid, epoch, 0)
	h.journal.SetDown(true)
	if resp := h.end(c, "tx", pid, epoch, true, 3); resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Errorf("commit with the journal down: %d, want COORDINATOR_NOT_AVAILABLE", resp.ErrorCode)
	}
	h.journal.SetDown(false)
	if resp := h.end(c, "tx", pid, epoch, true, 3); resp.ErrorCode != 0 {
		t.Errorf("retried commit: %d", resp.ErrorCode)
	}
	if got := h.txn("tx"); got.Status != journal.TxnCompleteCommit {
		t.Errorf("after the retry: %+v", got)
	}
}

// AddPartitionsToTxn v4+ (brokers' form) carries several transactions;
// a VerifyOnly one is checked against the state and adds nothing
// (KIP-890), the others are added.
func TestAddPartitionsV4VerifyOnly(t *testing.T) {
	h := newHarness(t)
	c := h.coord("a")
	pid, epoch := h.open(c, "tx", 60000) // Ongoing on partition 0
	pid2, epoch2, _ := h.init(c, "other", 60000, -1, -1)
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.Version = 5
	for _, tx := range []struct {
		id     string
		pid    int64
		epoch  int16
		verify bool
	}{{"tx", pid, epoch, true}, {"tx", pid, epoch - 1, true}, {"other", pid2, epoch2, false}} {
		rt := kmsg.NewAddPartitionsToTxnRequestTransaction()
		rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, rt.VerifyOnly = tx.id, tx.pid, tx.epoch, tx.verify
		topic := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		topic.Topic, topic.Partitions = "t", []int32{0, 1}
		rt.Topics = append(rt.Topics, topic)
		r.Transactions = append(r.Transactions, rt)
	}
	resp := c.AddPartitions(h.ctx, r)
	codes := func(i int) []int16 {
		var out []int16
		for _, p := range resp.Transactions[i].Topics[0].Partitions {
			out = append(out, p.ErrorCode)
		}
		return out
	}
	if got := codes(0); got[0] != 0 || got[1] != kerr.InvalidTxnState.Code {
		t.Errorf("verify: %v, want [0 INVALID_TXN_STATE] (partition 1 was never added)", got)
	}
	if got := codes(1); got[0] != kerr.ProducerFenced.Code {
		t.Errorf("verify at an old epoch: %v, want PRODUCER_FENCED", got)
	}
	if got := codes(2); got[0] != 0 || got[1] != 0 {
		t.Errorf("add: %v", got)
	}
	if tx := h.txn("tx"); len(tx.Partitions) != 1 {
		t.Errorf("verifying added partitions: %+v", tx.Partitions)
	}
	if other := h.txn("other"); other.Status != journal.TxnOngoing || len(other.Partitions) != 2 {
		t.Errorf("the added transaction: %+v", other)
	}
}
