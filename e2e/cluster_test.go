package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestClusterOwnership starts three agents on one bucket, in zones a, b
// and b, and asks each of them for the cluster's shape:
//
//   - every agent lists the same three brokers, and names the same leader
//     for every partition, spread over more than one agent;
//   - a client naming zone b in its client.id (silt_zone=b) is given only
//     the two agents of zone b, and leaders among them;
//   - every agent names the same coordinator for a group, and exactly one
//     agent holds the committer role;
//   - records produced through all three (each partition to its leader)
//     are read back from any agent, and every agent's journal state is
//     the same once it has applied the same entries.
func TestClusterOwnership(t *testing.T) {
	t.Parallel()
	zones := []string{"a", "b", "b"}
	c := localstacktest.StartT(t, localstack.Options{
		Agents:    3,
		Configure: func(i int, cfg *agent.Config) { cfg.Zone = zones[i] },
	})
	ctx := testContext(t, 2*time.Minute)
	for _, a := range c.Agents {
		waitFor(t, 10*time.Second, func() bool { return len(a.Members()) == 3 })
	}
	const topic, partitions = "owned", 12
	createTopic(t, newAdmin(t, c.Seeds()), topic, partitions, nil)
	// Metadata is eventually consistent, as in Kafka: the other agents
	// learn of the topic when the committer's entry reaches them.
	for _, a := range c.Agents {
		waitFor(t, 10*time.Second, func() bool {
			known := false
			a.Journal().View(func(s *journal.State) { known = s.Topic(topic) != nil })
			return known
		})
	}

	type view struct {
		brokers []int32
		leaders []int32
	}
	metadata := func(addr, clientID string) view {
		t.Helper()
		cl := newClient(t, []string{addr}, kgo.ClientID(clientID))
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("metadata from %s: %v", addr, err)
		}
		var v view
		for _, b := range resp.Brokers {
			v.brokers = append(v.brokers, b.NodeID)
		}
		slices.Sort(v.brokers)
		v.leaders = make([]int32, partitions)
		for _, p := range resp.Topics[0].Partitions {
			v.leaders[p.Partition] = p.Leader
		}
		return v
	}
	first := metadata(c.Agents[0].Addr(), "plain")
	if len(first.brokers) != 3 {
		t.Fatalf("metadata lists brokers %v, want three", first.brokers)
	}
	if distinct(first.leaders) < 2 {
		t.Errorf("all %d partitions are led by one agent: %v", partitions, first.leaders)
	}
	zoneB := map[int32]bool{c.Agents[1].NodeID(): true, c.Agents[2].NodeID(): true}
	for _, a := range c.Agents {
		if v := metadata(a.Addr(), "plain"); !slices.Equal(v.brokers, first.brokers) || !slices.Equal(v.leaders, first.leaders) {
			t.Errorf("agent %s: brokers %v leaders %v; agent-0 says %v %v", a.NodeName(), v.brokers, v.leaders, first.brokers, first.leaders)
		}
		v := metadata(a.Addr(), "app-7,silt_zone=b")
		if len(v.brokers) != 2 || !zoneB[v.brokers[0]] || !zoneB[v.brokers[1]] {
			t.Errorf("agent %s gives a zone-b client brokers %v, want the two of zone b", a.NodeName(), v.brokers)
		}
		for p, l := range v.leaders {
			if !zoneB[l] {
				t.Errorf("agent %s gives a zone-b client leader %d for partition %d, outside zone b", a.NodeName(), l, p)
			}
		}
	}

	for g := range 5 {
		group := fmt.Sprintf("group-%d", g)
		var want int32 = -1
		for _, a := range c.Agents {
			cl := newClient(t, []string{a.Addr()})
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorKey = group
			resp, err := req.RequestWith(ctx, cl)
			if err != nil || resp.ErrorCode != 0 {
				t.Fatalf("find coordinator of %s at %s: %v %d", group, a.NodeName(), err, resp.ErrorCode)
			}
			if want == -1 {
				want = resp.NodeID
			} else if resp.NodeID != want {
				t.Errorf("agent %s names %d coordinator of %s; another agent names %d", a.NodeName(), resp.NodeID, group, want)
			}
		}
	}
	committers := 0
	for _, a := range c.Agents {
		committers += int(metricValue(t, a.HTTPAddr(), "silt_cluster_committer"))
	}
	if committers != 1 {
		t.Errorf("%d agents hold the committer role, want 1", committers)
	}

	acks := produceRecords(t, newClient(t, c.Seeds(), producerOpts()...), topic, partitions, 0, 3000)
	for _, a := range c.Agents {
		checkLogMatchesAcks(t, readLog(t, []string{a.Addr()}, topic), acks)
	}
	checkSameState(t, c.Agents)
}

// TestSplitCommitters makes two agents both write the journal, as two
// agents with different views of the membership would, while producers
// write through both and a group commits offsets through them: it costs
// lost races and retries, never correctness. Both agents end with the same
// state, and every acknowledged record is in the log once, at the offset
// it was given, in the order produced.
func TestSplitCommitters(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{
		Agents:    2,
		Configure: func(_ int, cfg *agent.Config) { cfg.SoloCommitter = true },
	})
	for _, a := range c.Agents {
		waitFor(t, 10*time.Second, func() bool { return len(a.Members()) == 2 })
	}
	const topic, partitions = "split", 8
	createTopic(t, newAdmin(t, c.Seeds()), topic, partitions, nil)
	// Each producer is seeded with one agent; both agents lead some
	// partitions, so both commit segments of the topic at the same time.
	ctx := testContext(t, 2*time.Minute)
	all := newAckLog()
	var clients []*kgo.Client
	const each = 4000
	for _, a := range c.Agents {
		clients = append(clients, newClient(t, []string{a.Addr()}, producerOpts(kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(8<<10))...))
	}
	for i := range each {
		for k, cl := range clients {
			n := k*100_000 + i
			r := testRecord(topic, n)
			r.Partition = int32(n) % partitions
			cl.Produce(ctx, r, all.promise(n))
		}
	}
	for _, cl := range clients {
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
	if ok, failed := all.count(); ok != 2*each || failed != 0 {
		t.Fatalf("%d of %d records acknowledged, %d failed: %v", ok, 2*each, failed, all.err)
	}
	// Two producers' acknowledgements of one partition interleave: put
	// them in offset order, as the log is.
	for p := range all.parts {
		slices.SortFunc(all.parts[p], func(a, b acked) int { return int(a.offset - b.offset) })
	}
	log := readLog(t, c.Seeds(), topic)
	checkLogMatchesAcks(t, log, all)
	var lost uint64
	for _, a := range c.Agents {
		lost += a.Journal().LostRaces()
	}
	t.Logf("two committers: %d journal entries lost to the other writer and retried", lost)
	if lost == 0 {
		t.Error("no journal race was lost: the two agents did not both commit")
	}
	checkSameState(t, c.Agents)
}

// checkSameState waits until every agent has applied the same entries and
// checks that their states are byte for byte the same.
func checkSameState(t *testing.T, agents []*agent.Agent) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	var top uint64
	for _, a := range agents {
		top = max(top, a.Journal().Seq())
	}
	var want []byte
	for _, a := range agents {
		if err := a.Journal().WaitFor(ctx, top); err != nil {
			t.Fatalf("agent %s: %v", a.NodeName(), err)
		}
		var got []byte
		var err error
		a.Journal().View(func(s *journal.State) {
			if s.Seq == top {
				got, err = journal.EncodeSnapshot(s)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			continue // moved past top meanwhile; compared at top by the others
		}
		if want == nil {
			want = got
		} else if !bytes.Equal(got, want) {
			t.Errorf("agent %s's state at entry %d differs from another agent's", a.NodeName(), top)
		}
	}
}

func distinct(ids []int32) int {
	seen := map[int32]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

// metricValue returns the value of an unlabelled metric an agent serves
// on /metrics, failing the test if it is not there.
func metricValue(t testing.TB, httpAddr, name string) float64 {
	t.Helper()
	v, err := scrapeMetric(httpAddr, name)
	if err != nil {
		t.Fatalf("metric %s from %s: %v", name, httpAddr, err)
	}
	return v
}

func scrapeMetric(httpAddr, name string) (float64, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		return strconv.ParseFloat(strings.TrimSpace(rest), 64)
	}
	return 0, fmt.Errorf("not served (%v)", sc.Err())
}
