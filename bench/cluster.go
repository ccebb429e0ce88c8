package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/objstore"
)

// The cluster measurement: for each size in Config.ClusterAgents, a fresh
// cluster of that many agents in this process, joined by gossip on
// loopback, on a fresh bucket; producers that bootstrap with every agent
// and write to a topic whose partitions are led by every agent, so every
// agent takes produce requests and proposes its segments' commits; and
// the journal's counters over the produce. Every agent proposes (counted
// by silt_journal_proposals_total), one agent, the committer, writes the
// entries (silt_journal_entries_written_total): proposals per entry is the
// group-commit factor, which should rise with the agents while the
// entries per second do not.

// The agent metrics the measurement reads.
const (
	metricProposals = "silt_journal_proposals_total"
	metricEntries   = "silt_journal_entries_written_total"
	metricRecords   = "silt_produce_records_total"
)

// maxClusterAgents bounds a cluster's size: they all run in this process.
const maxClusterAgents = 16

// clusterStarter is a target that can start clusters of its own, with
// agents configured like its own; the cluster measurement needs one.
type clusterStarter interface {
	// configure, if set, adjusts agent i's configuration before it
	// starts.
	startCluster(ctx context.Context, agents int, configure func(i int, cfg *agent.Config)) (*cluster, error)
}

// cluster is a cluster started for the cluster measurement: agents on
// loopback (Kafka, HTTP for internal RPC, gossip), each registering its
// metrics in a registry of its own.
type cluster struct {
	*localstack.Cluster
	regs    []*prometheus.Registry
	metrics *objstore.Metrics
	flush   time.Duration
	bucket  objstore.Bucket // opened here from BucketURL; nil otherwise
}

// startCluster implements clusterStarter: agents as Local's (flush
// interval, cache), on a fresh bucket of the same kind (a temporary
// directory, an S3 server of its own, or a fresh prefix of BucketURL).
func (l *Local) startCluster(ctx context.Context, agents int, configure func(i int, cfg *agent.Config)) (_ *cluster, err error) {
	c := &cluster{regs: make([]*prometheus.Registry, agents), metrics: objstore.NewMetrics(nil), flush: l.opts.FlushInterval}
	for i := range c.regs {
		c.regs[i] = prometheus.NewRegistry()
	}
	lo := localstack.Options{
		Agents: agents, S3: l.opts.S3, Metrics: c.metrics, Logger: l.opts.Logger,
		// Localstack's defaults otherwise: every port on loopback, gossip
		// joining the agents already started.
		Configure: func(i int, cfg *agent.Config) {
			cfg.FlushInterval = l.opts.FlushInterval
			cfg.CacheBytes = l.opts.CacheBytes
			cfg.Registry = c.regs[i]
			if configure != nil {
				configure(i, cfg)
			}
		},
	}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if l.opts.BucketURL != "" {
		if c.bucket, err = l.opts.openPrefix(ctx, fmt.Sprintf("silt-bench-cluster%d", agents), c.metrics); err != nil {
			return nil, err
		}
		lo.Bucket = c.bucket
	}
	if c.Cluster, err = localstack.Start(ctx, lo); err != nil {
		return nil, fmt.Errorf("start %d agents: %w", agents, err)
	}
	return c, nil
}

// close stops the agents and removes what the cluster created, but for a
// prefix of BucketURL, which is left there.
func (c *cluster) close() error {
	var errs []error
	if c.Cluster != nil {
		errs = append(errs, c.Cluster.Close())
	}
	if c.bucket != nil {
		errs = append(errs, c.bucket.Close())
	}
	return errors.Join(errs...)
}

// converge waits until every agent sees all the others, so that they agree
// on the committer and on who leads which partition.
func (c *cluster) converge(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		all := true
		for _, a := range c.Agents {
			all = all && len(a.Members()) == len(c.Agents)
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gossip: the agents do not all see %d members: %w", len(c.Agents), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// agentCounts are one agent's counters the measurement reads.
type agentCounts struct{ proposals, entries, records int64 }

// counts reads every agent's counters, in start order.
func (c *cluster) counts() ([]agentCounts, error) {
	out := make([]agentCounts, len(c.regs))
	for i, reg := range c.regs {
		mfs, err := reg.Gather()
		if err != nil {
			return nil, fmt.Errorf("agent %d metrics: %w", i, err)
		}
		for _, x := range []struct {
			name string
			v    *int64
		}{{metricProposals, &out[i].proposals}, {metricEntries, &out[i].entries}, {metricRecords, &out[i].records}} {
			v, ok := counter(mfs, x.name)
			if !ok {
				return nil, fmt.Errorf("agent %d has no metric %s", i, x.name)
			}
			*x.v = v
		}
	}
	return out, nil
}

// counter returns the value of the unlabelled counter name.
func counter(mfs []*dto.MetricFamily, name string) (int64, bool) {
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetCounter() == nil {
			continue
		}
		return int64(math.Round(mf.GetMetric()[0].GetCounter().GetValue())), true
	}
	return 0, false
}

// clusterPartitions is the partition count of every cluster's topic: the
// configured count, but at least three per agent of the largest cluster,
// so that every agent leads some partitions. Every cluster gets the same.
func (r *runner) clusterPartitions() int32 {
	most := 1
	for _, n := range r.cfg.ClusterAgents {
		most = max(most, n)
	}
	return max(r.cfg.Partitions, int32(3*most))
}

// clusterThroughput measures each cluster size in turn. It needs a target
// that can start clusters; the reference and agents reached over the
// network have no cluster measurement.
func (r *runner) clusterThroughput(ctx context.Context, t Target, rep *Report, ref bool) error {
	cs, ok := t.(clusterStarter)
	if ref || !ok {
		return nil
	}
	parts := r.clusterPartitions()
	for _, n := range r.cfg.ClusterAgents {
		r.progress("%s: %d-agent cluster", t.Name(), n)
		run, err := r.clusterOne(ctx, cs, n, parts)
		if err != nil {
			return fmt.Errorf("%d agents: %w", n, err)
		}
		rep.Cluster = append(rep.Cluster, run)
	}
	return nil
}

// withCluster starts a cluster of n agents (configured by configure, if
// set), waits until they all see each other, runs measure on it and stops
// it, whatever measure returned.
func withCluster[T any](ctx context.Context, cs clusterStarter, n int, configure func(int, *agent.Config), measure func(*cluster) (T, error)) (_ T, err error) {
	var zero T
	c, err := cs.startCluster(ctx, n, configure)
	if err != nil {
		return zero, err
	}
	defer func() {
		if cerr := c.close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop the cluster: %w", cerr)
		}
	}()
	if err := c.converge(ctx); err != nil {
		return zero, err
	}
	return measure(c)
}

// clusterOne measures one cluster of n agents.
func (r *runner) clusterOne(ctx context.Context, cs clusterStarter, n int, parts int32) (ClusterRun, error) {
	return withCluster(ctx, cs, n, nil, func(c *cluster) (ClusterRun, error) { return r.measureCluster(ctx, c, n, parts) })
}

// measureCluster produces ClusterBytes to a cluster of n agents and reads
// them back.
func (r *runner) measureCluster(ctx context.Context, c *cluster, n int, parts int32) (ClusterRun, error) {
	seeds := c.Seeds()
	topic, err := r.spreadTopic(ctx, c, parts)
	if err != nil {
		return ClusterRun{}, err
	}

	var (
		before  []agentCounts
		req0    objstore.Counts
		readErr error
	)
	v, err := r.produceVolume(ctx, seeds, topic, parts, r.cfg.ClusterBytes, func() {
		before, readErr = c.counts()
		req0 = c.metrics.Snapshot()
	})
	if err != nil {
		return ClusterRun{}, err
	}
	after, err := c.counts()
	if err = errors.Join(readErr, err); err != nil {
		return ClusterRun{}, err
	}
	run := ClusterRun{Agents: n, Partitions: parts, FlushInterval: c.flush, Produce: v.phase, ProduceSteady: v.steady}
	run.Produce.Requests = requestsOf(c.metrics.Snapshot().Sub(req0))
	for i := range after {
		run.AgentRecords = append(run.AgentRecords, after[i].records-before[i].records)
		run.AgentProposals = append(run.AgentProposals, after[i].proposals-before[i].proposals)
		run.AgentEntries = append(run.AgentEntries, after[i].entries-before[i].entries)
	}
	if i := slices.Index(run.AgentRecords, 0); i >= 0 {
		return ClusterRun{}, fmt.Errorf("agent %d (%s) took no produce request: the producers were not spread over the agents", i, c.Agents[i].NodeName())
	}

	// Read everything back through the agents: every acknowledged record
	// once, in order per partition.
	start := time.Now()
	rd, err := newReader(seeds, topic, parts, r.cfg.RecordSize)
	if err != nil {
		return ClusterRun{}, err
	}
	defer rd.close()
	if err := rd.readUntil(ctx, v.counts, nil); err != nil {
		return ClusterRun{}, fmt.Errorf("read back: %w", err)
	}
	run.ReadBack = &Phase{Records: rd.total, Bytes: rd.total * int64(r.cfg.RecordSize), Duration: time.Since(start)}
	return run, nil
}

// spreadTopic creates the cluster's topic with parts partitions, such that
// Metadata names every agent the leader of at least one of them. Leaders
// follow from the topic's name (rendezvous hashing), so an unlucky name is
// replaced by the next.
func (r *runner) spreadTopic(ctx context.Context, c *cluster, parts int32) (string, error) {
	seeds := c.Seeds()
	const attempts = 20
	for attempt := range attempts {
		topic := r.topic(fmt.Sprintf("cluster%d-%d", len(c.Agents), attempt))
		if err := createTopic(ctx, seeds, topic, parts); err != nil {
			return "", err
		}
		led, err := partitionLeaders(ctx, seeds, topic, parts)
		if err != nil {
			return "", err
		}
		all := true
		for _, a := range c.Agents {
			all = all && led[a.NodeID()] > 0
		}
		if all {
			return topic, nil
		}
	}
	return "", fmt.Errorf("no topic of %d partitions out of %d has a partition led by each of the %d agents", parts, attempts, len(c.Agents))
}

// partitionLeaders returns how many of topic's partitions each node leads,
// as Metadata says once it knows every partition's leader, to a client
// with the extra options (a client.id naming a zone).
func partitionLeaders(ctx context.Context, seeds []string, topic string, parts int32, extra ...kgo.Opt) (map[int32]int, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		switch {
		case err != nil:
			last = err
		case len(resp.Topics) != 1:
			last = fmt.Errorf("%d topics in the response", len(resp.Topics))
		case resp.Topics[0].ErrorCode != 0:
			last = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
		case len(resp.Topics[0].Partitions) != int(parts):
			last = fmt.Errorf("%d partitions, want %d", len(resp.Topics[0].Partitions), parts)
		default:
			led := map[int32]int{}
			for _, p := range resp.Topics[0].Partitions {
				if p.ErrorCode == 0 && p.Leader >= 0 {
					led[p.Leader]++
				}
			}
			if n := sumLed(led); n == int(parts) {
				return led, nil
			}
			last = fmt.Errorf("leaders of %d partitions of %d known", sumLed(led), parts)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("metadata of %s: %w (last: %v)", topic, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func sumLed(led map[int32]int) int {
	n := 0
	for _, k := range led {
		n += k
	}
	return n
}
