package e2e

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/localstack/s3server"
	"github.com/silt-io/silt/localstack/s3server/s3servertest"
)

// clusterBucket is where a cluster of agent processes stores: a directory,
// or versitygw through the s3 driver.
type clusterBucket struct {
	url string
	env []string
}

func clusterBuckets(t *testing.T) map[string]func(t *testing.T) clusterBucket {
	return map[string]func(t *testing.T) clusterBucket{
		"file": func(t *testing.T) clusterBucket { return clusterBucket{url: t.TempDir()} },
		"s3": func(t *testing.T) clusterBucket {
			srv := s3servertest.StartT(t)
			return clusterBucket{url: "s3://" + s3server.TestBucket + "/failover", env: srv.Env()}
		},
	}
}

// procCluster is a cluster of `silt agent` processes on one bucket.
type procCluster struct {
	t      *testing.T
	bucket clusterBucket
	name   string
	procs  []*localstacktest.Process // live ones
	seeds  []string                  // every Kafka address clients were given
	n      int
}

func startProcCluster(t *testing.T, name string, bucket clusterBucket, agents int) *procCluster {
	c := &procCluster{t: t, bucket: bucket, name: name}
	for range agents {
		c.add("")
	}
	return c
}

// add starts an agent that joins the live ones; listen, if set, is the
// Kafka address of an agent that was stopped, so clients find it again.
func (c *procCluster) add(listen string) *localstacktest.Process {
	c.t.Helper()
	var join []string
	for _, p := range c.procs {
		join = append(join, p.GossipAddr())
	}
	c.n++
	p := localstacktest.StartProcess(c.t, localstacktest.ProcessOptions{
		Bucket: c.bucket.url, Env: c.bucket.env, NodeName: fmt.Sprintf("%s-%d", c.name, c.n),
		Listen: listen, Join: join,
		Args: []string{"--group-initial-rebalance-delay", "200ms"},
	})
	c.procs = append(c.procs, p)
	if listen == "" {
		c.seeds = append(c.seeds, p.Addr())
	}
	c.waitMembers(len(c.procs))
	return p
}

// waitMembers waits until every live agent sees n members.
func (c *procCluster) waitMembers(n int) {
	c.t.Helper()
	for _, p := range c.procs {
		waitFor(c.t, 15*time.Second, func() bool {
			v, err := scrapeMetric(p.HTTPAddr(), "silt_cluster_members")
			return err == nil && int(v) == n
		})
	}
}

// remove forgets a process that was killed or stopped.
func (c *procCluster) remove(p *localstacktest.Process) {
	for i, q := range c.procs {
		if q == p {
			c.procs = append(c.procs[:i], c.procs[i+1:]...)
			return
		}
	}
}

// committer returns the live agent that holds the committer role.
func (c *procCluster) committer() *localstacktest.Process {
	c.t.Helper()
	for _, p := range c.procs {
		if v, err := scrapeMetric(p.HTTPAddr(), "silt_cluster_committer"); err == nil && v == 1 {
			return p
		}
	}
	c.t.Fatal("no agent holds the committer role")
	return nil
}

// loadRun is a producer at acks=all writing test records at a steady pace
// and a consumer group of three working through them, against a cluster.
type loadRun struct {
	t             *testing.T
	topic         string
	partitions    int32
	acks          *ackLog
	group         *groupRun
	seeds         []string
	producer      *kgo.Client
	produced      int
	stopProducing chan struct{}
	stopConsuming chan struct{}
	producing     sync.WaitGroup
	consumers     sync.WaitGroup
	produceOnce   sync.Once
	consumeOnce   sync.Once
}

func startLoad(t *testing.T, seeds []string, topic string, partitions int32) *loadRun {
	return startLoadWith(t, seeds, topic, partitions, nil)
}

// startLoadWith is startLoad with more options for each member's client
// (its group protocol, an instance id, hooks).
func startLoadWith(t *testing.T, seeds []string, topic string, partitions int32, memberOpts func(member int) []kgo.Opt) *loadRun {
	createTopic(t, newAdmin(t, seeds), topic, partitions, nil)
	ctx := testContext(t, 4*time.Minute)
	l := &loadRun{
		t: t, topic: topic, partitions: partitions, acks: newAckLog(), group: newGroupRun(partitions), seeds: seeds,
		stopProducing: make(chan struct{}), stopConsuming: make(chan struct{}),
	}
	clientLog := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the clients' log:\n%s", clientLog.String())
		}
	})
	logger := func(name string) kgo.Opt {
		return kgo.WithLogger(kgo.BasicLogger(clientLog, kgo.LogLevelInfo, func() string {
			return time.Now().Format("15:04:05.000 ") + name + " "
		}))
	}
	// kgo's default producer: idempotent, acks=all, retrying until the
	// record is acknowledged.
	l.producer = newClient(t, seeds, producerOpts(kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(16<<10), logger("producer"))...)
	for m := range 3 {
		member := fmt.Sprintf("member-%d", m)
		opts := []kgo.Opt{
			kgo.ClientID(member), kgo.ConsumerGroup(topic + "-group"), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.FetchMaxWait(500 * time.Millisecond),
			kgo.WithHooks(l.group), logger(member),
		}
		if memberOpts != nil {
			opts = append(opts, memberOpts(m)...)
		}
		cl := newClient(t, seeds, opts...)
		l.consumers.Go(func() { l.group.consume(t, ctx, cl, member, l.stopConsuming) })
	}
	l.producing.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-l.stopProducing:
				l.produced = i
				return
			default:
			}
			r := testRecord(topic, i)
			r.Partition = int32(i) % partitions
			l.producer.Produce(ctx, r, l.acks.promise(i))
			if i%100 == 99 {
				time.Sleep(50 * time.Millisecond) // about 2,000 records a second
			}
		}
	})
	t.Cleanup(l.halt)
	return l
}

// waitAcked waits until n more records than now are acknowledged.
func (l *loadRun) waitAcked(n int) {
	l.t.Helper()
	from, _ := l.acks.count()
	waitFor(l.t, 60*time.Second, func() bool { ok, _ := l.acks.count(); return ok >= from+n })
}

// finish stops producing, waits for every record to be acknowledged and
// processed, and checks what the group did.
func (l *loadRun) finish() {
	t := l.t
	t.Helper()
	l.produceOnce.Do(func() { close(l.stopProducing) })
	l.producing.Wait()
	ctx := testContext(t, 2*time.Minute)
	if err := l.producer.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	ok, failed := l.acks.count()
	if ok != l.produced || failed != 0 {
		t.Errorf("%d of %d records acknowledged, %d failed; want all acknowledged with no error beyond retries (first: %v)", ok, l.produced, failed, l.acks.err)
	}
	const within = 60 * time.Second
	for deadline := time.Now().Add(within); l.group.processedCount() < ok; {
		if time.Now().After(deadline) {
			l.group.mu.Lock()
			errs := l.group.recordErrs[:min(len(l.group.recordErrs), 5)]
			l.group.mu.Unlock()
			t.Fatalf("%v after the producer finished, %d of %d records processed; not processed (partition: first offsets): %s; records not as produced: %q",
				within, l.group.processedCount(), ok, l.group.missing(l.acks, 10), errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The members commit what they processed, so the group's offsets end
	// at the partitions' ends.
	ends := map[int32]int64{}
	l.acks.mu.Lock()
	for p, as := range l.acks.parts {
		ends[p] = as[len(as)-1].offset + 1
	}
	l.acks.mu.Unlock()
	adm := newAdmin(t, l.seeds)
	var final map[int32]int64
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		final, err = groupOffsets(ctx, adm, l.topic+"-group", l.topic)
		if err == nil && maps.Equal(final, ends) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the group's committed offsets are %v (err %v), want the partitions' ends %v", final, err, ends)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.halt()
	// Exactly once: when a group's coordinator moves, the new one
	// resumes the group from the journal, so the members carry on with
	// their generation (or epoch) and assignment, and their synchronous
	// commits after each poll leave nothing to process again.
	l.group.checkAllProcessed(t, l.acks)
	st := l.group.stats(time.Now())
	t.Logf("%d records produced and acknowledged, %d processed, %d of them more than once; %d partition commits, %d commit requests failed",
		ok, st.processed, st.duplicated, st.commits, st.failedCommits)
	if st.duplicated > 0 {
		t.Errorf("%d records were processed more than once; a coordinator move must not make members rejoin", st.duplicated)
	}
}

// groupProtocols are the consumer group protocols the cluster tests run:
// the classic protocol with kgo's default cooperative-sticky balancer, and
// KIP-848 with the agent assigning.
var groupProtocols = []struct {
	name string
	opts func(member int) []kgo.Opt
}{
	{"classic-cooperative-sticky", func(int) []kgo.Opt { return []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())} }},
	{"kip848", func(int) []kgo.Opt { return []kgo.Opt{kgo.ServerSideBalancer()} }},
}

func (l *loadRun) halt() {
	l.produceOnce.Do(func() { close(l.stopProducing) })
	l.producing.Wait()
	l.consumeOnce.Do(func() { close(l.stopConsuming) })
	l.consumers.Wait()
}

// TestClusterFailover runs three agent processes on one bucket — a
// directory, and versitygw through the s3 driver — with a producer at
// acks=all and a consumer group of three. It kills (SIGKILL) an agent that
// is not the committer, then the committer, then adds a fourth agent with
// an empty cache, all under load. The clients carry on after a metadata
// refresh, and in the end:
//
//   - every record produced was acknowledged, with no error beyond kgo's
//     retries;
//   - every acknowledged record is in the log once, at the offset it was
//     given, in the order produced, as read through the new agent (which
//     serves the history from the bucket);
//   - the group processed every acknowledged record, its commits never
//     went backwards, and no record was processed again below a
//     committed offset (groupRun.check).
func TestClusterFailover(t *testing.T) {
	for name, bucket := range clusterBuckets(t) {
		for _, gp := range groupProtocols {
			if name == "s3" && gp.name == "kip848" {
				continue // the protocol does not depend on the bucket: once is enough
			}
			t.Run(name+"/"+gp.name, func(t *testing.T) { testClusterFailover(t, name, bucket(t), gp.opts) })
		}
	}
}

func testClusterFailover(t *testing.T, name string, bucket clusterBucket, memberOpts func(int) []kgo.Opt) {
	c := startProcCluster(t, "failover-"+name, bucket, 3)
	const topic, partitions = "failover", 6
	load := startLoadWith(t, c.seeds, topic, partitions, memberOpts)
	load.waitAcked(3000)

	committer := c.committer()
	for _, p := range c.procs {
		if p != committer {
			t.Logf("kill -9 %s (not the committer)", p.NodeName())
			p.Kill()
			c.remove(p)
			break
		}
	}
	load.waitAcked(3000)
	committer = c.committer()
	t.Logf("kill -9 %s (the committer)", committer.NodeName())
	committer.Kill()
	c.remove(committer)
	c.waitMembers(1)
	load.waitAcked(3000)

	fresh := c.add("")
	t.Logf("added %s", fresh.NodeName())
	load.waitAcked(3000)
	load.finish()

	log := readLog(t, []string{fresh.Addr()}, topic)
	checkLogMatchesAcks(t, log, load.acks)
	checkProducedOnceInOrder(t, log, partitions)
	if v := metricValue(t, fresh.HTTPAddr(), "silt_fetch_bytes_total"); v == 0 {
		t.Error("the new agent served no fetch")
	}
}

// TestRollingRestart stops each of three agent processes in turn with
// SIGTERM, as a rolling deployment does, and starts it again at the same
// Kafka address, while a producer at acks=all and a consumer group run. No
// produce fails (kgo retries what a leaving agent did not take), nothing
// acknowledged is lost, and the group processes everything.
func TestRollingRestart(t *testing.T) {
	for _, gp := range groupProtocols {
		t.Run(gp.name, func(t *testing.T) { testRollingRestart(t, gp.opts) })
	}
}

func testRollingRestart(t *testing.T, memberOpts func(int) []kgo.Opt) {
	c := startProcCluster(t, "rolling", clusterBucket{url: t.TempDir()}, 3)
	const topic, partitions = "rolling", 6
	load := startLoadWith(t, c.seeds, topic, partitions, memberOpts)
	load.waitAcked(2000)
	for _, p := range slices.Clone(c.procs) {
		t.Logf("restart %s", p.NodeName())
		p.Stop()
		c.remove(p)
		c.waitMembers(len(c.procs))
		c.add(p.Addr())
		load.waitAcked(2000)
	}
	load.finish()
	log := readLog(t, c.seeds, topic)
	checkLogMatchesAcks(t, log, load.acks)
	checkProducedOnceInOrder(t, log, partitions)
}
