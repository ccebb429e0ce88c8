package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/silt-io/silt/objstore"
)

// Row is one line of the comparison table. A nil value is a measurement
// that does not apply ("n/a").
type Row struct {
	Name string `json:"name"`
	// Sub marks a row that details the one above it.
	Sub   bool     `json:"sub,omitempty"`
	Silt  *float64 `json:"silt"`
	Ref   *float64 `json:"reference"`
	Ratio *float64 `json:"ratio"` // silt / reference
	// Target is silt's goal for the row, if it has one, and Met whether
	// this run reached it (nil when it could not be judged).
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
}

func val(v float64) *float64 { return &v }

func ms(d time.Duration) *float64 { return val(float64(d) / float64(time.Millisecond)) }

// perMiB returns n requests per MiB of p, or nil when p's requests were not
// counted.
func perMiB(p Phase, n func(*Requests) int64) *float64 {
	if p.Requests == nil || p.Bytes == 0 {
		return nil
	}
	return val(float64(n(p.Requests)) / p.MiB())
}

func dataGets(p *Phase) *float64 {
	if p == nil || p.Requests == nil {
		return nil
	}
	return val(float64(p.Requests.DataGets()))
}

// ran reports whether the measurement with this step ID was run.
func (res *Result) ran(id string) bool { return slices.Contains(res.Steps, id) }

// rows builds the table from the measurements, leaving out the rows of
// measurements not run.
func (res *Result) rows() []Row {
	c, s, k := res.Config, &res.Silt, &res.Ref
	var rows []Row
	add := func(name string, sv, kv *float64, target string, met func(s float64, ratio *float64) bool) {
		sub := strings.HasPrefix(name, "  ")
		r := Row{Name: strings.TrimSpace(name), Sub: sub, Silt: sv, Ref: kv, Target: target}
		if sv != nil && kv != nil && *kv != 0 {
			r.Ratio = val(*sv / *kv)
		}
		if met != nil && sv != nil {
			m := met(*sv, r.Ratio)
			r.Met = &m
		}
		rows = append(rows, r)
	}
	atMost := func(limit float64) func(float64, *float64) bool {
		return func(v float64, _ *float64) bool { return v <= limit }
	}

	if res.ran("produce") {
		add(fmt.Sprintf("produce MB/s (%d producers, acks=all, %d partitions)", c.Producers, c.Partitions),
			val(s.Produce.MBps()), val(k.Produce.MBps()), "≥ 0.8× ref",
			func(_ float64, ratio *float64) bool { return ratio != nil && *ratio >= 0.8 })
		add("produce records/s", val(s.Produce.RecordsPerSec()), val(k.Produce.RecordsPerSec()), "", nil)
		steady := func(r *Report) *float64 {
			if r.ProduceSteady == nil {
				return nil
			}
			return val(r.ProduceSteady.MBps())
		}
		add("  MB/s from 10% to 90% acknowledged", steady(s), steady(k), "", nil)
	}

	if res.ran("latency") {
		flush := "flush n/a"
		if s.Latency.FlushInterval > 0 {
			flush = "flush " + s.Latency.FlushInterval.String()
		}
		add(fmt.Sprintf("produce latency p50 ms (%g MB/s, %s)", float64(c.LatencyRate)/1e6, flush),
			ms(s.Latency.P50), ms(k.Latency.P50), "", nil)
		// Issue 13's targets: a store without a per-request price
		// answers group-commit style; one with a PUT budget (S3) waits
		// for its next cut, at 20 MB/s and 20 ms + exponential(20 ms)
		// per request (--request-latency 20ms).
		p99Target := 40.0
		if s.Latency.PutBudget > 0 {
			p99Target = 450
		}
		add("produce latency p99 ms", ms(s.Latency.P99), ms(k.Latency.P99), fmt.Sprintf("≤ %g", p99Target), atMost(p99Target))
		add("produce latency p99.9 ms", ms(s.Latency.P999), ms(k.Latency.P999), "", nil)
	}

	if res.ran("e2e") {
		e2e := func(r *Report, agents int) *Latency {
			if i := slices.IndexFunc(r.E2E, func(e E2ERun) bool { return e.Agents == agents }); i >= 0 {
				return &r.E2E[i].Latency
			}
			return nil
		}
		pick := func(l *Latency, f func(*Latency) time.Duration) *float64 {
			if l == nil {
				return nil
			}
			return ms(f(l))
		}
		p50 := func(l *Latency) time.Duration { return l.P50 }
		p99 := func(l *Latency) time.Duration { return l.P99 }
		p999 := func(l *Latency) time.Duration { return l.P999 }
		one, ref, many := e2e(s, 1), e2e(k, 1), e2e(s, e2eAgents)
		add("end-to-end latency p50 ms (one record at a time)", pick(one, p50), pick(ref, p50), "", nil)
		add("end-to-end latency p99 ms", pick(one, p99), pick(ref, p99), "", nil)
		add("end-to-end latency p99.9 ms", pick(one, p999), pick(ref, p999), "", nil)
		if many != nil {
			add(fmt.Sprintf("end-to-end p50 ms, %d agents, producer and consumer on different agents", e2eAgents),
				pick(many, p50), nil, "", nil)
			var target string
			var met func(float64, *float64) bool
			if one != nil {
				// Issue 13's target: the longest path adds at most 10 ms
				// to one agent's p99.
				bound := *ms(one.P99) + 10
				target, met = fmt.Sprintf("≤ %.3g (1 agent + 10)", bound), atMost(bound)
			}
			add("  p99 ms", pick(many, p99), nil, target, met)
			add("  p99.9 ms", pick(many, p999), nil, "", nil)
		}
	}

	for i, p := range s.Puts {
		if i == 0 {
			budget, target := "none: the store has no per-request price (group commit)", ""
			if p.Budget > 0 {
				budget = fmt.Sprintf("%g", p.Budget)
				target = fmt.Sprintf("≈ $%.0f/month", objstore.S3ListPrices.Monthly(p.Budget, 0))
			}
			add("PUT budget per agent, PUTs/s: "+budget, val(p.Budget), nil, target, nil)
		}
		name := fmt.Sprintf("PUTs/s per agent, %d partitions (%g MB/s)", p.Partitions, float64(c.SteadyRate)/1e6)
		if p.Budget > 0 {
			add(name, val(p.PerSec()), nil, fmt.Sprintf("≤ %.4g", p.Bound()), atMost(p.Bound()))
		} else {
			add(name, val(p.PerSec()), nil, "", nil)
		}
		add("  $/month per agent at S3 list prices", val(p.MonthlyCost()), nil, "", nil)
		if seg := p.SegmentsPerSec(); seg >= 0 {
			add("  of which segment uploads/s", val(seg), nil, "", nil)
		}
	}
	if len(s.Puts) == 0 && res.ran("puts") {
		add("PUTs/s per agent", nil, nil, "", nil)
	}

	if res.ran("cached") {
		add("consume from cache MB/s", val(s.Cached.MBps()), val(k.Cached.MBps()), "", nil)
		add("  GETs during it", dataGets(&s.Cached), nil, "0", atMost(0))
	}
	if res.ran("tail") {
		add(fmt.Sprintf("GETs while tailing a producer (%g MB/s)", float64(c.SteadyRate)/1e6),
			dataGets(&s.Tail), nil, "0", atMost(0))
	}

	if res.ran("tls") && s.TLS != nil {
		ratio := func(tls, plain Phase) *float64 {
			if plain.MBps() == 0 {
				return nil
			}
			return val(tls.MBps() / plain.MBps())
		}
		add("produce MB/s over TLS (SSL listener)", val(s.TLS.TLSProduce.MBps()), nil, "", nil)
		add("  over PLAINTEXT on the same agent, just before", val(s.TLS.Produce.MBps()), nil, "", nil)
		add("  TLS / PLAINTEXT produce", ratio(s.TLS.TLSProduce, s.TLS.Produce), nil, "≥ 0.75",
			func(v float64, _ *float64) bool { return v >= 0.75 })
		add("consume MB/s over TLS (from cache)", val(s.TLS.TLSConsume.MBps()), nil, "", nil)
		add("  over PLAINTEXT on the same agent", val(s.TLS.Consume.MBps()), nil, "", nil)
	}

	if res.ran("cold") {
		var coldS, coldK, coldGets *float64
		if s.Cold != nil {
			coldS = val(s.Cold.MBps())
			coldGets = perMiB(*s.Cold, func(r *Requests) int64 { return r.DataGets() })
		}
		if k.Cold != nil {
			coldK = val(k.Cold.MBps())
		}
		add("cold consume MB/s (fresh agent)", coldS, coldK, "", nil)
		add("  GETs per MiB", coldGets, nil, "", nil)
	}

	if !res.ran("produce") {
		return rows
	}
	for _, op := range []struct {
		name string
		n    func(*Requests) int64
	}{
		{"PUT", func(r *Requests) int64 { return r.Put }},
		{"GET", func(r *Requests) int64 { return r.Get }},
		{"LIST", func(r *Requests) int64 { return r.List }},
		{"HEAD", func(r *Requests) int64 { return r.Head }},
	} {
		add(op.name+" per MiB produced", perMiB(s.Produce, op.n), nil, "", nil)
	}
	return rows
}

// Notes explains what the table's numbers leave out.
func (res *Result) Notes() []string {
	var notes []string
	polls := int64(0)
	for _, p := range []*Phase{&res.Silt.Cached, &res.Silt.Tail, res.Silt.Cold} {
		if p != nil && p.Requests != nil {
			polls += p.Requests.FailedGets
		}
	}
	if polls > 0 {
		notes = append(notes, fmt.Sprintf("consume GET counts leave out %d failed GETs: the agent's once-a-second poll for the next journal entry, answered not-found", polls))
	}
	if res.ran("cold") {
		if res.Silt.Cold == nil {
			notes = append(notes, "cold consume needs agents the benchmark starts itself")
		}
		notes = append(notes, res.Ref.Target+" keeps everything in memory: its cold consume is a second read of the same data")
	}
	if res.ran("cluster") {
		if len(res.Silt.Cluster) == 0 {
			notes = append(notes, "the cluster measurement needs agents the benchmark starts itself")
		} else {
			notes = append(notes, fmt.Sprintf("cluster: the agents share this machine's %d CPUs, so throughput cannot grow with them here. "+
				"Commits are the journal proposals of all agents (silt_journal_proposals_total), entries those the committer wrote "+
				"(silt_journal_entries_written_total); commits per entry, the group-commit factor, exceeds 1 as proposals queue "+
				"behind the entry being written", res.Machine.NumCPU))
		}
	}
	notes = append(notes, fmt.Sprintf("MB = 10^6 bytes of record values; %d-byte records, %s compression",
		res.Config.RecordSize, res.Config.Compression))
	return notes
}

// clusterRows builds the cluster table from the cluster measurement.
func (res *Result) clusterRows() []ClusterRow {
	runs := res.Silt.Cluster
	if len(runs) == 0 {
		return nil
	}
	base := runs[0]
	if i := slices.IndexFunc(runs, func(c ClusterRun) bool { return c.Agents == 1 }); i >= 0 {
		base = runs[i]
	}
	rows := make([]ClusterRow, len(runs))
	for i, c := range runs {
		rows[i] = ClusterRow{
			Agents: c.Agents, MBps: c.Produce.MBps(), RecordsPerSec: c.Produce.RecordsPerSec(),
			Ratio:         c.Produce.MBps() / base.Produce.MBps(),
			EntriesPerSec: c.EntriesPerSec(), ProposalsPerSec: c.ProposalsPerSec(), GroupCommit: c.GroupCommit(),
		}
	}
	return rows
}
