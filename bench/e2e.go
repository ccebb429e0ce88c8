package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
)

// The end-to-end measurement: how long a record takes from the producer's
// send to a consumer's poll, one record at a time, as Kafka's own
// EndToEndLatency tool measures it. Each record is sent once the previous
// one has been read, so the figure is the latency of an idle system (the
// microservice that produces one event at a time), not of a queue.
//
// It runs on the target's agent (and on the reference), and then on a
// cluster of three agents in three zones, where the producer and the
// consumer name different zones in their client.id, so they are served by
// different agents, and neither of those is the committer. That is the
// longest path a record takes in silt: the producer's agent uploads the
// segment and proposes its commit to the committer, the committer pushes
// the entry to the consumer's agent, which reads the segment from the
// bucket to answer its long-polling fetch.

// E2ERun is one end-to-end measurement.
type E2ERun struct {
	// Agents is the number of agents serving the clients (1 for the
	// reference and the target's own agent).
	Agents int `json:"agents"`
	// ProducerNode and ConsumerNode are the node ids the producer and the
	// consumer were served by, and Committer the cluster's committer;
	// -1 where not known.
	ProducerNode int32 `json:"producer_node"`
	ConsumerNode int32 `json:"consumer_node"`
	Committer    int32 `json:"committer"`
	Latency
}

// e2eAgents is the size of the cluster of the end-to-end measurement: a
// producer's agent, a consumer's agent and a committer, all different.
const e2eAgents = 3

// e2eLatency measures the target's end-to-end latency, then, for a target
// that can start clusters, a 3-agent cluster's with the producer and the
// consumer on different agents.
func (r *runner) e2eLatency(ctx context.Context, t Target, rep *Report, ref bool) error {
	topic := r.topic("e2e")
	if err := createTopic(ctx, t.Seeds(), topic, 1); err != nil {
		return err
	}
	lat, err := r.e2eOnce(ctx, t.Seeds(), topic, nil, nil)
	if err != nil {
		return err
	}
	lat.FlushInterval, lat.PutBudget = t.FlushInterval(), t.PutBudget()
	rep.E2E = append(rep.E2E, E2ERun{Agents: 1, ProducerNode: -1, ConsumerNode: -1, Committer: -1, Latency: lat})

	cs, ok := t.(clusterStarter)
	if ref || !ok {
		return nil
	}
	r.progress("%s: %d-agent cluster, producer and consumer on different agents", t.Name(), e2eAgents)
	run, err := r.e2eCluster(ctx, cs, t)
	if err != nil {
		return fmt.Errorf("%d agents: %w", e2eAgents, err)
	}
	rep.E2E = append(rep.E2E, run)
	return nil
}

// e2eCluster starts a cluster of agents in zones of their own and measures
// end-to-end latency from a producer in one non-committer's zone to a
// consumer in the other's.
func (r *runner) e2eCluster(ctx context.Context, cs clusterStarter, t Target) (E2ERun, error) {
	zone := func(i int) string { return fmt.Sprintf("e2e-%d", i) }
	return withCluster(ctx, cs, e2eAgents, func(i int, cfg *agent.Config) { cfg.Zone = zone(i) },
		func(c *cluster) (E2ERun, error) { return r.e2eAcross(ctx, c, t, zone) })
}

// e2eAcross measures end-to-end latency on a started cluster whose agent i
// is in zone(i).
func (r *runner) e2eAcross(ctx context.Context, c *cluster, t Target, zone func(int) string) (E2ERun, error) {
	committer, err := controller(ctx, c.Seeds())
	if err != nil {
		return E2ERun{}, err
	}
	var others []int
	for i, a := range c.Agents {
		if a.NodeID() != committer {
			others = append(others, i)
		}
	}
	if len(others) != e2eAgents-1 {
		return E2ERun{}, fmt.Errorf("committer %d is not one of the %d agents", committer, e2eAgents)
	}
	p, q := others[0], others[1]
	topic := r.topic("e2e-cluster")
	if err := createTopic(ctx, c.Seeds(), topic, 1); err != nil {
		return E2ERun{}, err
	}
	zoned := func(i int) []kgo.Opt { return []kgo.Opt{kgo.ClientID("silt-bench-e2e,silt_zone=" + zone(i))} }
	// A client in a zone is given only that zone's agent: check Metadata
	// says so before measuring, or the run would not be what it claims.
	for _, i := range []int{p, q} {
		led, err := partitionLeaders(ctx, c.Seeds(), topic, 1, zoned(i)...)
		if err != nil {
			return E2ERun{}, err
		}
		if led[c.Agents[i].NodeID()] != 1 {
			return E2ERun{}, fmt.Errorf("a client of zone %s is not sent to that zone's agent %d: leaders %v", zone(i), c.Agents[i].NodeID(), led)
		}
	}
	lat, err := r.e2eOnce(ctx, c.Seeds(), topic, zoned(p), zoned(q))
	if err != nil {
		return E2ERun{}, err
	}
	lat.FlushInterval, lat.PutBudget = t.FlushInterval(), t.PutBudget()
	return E2ERun{Agents: e2eAgents, ProducerNode: c.Agents[p].NodeID(), ConsumerNode: c.Agents[q].NodeID(),
		Committer: committer, Latency: lat}, nil
}

// controller returns the controller id Metadata names: silt's committer.
func controller(ctx context.Context, seeds []string) (int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return 0, fmt.Errorf("metadata client: %w", err)
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("metadata: %w", err)
	}
	return resp.ControllerID, nil
}

// e2eOnce sends records one at a time to partition 0 of topic for
// LatencyWarmup + E2EDuration, each once the previous one was read, and
// returns the percentiles of the records after the warm-up. The records
// carry their sequence number, so a record read twice, out of order or
// not at all fails the run.
func (r *runner) e2eOnce(ctx context.Context, seeds []string, topic string, prodOpts, consOpts []kgo.Opt) (Latency, error) {
	prod, err := r.producer(ctx, seeds, topic, append([]kgo.Opt{
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, prodOpts...)...)
	if err != nil {
		return Latency{}, err
	}
	defer prod.Close()
	cons, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
	}, consOpts...)...)
	if err != nil {
		return Latency{}, fmt.Errorf("consumer client: %w", err)
	}
	defer cons.Close()

	value := slices.Clone(r.pool[0])
	var (
		lat       []time.Duration
		start     = time.Now()
		measuring time.Time
		pending   []*kgo.Record // read past the record waited for: a failure
	)
	for seq := uint64(0); ; seq++ {
		now := time.Now()
		if measuring.IsZero() && now.Sub(start) >= r.cfg.LatencyWarmup {
			measuring = now
		}
		if !measuring.IsZero() && now.Sub(measuring) >= r.cfg.E2EDuration {
			break
		}
		binary.BigEndian.PutUint64(value, seq)
		sent := time.Now()
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: value, Partition: 0}).FirstErr(); err != nil {
			return Latency{}, fmt.Errorf("produce record %d: %w", seq, err)
		}
		for len(pending) == 0 {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return Latency{}, fmt.Errorf("waiting for record %d: %w", seq, err)
			}
			if errs := fs.Errors(); len(errs) > 0 {
				return Latency{}, fmt.Errorf("fetch: %w", errs[0].Err)
			}
			pending = append(pending, fs.Records()...)
		}
		got := pending[0]
		if len(pending) != 1 || got.Offset != int64(seq) || len(got.Value) < 8 || binary.BigEndian.Uint64(got.Value) != seq {
			return Latency{}, fmt.Errorf("read %d records (the first at offset %d) waiting for record %d", len(pending), got.Offset, seq)
		}
		pending = pending[:0]
		if !measuring.IsZero() {
			lat = append(lat, time.Since(sent))
		}
	}
	if len(lat) == 0 {
		return Latency{}, errors.New("no records after the warm-up")
	}
	l := percentiles(lat)
	l.Rate = float64(int64(len(lat))*int64(r.cfg.RecordSize)) / r.cfg.E2EDuration.Seconds()
	return l, nil
}
