// Package bench is the workload engine of `silt bench`: it drives franz-go
// producers and consumers against silt and, in the same run and with the
// same workload, against a reference broker (franz-go's in-memory kfake),
// and measures what silt's design promises and costs:
//
//   - produce throughput (acks=all, idempotent) and per-record produce
//     latency at a fixed rate;
//   - object-store PUTs per agent per second, which the design says do not
//     grow with the number of partitions;
//   - consume throughput from the writer's cache, with no GETs, both reading
//     back and tailing a producer;
//   - consume throughput of a fresh agent (cold cache) and its GETs per MiB;
//   - object-store requests per MiB produced;
//   - produce throughput of in-process clusters of 1, 2, 3… agents joined
//     by gossip, and the journal's group commit there: the proposals
//     (commits) all agents made per journal entry the committer wrote.
//
// Every consume phase checks that it read exactly the records produced,
// partition by partition with no gap or duplicate, so a benchmark run is
// also a correctness run. The engine lives in its own package, apart from
// the command's flags and printing, so a tiny configuration runs in the
// package's tests.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
)

// Config sizes the workload. Start from DefaultConfig, which holds every
// default in one place; the defaults make a full run take a few minutes on
// a two-core machine.
type Config struct {
	// RecordSize is the value size of every record. Default 1 KiB.
	RecordSize int `json:"record_size"`
	// Partitions is the partition count of every topic but the one of the
	// many-partition PUT count. Default 8.
	Partitions int32 `json:"partitions"`
	// Producers is the number of producer clients of the throughput
	// measurement. Default 4.
	Producers int `json:"producers"`
	// ProduceBytes is the volume (record values) the throughput measurement
	// produces; the cached and cold consume measurements read it back.
	// Default 1 GiB: long enough that the ramp-up and the last flush do
	// not dominate.
	ProduceBytes int64 `json:"produce_bytes"`
	// LatencyRate is the produce rate, in bytes of record values per
	// second, at which latency is measured. Default 20 MB/s.
	LatencyRate int64 `json:"latency_rate"`
	// LatencyDuration is how long the latency measurement produces, after
	// LatencyWarmup, whose records are left out of the percentiles.
	// Defaults 20s and 1s.
	LatencyDuration time.Duration `json:"latency_duration_ns"`
	LatencyWarmup   time.Duration `json:"latency_warmup_ns"`
	// LatencyFlushInterval is the agent flush interval during the latency
	// measurement, for a silt target that can restart its agents with it.
	// Default the agent's (250ms): the latency of silt's defaults, which
	// a directory answers as soon as a segment is written and S3 within
	// the PUT budget.
	LatencyFlushInterval time.Duration `json:"latency_flush_interval_ns"`
	// E2EDuration is how long the end-to-end measurement sends records,
	// one at a time, after LatencyWarmup, on each of its targets.
	// Default 10s: some thousands of records, enough for a p99.
	E2EDuration time.Duration `json:"e2e_duration_ns"`
	// SteadyRate is the produce rate of the PUT-count and tailing
	// measurements, in bytes of record values per second. Default 8 MB/s.
	SteadyRate int64 `json:"steady_rate"`
	// SteadyDuration is how long the tailing measurement produces, and
	// each PUT-count measurement after SteadyWarmup (whose PUTs are not
	// counted). Defaults 10s and 1s.
	SteadyDuration time.Duration `json:"steady_duration_ns"`
	SteadyWarmup   time.Duration `json:"steady_warmup_ns"`
	// ManyPartitions is the partition count of the second PUT count.
	// Default 1000.
	ManyPartitions int32 `json:"many_partitions"`
	// Compression is the producers' batch codec: none, gzip, snappy, lz4
	// or zstd. Default snappy, franz-go's default.
	Compression string `json:"compression"`
	// Linger is how long producers wait to fill a batch. Default 10ms,
	// franz-go's default.
	Linger time.Duration `json:"linger_ns"`
	// ClusterAgents are the cluster sizes of the cluster measurement, one
	// cluster each, in this order. Default 1, 2, 3.
	ClusterAgents []int `json:"cluster_agents"`
	// ClusterBytes is the volume (record values) produced to each cluster.
	// Default 1 GiB: a few seconds of producing per cluster, some twenty
	// flush intervals, and the whole measurement well under a minute on a
	// two-core machine.
	ClusterBytes int64 `json:"cluster_bytes"`
	// Steps selects the measurements to run by ID (see StepIDs); empty
	// runs them all. A measurement that reads the throughput topic back
	// brings in "produce".
	Steps []string `json:"steps,omitempty"`
	// PhaseTimeout bounds each measurement, so a stuck broker fails the
	// run instead of hanging it. Default 10m.
	PhaseTimeout time.Duration `json:"phase_timeout_ns"`
	// Progress, if set, receives a line as each measurement starts.
	Progress io.Writer `json:"-"`
}

// DefaultConfig returns the configuration `silt bench` runs with when given
// no flags.
func DefaultConfig() Config {
	return Config{
		RecordSize:           1 << 10,
		Partitions:           8,
		Producers:            4,
		ProduceBytes:         1 << 30,
		LatencyRate:          20e6,
		LatencyDuration:      20 * time.Second,
		LatencyWarmup:        time.Second,
		LatencyFlushInterval: agent.DefaultConfig().FlushInterval,
		E2EDuration:          10 * time.Second,
		SteadyRate:           8e6,
		SteadyDuration:       10 * time.Second,
		SteadyWarmup:         time.Second,
		ManyPartitions:       1000,
		Compression:          "snappy",
		Linger:               10 * time.Millisecond,
		ClusterAgents:        []int{1, 2, 3},
		ClusterBytes:         1 << 30,
		PhaseTimeout:         10 * time.Minute,
	}
}

// validate reports the first invalid field. It changes nothing.
func (c *Config) validate() error {
	switch {
	case c.RecordSize < 64:
		return fmt.Errorf("record size %d: must be at least 64", c.RecordSize)
	case c.Partitions < 1 || c.ManyPartitions < 1:
		return fmt.Errorf("partitions %d and %d: must be positive", c.Partitions, c.ManyPartitions)
	case c.Producers < 1:
		return fmt.Errorf("producers %d: must be positive", c.Producers)
	case c.ProduceBytes < int64(c.RecordSize):
		return fmt.Errorf("produce volume %d: must hold at least one record", c.ProduceBytes)
	case c.LatencyRate < int64(c.RecordSize) || c.SteadyRate < int64(c.RecordSize):
		return fmt.Errorf("rates %d and %d B/s: must be at least one record per second", c.LatencyRate, c.SteadyRate)
	case c.LatencyDuration <= 0 || c.SteadyDuration <= 0 || c.E2EDuration <= 0 || c.LatencyWarmup < 0 || c.SteadyWarmup < 0:
		return errors.New("durations must be positive (warm-ups may be zero)")
	case c.LatencyFlushInterval <= 0:
		return fmt.Errorf("latency flush interval %v: must be positive", c.LatencyFlushInterval)
	case c.Linger < 0 || c.PhaseTimeout <= 0:
		return errors.New("linger must not be negative and the phase timeout must be positive")
	case c.ClusterBytes < int64(c.RecordSize):
		return fmt.Errorf("cluster volume %d: must hold at least one record", c.ClusterBytes)
	}
	for _, n := range c.ClusterAgents {
		if n < 1 || n > maxClusterAgents {
			return fmt.Errorf("cluster of %d agents: want 1 to %d", n, maxClusterAgents)
		}
	}
	for _, id := range c.Steps {
		if !slices.ContainsFunc(steps, func(s step) bool { return s.id == id }) {
			return fmt.Errorf("step %q: want one of %s", id, strings.Join(StepIDs(), ", "))
		}
	}
	if _, err := codec(c.Compression); err != nil {
		return err
	}
	return nil
}

// codec maps a compression name to franz-go's codec.
func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// Run measures silt and the reference with the same workload, one
// measurement at a time (silt first, then the reference), and returns the
// results with the table rows built. It closes neither target.
func Run(ctx context.Context, cfg Config, silt, ref Target) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bench config: %w", err)
	}
	res := &Result{Time: time.Now().UTC(), Machine: CurrentMachine(), Config: cfg, Steps: selectSteps(cfg.Steps)}
	res.Silt.Target, res.Ref.Target = silt.Name(), ref.Name()
	r := &runner{cfg: cfg, run: fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e9), pool: valuePool(cfg.RecordSize)}
	both := []struct {
		t   Target
		rep *Report
	}{{silt, &res.Silt}, {ref, &res.Ref}}
	for _, s := range steps {
		if !slices.Contains(res.Steps, s.id) {
			continue
		}
		for i, x := range both {
			if s.siltOnly && i == 1 {
				continue
			}
			r.progress("%s: %s", x.t.Name(), s.name)
			pctx, cancel := context.WithTimeout(ctx, cfg.PhaseTimeout)
			err := s.fn(r, pctx, x.t, x.rep, i == 1)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", x.t.Name(), s.name, err)
			}
		}
	}
	res.Rows = res.rows()
	res.ClusterRows = res.clusterRows()
	return res, nil
}

// step is one measurement. Each step runs on both targets (silt first)
// before the next starts.
type step struct {
	id, name string
	// needs is the step whose results this one reads, if any.
	needs string
	// siltOnly steps do not run on the reference.
	siltOnly bool
	fn       func(r *runner, ctx context.Context, t Target, rep *Report, ref bool) error
}

// steps in the order they run. The order matters for silt: the cached
// consume must follow the produce, and the restarts (cold read, then the
// latency flush interval) come after the steps that read the first agent's
// cache. The cluster measurement starts clusters of its own, so it can go
// anywhere; it goes last.
var steps = []step{
	{id: "produce", name: "produce throughput", fn: (*runner).produceThroughput},
	{id: "cached", name: "consume from cache", needs: "produce", fn: (*runner).cachedConsume},
	{id: "tail", name: "tailing consume", fn: (*runner).tailConsume},
	{id: "puts", name: "PUT count", fn: (*runner).putCount},
	{id: "cold", name: "cold consume", needs: "produce", fn: (*runner).coldConsume},
	{id: "e2e", name: "end-to-end latency", fn: (*runner).e2eLatency},
	{id: "latency", name: "produce latency", fn: (*runner).produceLatency},
	{id: "cluster", name: "cluster throughput and group commit", siltOnly: true, fn: (*runner).clusterThroughput},
	{id: "tls", name: "produce and consume over TLS beside plaintext", siltOnly: true, fn: (*runner).tlsThroughput},
}

// StepIDs returns the IDs Config.Steps selects measurements by, in the
// order they run.
func StepIDs() []string {
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.id
	}
	return ids
}

// selectSteps returns the IDs of the steps to run, in order: those
// selected (all when none is) and the steps they need.
func selectSteps(selected []string) []string {
	want := map[string]bool{}
	for _, id := range selected {
		want[id] = true
	}
	for _, s := range steps {
		if want[s.id] && s.needs != "" {
			want[s.needs] = true
		}
	}
	var ids []string
	for _, s := range steps {
		if len(selected) == 0 || want[s.id] {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// runner carries what the steps of one run share.
type runner struct {
	cfg  Config
	run  string   // prefix of the run's topic names, unique per run
	pool [][]byte // record values
	// counts is the records per partition of each target's throughput
	// topic, which the consume steps must read back exactly.
	counts map[Target][]int64
}

func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

func (r *runner) topic(name string) string { return r.run + "-" + name }
