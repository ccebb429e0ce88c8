package agent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// consumeValues reads topic from the start at an isolation level until
// want returns true for the values seen, and returns them with the count
// of each.
func consumeValues(ctx context.Context, t *testing.T, seeds []string, topic string, iso kgo.IsolationLevel, want func(map[string]int) bool) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	for !want(seen) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: %v; saw %d values", topic, ctx.Err(), len(seen))
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consuming %s: %v", topic, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	return seen
}

func txnProducer(t *testing.T, seeds []string, id, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// requestCounter counts the requests a client writes, by key.
type requestCounter struct{ counts [256]atomic.Int64 }

func (h *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	if key >= 0 && int(key) < len(h.counts) {
		h.counts[key].Add(1)
	}
}

// A transactional producer commits the even transactions and aborts the
// odd ones: a read_committed consumer sees every committed record once and
// none of the aborted, a read_uncommitted one sees them all. An open
// transaction holds the last stable offset back until it commits. So with
// both transaction versions: 2, which the agent advertises, where the
// data adds its partitions (no AddPartitionsToTxn on the wire), and 1, of
// a client whose Produce stops at v11.
func TestTransactionsAbortEveryOther(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
		adds bool // whether AddPartitionsToTxn is sent
	}{
		{"transaction version 2", nil, false},
		{"transaction version 1", []kgo.Opt{kgo.MaxVersions(func() *kversion.Versions {
			v := kversion.Stable()
			v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
			return v
		}())}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests := &requestCounter{}
			// franz-go settles the version when a transaction begins, and
			// knows the agent's features only from the second on.
			var afterFirst int64
			abortEveryOther(t, c, strings.ReplaceAll(tc.name, " ", "-"), append(tc.opts, kgo.WithHooks(requests)), func(i int) {
				if i == 0 {
					afterFirst = requests.counts[kmsg.AddPartitionsToTxn].Load()
				}
			})
			if adds := requests.counts[kmsg.AddPartitionsToTxn].Load() - afterFirst; (adds > 0) != tc.adds {
				t.Errorf("%d AddPartitionsToTxn requests sent after the first transaction", adds)
			}
			if ends := requests.counts[kmsg.EndTxn].Load(); ends == 0 {
				t.Error("no EndTxn sent")
			}
		})
	}
}

// abortEveryOther is the test with one client; ended is called after
// each transaction ends.
func abortEveryOther(t *testing.T, c *localstack.Cluster, name string, opts []kgo.Opt, ended func(i int)) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adm := newAdmin(t, c)
	topic, id := "txn-every-other-"+name, "every-other-"+name
	const txns, perTxn = 10, 30
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	p := txnProducer(t, c.Seeds(), id, topic, opts...)
	for i := range txns {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range perTxn {
			r := &kgo.Record{Key: fmt.Appendf(nil, "%d", j), Value: fmt.Appendf(nil, "t%d-r%d", i, j)}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("transaction %d record %d: %v", i, j, err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(i%2 == 0)); err != nil {
			t.Fatalf("end transaction %d: %v", i, err)
		}
		ended(i)
	}
	// One transaction left open, on every partition.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for j := range 6 {
		r := &kgo.Record{Key: fmt.Appendf(nil, "%d", j), Value: fmt.Appendf(nil, "open-r%d", j)}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// DescribeProducers shows where the open transaction starts.
	producers, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}, 2: {}}})
	if err != nil {
		t.Fatal(err)
	}
	openOn := 0
	producers.EachProducer(func(p kadm.DescribedProducer) {
		if p.CurrentTxnStartOffset >= 0 {
			openOn++
		}
	})
	if openOn == 0 {
		t.Errorf("no producer shows an open transaction: %+v", producers)
	}

	// kafka-transactions.sh's view: describe and list.
	described, err := adm.DescribeTransactions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	d := described[id]
	if d.Err != nil || d.State != "Ongoing" || d.TimeoutMillis <= 0 || d.StartTimestamp <= 0 || len(d.Topics[topic]) == 0 {
		t.Errorf("described: %+v", d)
	}
	listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := listed[id]; !ok || l.ProducerID != d.ProducerID || l.State != "Ongoing" {
		t.Errorf("listed: %+v", listed)
	}
	if listed, err := adm.ListTransactions(ctx, nil, []string{"CompleteCommit"}); err != nil || listed[id] != (kadm.ListedTransaction{}) {
		t.Errorf("listed as CompleteCommit: %+v, %v", listed, err)
	}

	committed := txns / 2 * perTxn
	got := consumeValues(ctx, t, c.Seeds(), topic, kgo.ReadCommitted(), func(m map[string]int) bool { return len(m) >= committed })
	checkTxnValues(t, got, func(v string) bool { return strings.HasPrefix(v, "t") && txnIndex(v)%2 == 0 }, committed)

	// The open transaction holds read_committed's end below the end.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := stable.Lookup(topic, o.Partition)
		if s.Offset > o.Offset {
			t.Errorf("partition %d: last stable offset %d above the end %d", o.Partition, s.Offset, o.Offset)
		}
		if s.Offset < o.Offset {
			held++
		}
	})
	if held == 0 {
		t.Errorf("an open transaction on every partition holds no last stable offset back: ends %v, stable %v", ends, stable)
	}

	all := txns*perTxn + 6
	got = consumeValues(ctx, t, c.Seeds(), topic, kgo.ReadUncommitted(), func(m map[string]int) bool { return len(m) >= all })
	checkTxnValues(t, got, func(string) bool { return true }, all)

	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got = consumeValues(ctx, t, c.Seeds(), topic, kgo.ReadCommitted(), func(m map[string]int) bool { return len(m) >= committed+6 })
	checkTxnValues(t, got, func(v string) bool {
		return strings.HasPrefix(v, "open") || txnIndex(v)%2 == 0
	}, committed+6)
	stable, err = adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, _ = adm.ListEndOffsets(ctx, topic)
	ends.Each(func(o kadm.ListedOffset) {
		if s, _ := stable.Lookup(topic, o.Partition); s.Offset != o.Offset {
			t.Errorf("partition %d: last stable offset %d, end %d, with no open transaction", o.Partition, s.Offset, o.Offset)
		}
	})
}

// checkTxnValues checks that got holds want values, each once, each one
// that ok accepts.
func checkTxnValues(t *testing.T, got map[string]int, ok func(string) bool, want int) {
	t.Helper()
	if len(got) != want {
		t.Errorf("saw %d distinct values, want %d", len(got), want)
	}
	for v, n := range got {
		if n != 1 {
			t.Errorf("value %s seen %d times", v, n)
		}
		if !ok(v) {
			t.Errorf("value %s should not be seen", v)
		}
	}
}

func txnIndex(v string) int {
	var i, j int
	fmt.Sscanf(v, "t%d-r%d", &i, &j)
	return i
}

// A second producer with the same transactional id fences the first: the
// first's open transaction is aborted, its produce and its commit fail,
// and the second's transaction commits.
func TestTransactionZombieFenced(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := newAdmin(t, c)
	const topic = "txn-zombie"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	zombie := txnProducer(t, c.Seeds(), "zombie", topic)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fresh := txnProducer(t, c.Seeds(), "zombie", topic)
	if err := fresh.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.ProduceSync(ctx, &kgo.Record{Value: []byte("fresh-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	err := zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-2")}).FirstErr()
	if err == nil {
		t.Fatal("the fenced producer's produce succeeded")
	}
	if !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.ProducerFenced) {
		t.Errorf("fenced produce: %v, want INVALID_PRODUCER_EPOCH or PRODUCER_FENCED", err)
	}
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Error("the fenced producer's commit succeeded")
	}
	if err := fresh.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := consumeValues(ctx, t, c.Seeds(), topic, kgo.ReadCommitted(), func(m map[string]int) bool { return m["fresh-1"] > 0 })
	checkTxnValues(t, got, func(v string) bool { return v == "fresh-1" }, 1)
}

// A transaction open past its transaction.timeout.ms is aborted by the
// coordinator, which fences its producer: the commit fails, the records
// are never read committed, and the last stable offset moves on.
func TestTransactionTimeoutAborts(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := newAdmin(t, c)
	const topic = "txn-timeout"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	p := txnProducer(t, c.Seeds(), "slow", topic, kgo.TransactionTimeout(time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("late")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Wait for the abort: the last stable offset reaches the end (the
	// abort marker's offset is below it).
	for {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := stable.Lookup(topic, 0); o.Offset == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the timed-out transaction was not aborted")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Error("the commit of a timed-out transaction succeeded")
	}
	// A read_committed consumer sees nothing but can read to the end: a
	// marker follows. Produce a committed record to know it got there.
	q := txnProducer(t, c.Seeds(), "after-timeout", topic)
	if err := q.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := q.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := q.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := consumeValues(ctx, t, c.Seeds(), topic, kgo.ReadCommitted(), func(m map[string]int) bool { return m["after"] > 0 })
	checkTxnValues(t, got, func(v string) bool { return v == "after" }, 1)
}

func newAdmin(t *testing.T, c *localstack.Cluster) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// Offsets committed in a transaction are held: a stable OffsetFetch
// (RequireStable) answers UNSTABLE_OFFSET_COMMIT for them until the
// transaction ends; a commit makes them the group's, an abort drops them.
// The requests are sent one by one, as a transactional client sends them.
func TestTxnOffsetCommitIsHeldUntilTheEnd(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := newAdmin(t, c)
	const topic, group, txnID = "txn-offsets", "txn-offsets-group", "txn-offsets"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	id := txnID
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = &id, 60000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %+v", err, ir)
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch
	fetch := func() (int64, int16) {
		t.Helper()
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version, req.Group, req.RequireStable = 7, group, true
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		sp := resp.Topics[0].Partitions[0]
		return sp.Offset, sp.ErrorCode
	}
	for i, commit := range []bool{true, false} {
		add := kmsg.NewPtrAddOffsetsToTxnRequest()
		add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, pid, epoch, group
		if resp, err := add.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
			t.Fatalf("AddOffsetsToTxn: %v %+v", err, resp)
		}
		oc := kmsg.NewPtrTxnOffsetCommitRequest()
		oc.TransactionalID, oc.Group, oc.ProducerID, oc.ProducerEpoch, oc.Generation = txnID, group, pid, epoch, -1
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, int64(10*(i+1))
		rt.Partitions = append(rt.Partitions, rp)
		oc.Topics = append(oc.Topics, rt)
		if resp, err := oc.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("TxnOffsetCommit: %v %+v", err, resp)
		}
		if _, code := fetch(); code != kerr.UnstableOffsetCommit.Code {
			t.Errorf("stable fetch during transaction %d: code %d, want UNSTABLE_OFFSET_COMMIT", i, code)
		}
		end := kmsg.NewPtrEndTxnRequest()
		end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = txnID, pid, epoch, commit
		er, err := end.RequestWith(ctx, cl)
		if err != nil || er.ErrorCode != 0 {
			t.Fatalf("EndTxn: %v %+v", err, er)
		}
		if er.Version >= 5 {
			pid, epoch = er.ProducerID, er.ProducerEpoch
		}
		// The first transaction committed 10; the second, aborted, leaves it.
		if off, code := fetch(); code != 0 || off != 10 {
			t.Errorf("after transaction %d (commit %v): offset %d code %d, want 10 and 0", i, commit, off, code)
		}
	}
}

// A read_committed consumer waiting at the last stable offset is woken
// when the transaction holding it commits: its long poll (30 s here)
// answers at once, not at its timeout.
func TestReadCommittedLongPollWakesOnCommit(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := newAdmin(t, c)
	const topic = "txn-longpoll"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	p := txnProducer(t, c.Seeds(), "longpoll", topic)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("held")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := make(chan time.Time, 1)
	go func() {
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			if fs.NumRecords() > 0 {
				got <- time.Now()
				return
			}
		}
	}()
	// Let the consumer reach the LSO and park its fetch there.
	select {
	case <-got:
		t.Fatal("read_committed returned a record of an open transaction")
	case <-time.After(2 * time.Second):
	}
	committed := time.Now()
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		if d := at.Sub(committed); d > 5*time.Second {
			t.Errorf("the record arrived %v after the commit: the long poll was not woken", d)
		}
	case <-ctx.Done():
		t.Fatal("the committed record never arrived")
	}
}
