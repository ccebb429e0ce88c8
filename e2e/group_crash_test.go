package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestGroupSurvivesAgentCrash kills (SIGKILL) the only agent while a group
// of three franz-go consumers works through a topic, committing by hand
// after each poll, and starts a new agent process on the same bucket at the
// same Kafka address (with a new node name). The group's membership and its
// committed offsets went through the journal, so the new agent resumes the
// group: the clients reconnect by themselves and carry on with their
// member ids, generation (or epoch) and assignment, while a producer keeps
// writing before, across and after the crash. It runs with the classic
// protocol, cooperative (kgo's default) and eager, and with KIP-848
// (assigned by the agent). The kill lands right after a commit was
// acknowledged, with records fetched and not processed, or processed and
// not committed; the members' commits of those go to the new agent. Then:
//
//  1. every acknowledged record was processed, intact, exactly once;
//  2. no committed offset goes backwards: the successful commits of each
//     partition, in the order their responses arrived, never decrease;
//     and the offsets the new agent reads back right after the restart
//     are at least C, the highest offsets whose commits the old agent
//     acknowledged;
//  3. a record is processed twice only at or above the offsets committed
//     for its partition before it was read again: C for a record read
//     again after the crash (nothing below a committed offset is read
//     twice);
//  4. in the end the group's committed offsets are the partitions' ends,
//     and the new agent lists the group, Stable, of the case's type.
//
// An agent that lost or rolled back acknowledged commits on restart (an
// OffsetCommit answered before its journal entry was durable, a replay
// that skipped entries, a new agent that did not read the journal's tail)
// fails 2, and 3 as the consumers rewind below C and process records
// again. One that let a member of the dead agent's generation commit to
// the new one could move offsets backwards (2); one that lost records or
// served them wrong fails 1; one that lost the final commits fails 4.
//
// It logs the records produced, processed and processed more than once, C
// and the offsets read back, and the time from the kill to the first
// record processed that the clients fetched from the new agent and to the
// first commit the new agent acknowledged. A failing case prints the
// consumers' kgo log and the agents' logs.
func TestGroupSurvivesAgentCrash(t *testing.T) {
	cases := []struct {
		name      string
		groupType string // as ListGroups reports it
		protocol  []kgo.Opt
	}{
		// kgo's default: a member given back the partitions it had keeps
		// its place in them.
		{"classic-cooperative", "classic", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
		// Every rebalance revokes everything: each member starts again
		// from the offsets the new agent says were committed.
		{"classic-eager", "classic", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}},
		{"kip848", "consumer", []kgo.Opt{kgo.ServerSideBalancer()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { testGroupCrash(t, tc.name, tc.groupType, tc.protocol) })
	}
}

func testGroupCrash(t *testing.T, name, groupType string, protocol []kgo.Opt) {
	const (
		topic      = "crash"
		group      = "crash-group"
		partitions = 6
		members    = 3
		total      = 30_000
		// before are produced before the consumers start; the rest
		// while they consume, chunk every pace (1,500 a second), so
		// that the producer is still at work when the agent is killed
		// and carries on against the new one.
		before = 15_000
		chunk  = 300
		pace   = 200 * time.Millisecond
		// The agent is killed once killAfter records have been
		// processed, at least memberShare by each member, and every
		// partition has had a commit acknowledged.
		killAfter   = 8_000
		memberShare = 500
	)
	start := time.Now()
	bucket := t.TempDir()
	first := localstacktest.StartProcess(t, localstacktest.ProcessOptions{Bucket: bucket, NodeName: "group-crash-" + name + "-1"})
	seeds := []string{first.Addr()}
	createTopic(t, newAdmin(t, seeds), topic, partitions, nil)

	// kgo's default producer is idempotent with acks=all.
	ctx := testContext(t, 2*time.Minute)
	producer := newClient(t, seeds, producerOpts(kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(16<<10))...)
	acks := newAckLog()
	produce := func(i int) {
		r := testRecord(topic, i)
		r.Partition = int32(i) % partitions
		producer.Produce(ctx, r, acks.promise(i))
	}
	for i := range before {
		produce(i)
	}
	if err := producer.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if ok, failed := acks.count(); ok != before {
		t.Fatalf("%d of %d records acknowledged, %d failed: %v", ok, before, failed, acks.err)
	}

	run := newGroupRun(partitions)
	clientLog := &syncBuffer{}
	stop := make(chan struct{})
	var consumers sync.WaitGroup
	for m := range members {
		member := fmt.Sprintf("member-%d", m)
		cl := newClient(t, seeds, append([]kgo.Opt{
			kgo.ClientID(member),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(),
			// Without it a rebalance may land between a poll and its
			// commit, and the member commits partitions it no longer
			// owns, rewinding its successor's commits: kgo's
			// documented hazard, not the broker's.
			kgo.BlockRebalanceOnPoll(),
			kgo.FetchMaxWait(500 * time.Millisecond),
			kgo.WithHooks(run),
			kgo.WithLogger(kgo.BasicLogger(clientLog, kgo.LogLevelInfo, func() string {
				return time.Now().Format("15:04:05.000 ") + member + " "
			})),
		}, protocol...)...)
		consumers.Go(func() { run.consume(t, ctx, cl, member, stop) })
	}
	stopConsumers := sync.OnceFunc(func() {
		close(stop)
		consumers.Wait()
	})
	t.Cleanup(stopConsumers)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the consumers' log:\n%s", clientLog.String())
		}
	})

	var producing sync.WaitGroup
	producing.Go(func() {
		for i := before; i < total; i++ {
			produce(i)
			if (i-before+1)%chunk == 0 {
				select {
				case <-time.After(pace):
				case <-ctx.Done():
					return
				}
			}
		}
	})

	waitFor(t, 60*time.Second, func() bool { return run.consuming(killAfter, members, memberShare, partitions) })
	// The kill follows an acknowledged commit as closely as it can: an
	// agent that answered a commit before its journal entry was written
	// would most likely lose it now.
	select {
	case <-run.commitAcked:
	default:
	}
	select {
	case <-run.commitAcked:
	case <-time.After(5 * time.Second):
		t.Fatalf("no commit acknowledged for 5 s")
	}
	killAt := time.Now()
	first.Kill()
	killed := time.Since(killAt)
	ackedAtKill, _ := acks.count()
	processedAtKill := run.processedCount()
	// A commit acknowledged before the new agent starts was
	// acknowledged by the old one.
	c := run.committedBefore(time.Now())
	second := localstacktest.StartProcess(t, localstacktest.ProcessOptions{
		Bucket: bucket, NodeName: "group-crash-" + name + "-2", Listen: first.Addr(),
	})
	run.newAgentReady()
	ready := time.Since(killAt)
	adm := newAdmin(t, []string{second.Addr()})
	readBack, err := groupOffsets(ctx, adm, group, topic)
	if err != nil {
		t.Fatalf("committed offsets from the new agent: %v", err)
	}
	for p, off := range c {
		if readBack[p] < off {
			t.Errorf("partition %d: the new agent reads back committed offset %d; the old one had acknowledged a commit of %d", p, readBack[p], off)
		}
	}

	producing.Wait()
	if err := producer.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if ok, failed := acks.count(); ok != total || failed != 0 {
		t.Fatalf("%d of %d records acknowledged, %d failed; want all acknowledged (first error: %v)", ok, total, failed, acks.err)
	}
	// Every record in the log was acknowledged, so once as many
	// records have been processed, all of them have (check verifies).
	const processWithin = 30 * time.Second
	for deadline := time.Now().Add(processWithin); run.processedCount() < total; {
		if time.Now().After(deadline) {
			t.Fatalf("%v after the producer finished, %d of %d records processed; not processed (partition: first offsets): %s",
				processWithin, run.processedCount(), total, run.missing(acks, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The group re-formed on the new agent, with the protocol of the case.
	groups, err := adm.ListGroups(ctx)
	switch g, ok := groups[group]; {
	case err != nil:
		t.Errorf("list groups: %v", err)
	case !ok:
		t.Errorf("the new agent does not list group %s", group)
	case g.GroupType != groupType || g.State != "Stable":
		t.Errorf("the new agent lists group %s as a %s group in state %s, want a Stable %s group", group, g.GroupType, g.State, groupType)
	}
	ends := map[int32]int64{}
	acks.mu.Lock()
	for p, as := range acks.parts {
		ends[p] = as[len(as)-1].offset + 1
	}
	acks.mu.Unlock()
	// The consumers commit what they processed last after it, and go on
	// polling and committing what is left uncommitted.
	var final map[int32]int64
	for deadline := time.Now().Add(15 * time.Second); ; {
		final, err = groupOffsets(ctx, adm, group, topic)
		if err == nil && maps.Equal(final, ends) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the group's committed offsets are %v (err %v), want the partitions' ends %v", final, err, ends)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopConsumers()

	run.check(t, acks, c)
	st := run.stats(killAt)
	if st.duplicated > 0 {
		t.Errorf("%d records were processed more than once; the new agent must resume the group, not make it rejoin", st.duplicated)
	}
	t.Logf("%s: %d records produced (%d acknowledged when the agent was killed); %d processed (%d when killed), %d of them more than once (%d extra times); %d partition commits succeeded, %d commit requests failed",
		name, total, ackedAtKill, st.processed, processedAtKill, st.duplicated, st.extra, st.commits, st.failedCommits)
	t.Logf("%s: committed before the kill (C) %v; read back from the new agent %v; in the end %v", name, c, readBack, final)
	t.Logf("%s: the kill took %v, the new agent was ready %v after it; from the kill to the first record processed from the new agent %v, to its first commit %v; the case took %v",
		name, ms(killed), ms(ready), ms(st.firstProcessed), ms(st.firstCommit), ms(time.Since(start)))
}

// ms rounds d to milliseconds.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// groupOffsets returns the group's committed offset of each of topic's
// partitions that has one.
func groupOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resps, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return nil, err
	}
	got := map[int32]int64{}
	resps.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			got[o.Partition] = o.At
		}
	})
	return got, nil
}

// groupRun is what the members of a group did: the records they processed
// and the commits they made, in the order they happened. It is safe for
// concurrent use. It is also the members' kgo hook that tells the records
// they fetched from the restarted agent.
type groupRun struct {
	partitions  int32
	commitAcked chan struct{} // a commit was acknowledged

	mu          sync.Mutex
	processed   []processedRecord // in the order of at
	seen        map[partOffset]int
	byMember    map[string]int
	commits     []commitEvent // successful commits, in the order of at
	failed      int           // commit requests that failed, wholly or partly
	recordErrs  []string      // records not as produced
	restartedAt time.Time     // when the new agent was ready

	// Records buffered since the new agent was ready, until processed.
	// The hook that fills it runs in kgo's fetch path, so it has a
	// mutex of its own.
	restarted atomic.Bool
	freshMu   sync.Mutex
	fresh     map[*kgo.Record]bool
}

type partOffset struct {
	partition int32
	offset    int64
}

// processedRecord is one processing of a record by a member.
type processedRecord struct {
	partOffset
	index  int // the test record's index, from its header
	member string
	at     time.Time
	fresh  bool // fetched from the new agent
}

// commitEvent is one partition's successful commit.
type commitEvent struct {
	partOffset // the committed offset: the next to process
	member     string
	at         time.Time
}

func newGroupRun(partitions int32) *groupRun {
	return &groupRun{
		partitions: partitions, commitAcked: make(chan struct{}, 1),
		seen: map[partOffset]int{}, byMember: map[string]int{}, fresh: map[*kgo.Record]bool{},
	}
}

// newAgentReady notes that the new agent is ready.
func (g *groupRun) newAgentReady() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.restartedAt = time.Now()
	g.restarted.Store(true)
}

// OnFetchRecordBuffered implements kgo.HookFetchRecordBuffered.
func (g *groupRun) OnFetchRecordBuffered(r *kgo.Record) {
	if g.restarted.Load() {
		g.freshMu.Lock()
		g.fresh[r] = true
		g.freshMu.Unlock()
	}
}

// takeFresh reports whether r was buffered after the new agent was ready.
func (g *groupRun) takeFresh(r *kgo.Record) bool {
	if !g.restarted.Load() {
		return false
	}
	g.freshMu.Lock()
	defer g.freshMu.Unlock()
	fresh := g.fresh[r]
	delete(g.fresh, r)
	return fresh
}

// recordCost is how long a member takes to process a record: at most
// about 3,300 records a second each.
const recordCost = 300 * time.Microsecond

// consume runs one member: poll, process (record) every record, commit
// what was polled synchronously, allow rebalancing, until stop is closed.
func (g *groupRun) consume(t *testing.T, ctx context.Context, cl *kgo.Client, member string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollRecords(pollCtx, 1000)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Logf("%s: poll %s[%d]: %v", member, topic, p, err)
			}
		})
		g.mu.Lock()
		now := time.Now() // under the lock: processed is in the order of at
		fs.EachRecord(func(r *kgo.Record) { g.processLocked(r, member, now) })
		g.mu.Unlock()
		// Processing takes time: the members work through the backlog
		// for some seconds, and the agent dies with records fetched
		// and not yet processed, or processed and not yet committed.
		time.Sleep(time.Duration(fs.NumRecords()) * recordCost)

		if uncommitted := cl.UncommittedOffsets(); len(uncommitted) > 0 {
			commitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			cl.CommitOffsetsSync(commitCtx, uncommitted, g.committed(member))
			cancel()
		}
		cl.AllowRebalance()
	}
}

// processLocked records that member processed r at now.
func (g *groupRun) processLocked(r *kgo.Record, member string, now time.Time) {
	po := partOffset{r.Partition, r.Offset}
	i, ok := recordIndex(r)
	switch {
	case !ok:
		g.recordErrs = append(g.recordErrs, fmt.Sprintf("partition %d offset %d: no test record (key %q)", r.Partition, r.Offset, r.Key))
		return
	case int32(i)%g.partitions != r.Partition:
		g.recordErrs = append(g.recordErrs, fmt.Sprintf("partition %d offset %d: record %d belongs in partition %d", r.Partition, r.Offset, i, int32(i)%g.partitions))
	}
	if diff := checkRecord(r, i); diff != "" {
		g.recordErrs = append(g.recordErrs, fmt.Sprintf("partition %d offset %d: %s", r.Partition, r.Offset, diff))
	}
	g.processed = append(g.processed, processedRecord{partOffset: po, index: i, member: member, at: now, fresh: g.takeFresh(r)})
	g.seen[po]++
	g.byMember[member]++
}

// committed returns the callback of member's commits: it records the
// partitions the response says were committed.
func (g *groupRun) committed(member string) func(*kgo.Client, *kmsg.OffsetCommitRequest, *kmsg.OffsetCommitResponse, error) {
	return func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		now := time.Now() // under the lock: commits are in the order of at
		if err != nil {
			g.failed++
			return
		}
		sent := map[int32]int64{} // one topic
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				sent[rp.Partition] = rp.Offset
			}
		}
		failed := false
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					failed = true
					continue
				}
				g.commits = append(g.commits, commitEvent{partOffset{rp.Partition, sent[rp.Partition]}, member, now})
				select {
				case g.commitAcked <- struct{}{}:
				default:
				}
			}
		}
		if failed {
			g.failed++
		}
	}
}

// consuming reports whether n records have been processed, each of
// members members has processed share, and each of partitions partitions
// has had a commit acknowledged.
func (g *groupRun) consuming(n, members, share, partitions int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) < n || len(g.byMember) < members {
		return false
	}
	for _, k := range g.byMember {
		if k < share {
			return false
		}
	}
	committed := map[int32]bool{}
	for _, e := range g.commits {
		committed[e.partition] = true
	}
	return len(committed) == partitions
}

func (g *groupRun) processedCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// missing describes the acknowledged records not processed: how many, and
// the first max offsets of each partition.
func (g *groupRun) missing(acks *ackLog, max int) string {
	acks.mu.Lock()
	defer acks.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[int32][]int64{}
	n := 0
	for p, as := range acks.parts {
		for _, a := range as {
			if g.seen[partOffset{p, a.offset}] == 0 {
				n++
				if len(out[p]) < max {
					out[p] = append(out[p], a.offset)
				}
			}
		}
	}
	return fmt.Sprintf("%d records; %v", n, out)
}

// committedBefore returns, per partition, the highest offset whose commit
// succeeded before t.
func (g *groupRun) committedBefore(t time.Time) map[int32]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := map[int32]int64{}
	for _, e := range g.commits {
		if e.at.Before(t) && e.offset > c[e.partition] {
			c[e.partition] = e.offset
		}
	}
	return c
}

// check asserts 1-3 of TestGroupSurvivesAgentCrash (the parts that need
// the whole run); c is each partition's highest offset committed before
// the restart.
func (g *groupRun) check(t *testing.T, acks *ackLog, c map[int32]int64) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	const show = 10 // errors of each kind shown
	// 1: every acknowledged record was processed, intact.
	g.checkAllProcessedLocked(t, acks)

	// 2: successful commits never go backwards, per partition.
	last := map[int32]commitEvent{}
	back := 0
	for _, e := range g.commits {
		if prev, ok := last[e.partition]; ok && e.offset < prev.offset {
			if back++; back <= show {
				t.Errorf("partition %d: %s committed offset %d after %s had committed %d (%v before)",
					e.partition, e.member, e.offset, prev.member, prev.offset, ms(e.at.Sub(prev.at)))
			}
		}
		last[e.partition] = e
	}
	if back > show {
		t.Errorf("… %d commits went backwards in all", back)
	}

	// 3: a record processed again is at or above every offset whose
	// commit was acknowledged before it was read again (after the
	// restart, that includes C). Both lists are in time order, so one
	// pass over the commits suffices.
	count := map[partOffset]int{}
	floor := map[int32]int64{} // per partition, the highest commit so far
	next := 0                  // the first commit not yet in floor
	below := 0
	for _, pr := range g.processed {
		for ; next < len(g.commits) && g.commits[next].at.Before(pr.at); next++ {
			e := g.commits[next]
			floor[e.partition] = max(floor[e.partition], e.offset)
		}
		if count[pr.partOffset]++; count[pr.partOffset] != 2 {
			continue // the first processing, or a third (checked at the second)
		}
		if lo := floor[pr.partition]; pr.offset < lo {
			if below++; below <= show {
				t.Errorf("partition %d offset %d processed again by %s (fetched from the new agent: %v), below the committed offset %d (C = %d)",
					pr.partition, pr.offset, pr.member, pr.fresh, lo, c[pr.partition])
			}
		}
	}
	if below > show {
		t.Errorf("… %d records processed again below a committed offset in all", below)
	}
}

// checkAllProcessed checks that every acknowledged record was processed,
// and that it was the record acknowledged at that offset: at-least-once
// delivery, whatever happened to the group meanwhile.
func (g *groupRun) checkAllProcessed(t *testing.T, acks *ackLog) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checkAllProcessedLocked(t, acks)
}

func (g *groupRun) checkAllProcessedLocked(t *testing.T, acks *ackLog) {
	t.Helper()
	const show = 10
	for i, e := range g.recordErrs {
		if i == show {
			t.Errorf("… %d records not as produced in all", len(g.recordErrs))
			break
		}
		t.Errorf("processed a record not as produced: %s", e)
	}
	index := map[partOffset]int{}
	for _, pr := range g.processed {
		index[pr.partOffset] = pr.index
	}
	acks.mu.Lock()
	lost := 0
	for p, as := range acks.parts {
		for _, a := range as {
			po := partOffset{p, a.offset}
			i, ok := index[po]
			switch {
			case !ok:
				if lost++; lost <= show {
					t.Errorf("record %d, acknowledged at partition %d offset %d, was never processed", a.index, p, a.offset)
				}
			case i != a.index:
				t.Errorf("partition %d offset %d: processed record %d, but record %d was acknowledged there", p, a.offset, i, a.index)
			}
		}
	}
	acks.mu.Unlock()
	if lost > show {
		t.Errorf("… %d acknowledged records never processed in all", lost)
	}

}

// runStats are the figures TestGroupSurvivesAgentCrash logs.
type runStats struct {
	processed, duplicated, extra int
	commits, failedCommits       int
	// firstProcessed and firstCommit are measured from the kill: the
	// first record processed that was fetched from the new agent, and
	// the first commit the new agent acknowledged.
	firstProcessed, firstCommit time.Duration
}

func (g *groupRun) stats(killAt time.Time) runStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := runStats{processed: len(g.seen), commits: len(g.commits), failedCommits: g.failed}
	for _, n := range g.seen {
		if n > 1 {
			st.duplicated++
			st.extra += n - 1
		}
	}
	for _, pr := range g.processed {
		if pr.fresh {
			st.firstProcessed = pr.at.Sub(killAt)
			break
		}
	}
	for _, e := range g.commits {
		if !e.at.Before(g.restartedAt) {
			st.firstCommit = e.at.Sub(killAt)
			break
		}
	}
	return st
}
