package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestTransactionSurvivesCoordinatorCrash kills (SIGKILL) the agent that
// coordinates a transactional id in a cluster of three, in the middle of a
// transaction: records produced and partitions added, no commit yet. The
// transaction's state is in the journal, so another agent, which gossip
// makes the id's coordinator, claims it and carries the transaction on:
// the producer (kgo, unmodified) finds the new coordinator, produces more
// and commits, and a read_committed consumer reads every record of the
// transaction exactly once. Then a second transaction is aborted on the
// new coordinator and none of its records are read committed. On a
// directory and on versitygw.
func TestTransactionSurvivesCoordinatorCrash(t *testing.T) {
	for name, bucket := range clusterBuckets(t) {
		t.Run(name, func(t *testing.T) { testTxnCoordinatorCrash(t, bucket(t)) })
	}
}

func testTxnCoordinatorCrash(t *testing.T, bucket clusterBucket) {
	const (
		topic  = "txn-crash"
		txnID  = "crash-producer"
		before = 90
		after  = 60
	)
	c := startProcCluster(t, "txn-crash", bucket, 3)
	ctx := testContext(t, 2*time.Minute)
	createTopic(t, newAdmin(t, c.seeds), topic, 3, nil)

	coord := txnCoordinator(t, c, txnID)
	p := newClient(t, c.seeds, kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic), kgo.TransactionTimeout(time.Minute), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce := func(from, n int) {
		for i := from; i < from+n; i++ {
			r := &kgo.Record{Partition: int32(i % 3), Value: fmt.Appendf(nil, "v%d", i)}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, before)
	t.Logf("killing %s, the coordinator of %s", coord.NodeName(), txnID)
	coord.Kill()
	c.remove(coord)
	c.waitMembers(len(c.procs))
	killed := time.Now()
	produce(before, after)
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit after the coordinator's crash: %v", err)
	}
	t.Logf("committed %v after the kill", time.Since(killed).Round(time.Millisecond))
	if now := txnCoordinator(t, c, txnID); now == coord {
		t.Fatalf("the dead agent still coordinates %s", txnID)
	}

	// A second transaction, aborted on the new coordinator.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if err := p.ProduceSync(ctx, &kgo.Record{Partition: int32(i % 3), Value: fmt.Appendf(nil, "aborted%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	// And a last one committed, to know the consumer has read past the
	// aborted records.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(before+after, 3)
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	want := before + after + 3
	cons := newClient(t, c.seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := map[string]int{}
	last := map[int32]bool{}
	for len(last) < 3 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), want, ctx.Err())
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consume: %v", e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			var i int
			if _, err := fmt.Sscanf(string(r.Value), "v%d", &i); err == nil && i >= before+after {
				last[r.Partition] = true
			}
		})
	}
	if len(seen) != want {
		t.Errorf("read %d distinct committed records, want %d", len(seen), want)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("%s read %d times", v, n)
		}
		if v[0] != 'v' {
			t.Errorf("read %s, a record of the aborted transaction", v)
		}
	}
}

// txnCoordinator returns the live agent that FindCoordinator names for a
// transactional id.
func txnCoordinator(t *testing.T, c *procCluster, id string) *localstacktest.Process {
	t.Helper()
	cl := newClient(t, c.seeds)
	ctx := testContext(t, 30*time.Second)
	var found *localstacktest.Process
	waitFor(t, 20*time.Second, func() bool {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType, req.CoordinatorKey, req.CoordinatorKeys = 1, id, []string{id}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Coordinators) != 1 || resp.Coordinators[0].ErrorCode != 0 {
			if err == nil && len(resp.Coordinators) == 1 {
				err = kerr.ErrorForCode(resp.Coordinators[0].ErrorCode)
			}
			t.Logf("find coordinator: %v", err)
			return false
		}
		co := resp.Coordinators[0]
		addr := fmt.Sprintf("%s:%d", co.Host, co.Port)
		for _, p := range c.procs {
			if p.Addr() == addr {
				found = p
				return true
			}
		}
		return false
	})
	return found
}
