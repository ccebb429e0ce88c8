package bench_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/silt-io/silt/bench"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestRunTiny runs every measurement with a tiny workload against an
// in-process silt and kfake, and checks the numbers are there and sane.
func TestRunTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	silt, err := bench.StartLocal(ctx, bench.LocalOptions{FlushInterval: 50 * time.Millisecond, CacheBytes: 64 << 20,
		Logger: localstacktest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer silt.Close()
	ref, err := bench.StartKfake()
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	cfg := bench.DefaultConfig()
	cfg.ProduceBytes = 4 << 20
	cfg.Producers = 2
	cfg.LatencyRate, cfg.LatencyDuration, cfg.LatencyWarmup = 2e6, 500*time.Millisecond, 100*time.Millisecond
	cfg.SteadyRate, cfg.SteadyDuration, cfg.SteadyWarmup = 1e6, 500*time.Millisecond, 100*time.Millisecond
	cfg.ManyPartitions = 50
	cfg.ClusterAgents, cfg.ClusterBytes = []int{1}, 2<<20
	cfg.E2EDuration = 500 * time.Millisecond
	cfg.PhaseTimeout = time.Minute
	res, err := bench.Run(ctx, cfg, silt, ref)
	if err != nil {
		t.Fatal(err)
	}

	records := cfg.ProduceBytes / int64(cfg.RecordSize)
	for _, rep := range []bench.Report{res.Silt, res.Ref} {
		if rep.Produce.Records != records || rep.Cached.Records != records || rep.Cold == nil || rep.Cold.Records != records {
			t.Errorf("%s: produced %d, read %d from cache and %v cold; want %d each",
				rep.Target, rep.Produce.Records, rep.Cached.Records, rep.Cold, records)
		}
		if rep.Produce.MBps() <= 0 || rep.Cached.MBps() <= 0 || rep.Cold.MBps() <= 0 {
			t.Errorf("%s: throughputs %v, %v, %v MB/s", rep.Target, rep.Produce.MBps(), rep.Cached.MBps(), rep.Cold.MBps())
		}
		if rep.Tail.Records == 0 {
			t.Errorf("%s: tailing consumer read nothing", rep.Target)
		}
		l := rep.Latency
		if l.Records == 0 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
			t.Errorf("%s: latency %+v", rep.Target, l)
		}
	}

	s := res.Silt
	if s.Produce.Requests == nil || s.Produce.Requests.Put == 0 || s.Produce.Requests.BytesOut == 0 {
		t.Errorf("silt produce requests %+v, want PUTs", s.Produce.Requests)
	}
	if s.Cold.Requests == nil || s.Cold.Requests.DataGets() == 0 {
		t.Errorf("silt cold consume requests %+v, want GETs", s.Cold.Requests)
	}
	if s.Latency.FlushInterval != cfg.LatencyFlushInterval {
		t.Errorf("silt latency measured with flush interval %v, want %v", s.Latency.FlushInterval, cfg.LatencyFlushInterval)
	}
	if len(s.Puts) != 2 || s.Puts[1].Partitions != cfg.ManyPartitions {
		t.Fatalf("silt PUT counts %+v", s.Puts)
	}
	for _, p := range s.Puts {
		if p.Puts == 0 || p.JournalEntries <= 0 || p.Records == 0 || p.Duration <= 0 {
			t.Errorf("silt PUT count %+v", p)
		}
	}
	// End to end: the agent, then three agents where the producer's, the
	// consumer's and the committer are three different ones; the
	// reference only as itself.
	if len(s.E2E) != 2 || len(res.Ref.E2E) != 1 || s.E2E[0].Agents != 1 || res.Ref.E2E[0].Agents != 1 {
		t.Fatalf("end-to-end runs: silt %+v, kfake %+v", s.E2E, res.Ref.E2E)
	}
	if c := s.E2E[1]; c.Agents != 3 || c.ProducerNode == c.ConsumerNode || c.ProducerNode == c.Committer || c.ConsumerNode == c.Committer {
		t.Errorf("3-agent end-to-end run %+v: want producer, consumer and committer on different agents", c)
	}
	for _, e := range append(slices.Clone(s.E2E), res.Ref.E2E...) {
		if l := e.Latency; l.Records == 0 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
			t.Errorf("end-to-end latency of %d agents: %+v", e.Agents, l)
		}
	}

	if res.Ref.Produce.Requests != nil || res.Ref.Puts != nil {
		t.Errorf("kfake has object-store counts: %+v %+v", res.Ref.Produce.Requests, res.Ref.Puts)
	}
	if len(s.Cluster) != 1 || len(res.ClusterRows) != 1 || res.Ref.Cluster != nil {
		t.Errorf("cluster measurement: silt %+v, rows %+v, kfake %+v", s.Cluster, res.ClusterRows, res.Ref.Cluster)
	}

	if tr := s.TLS; tr == nil || tr.TLSProduce.Records != records || tr.Produce.Records != records ||
		tr.TLSConsume.Records != records || tr.Consume.Records != records || tr.TLSProduce.MBps() <= 0 {
		t.Errorf("TLS measurement %+v, want %d records each way", tr, records)
	}
	if res.Ref.TLS != nil {
		t.Errorf("kfake has a TLS measurement: %+v", res.Ref.TLS)
	}

	if len(res.Rows) == 0 {
		t.Fatal("no rows")
	}
	for _, row := range res.Rows {
		if row.Silt != nil && *row.Silt < 0 {
			t.Errorf("row %q: silt %v", row.Name, *row.Silt)
		}
	}
	if res.Rows[0].Ratio == nil || *res.Rows[0].Ratio <= 0 {
		t.Errorf("row %q has no ratio", res.Rows[0].Name)
	}
}

// TestClusterTiny runs the cluster measurement alone on a two-agent
// cluster and checks its numbers.
func TestClusterTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	silt, err := bench.StartLocal(ctx, bench.LocalOptions{FlushInterval: 50 * time.Millisecond, CacheBytes: 64 << 20,
		Logger: localstacktest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer silt.Close()
	ref, err := bench.StartKfake()
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	cfg := bench.DefaultConfig()
	cfg.Steps = []string{"cluster"}
	cfg.ClusterAgents, cfg.ClusterBytes = []int{2}, 4<<20
	cfg.Producers = 2
	cfg.PhaseTimeout = time.Minute
	res, err := bench.Run(ctx, cfg, silt, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Steps, []string{"cluster"}) || len(res.Rows) != 0 || res.Silt.Produce.Records != 0 {
		t.Errorf("ran %v, with %d rows and %d records produced by the one-agent measurement; want the cluster measurement alone",
			res.Steps, len(res.Rows), res.Silt.Produce.Records)
	}
	if len(res.Silt.Cluster) != 1 || len(res.ClusterRows) != 1 {
		t.Fatalf("cluster runs %+v, rows %+v; want one of each", res.Silt.Cluster, res.ClusterRows)
	}
	c, row := res.Silt.Cluster[0], res.ClusterRows[0]
	t.Logf("cluster run %+v; row %+v", c, row)
	records := cfg.ClusterBytes / int64(cfg.RecordSize)
	if c.Agents != 2 || c.Partitions < 6 || c.Produce.Records != records || c.ReadBack == nil || c.ReadBack.Records != records {
		t.Errorf("%d agents, %d partitions, %d records acknowledged and %v read back; want 2, at least 6, %d and %d",
			c.Agents, c.Partitions, c.Produce.Records, c.ReadBack, records, records)
	}
	if len(c.AgentRecords) != 2 || c.AgentRecords[0] <= 0 || c.AgentRecords[1] <= 0 {
		t.Errorf("records per agent %v: want every agent to take produce requests", c.AgentRecords)
	}
	if c.Entries() <= 0 || c.Proposals() < c.Entries() || c.GroupCommit() < 1 {
		t.Errorf("%d proposals, %d entries, group commit %v: want entries, and at least as many proposals",
			c.Proposals(), c.Entries(), c.GroupCommit())
	}
	writers := 0
	for _, n := range c.AgentEntries {
		if n > 0 {
			writers++
		}
	}
	if writers != 1 {
		t.Errorf("entries written per agent %v: want one committer", c.AgentEntries)
	}
	if c.Produce.Requests == nil || c.Produce.Requests.Put < c.Entries() {
		t.Errorf("bucket requests %+v: want at least a PUT per entry", c.Produce.Requests)
	}
	if row.Agents != 2 || row.MBps <= 0 || row.Ratio != 1 || row.EntriesPerSec <= 0 ||
		row.ProposalsPerSec < row.EntriesPerSec || row.GroupCommit != c.GroupCommit() {
		t.Errorf("row %+v", row)
	}

	cfg.Steps = []string{"nonesuch"}
	if _, err := bench.Run(ctx, cfg, silt, ref); err == nil {
		t.Error("an unknown step ran")
	}
}
