package bench

import (
	"bufio"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/silt-io/silt/objstore"
)

// Result is what one run measured, raw and as table rows; it is also the
// `silt bench --json` output.
type Result struct {
	Time    time.Time `json:"time"`
	Machine Machine   `json:"machine"`
	Config  Config    `json:"config"`
	// Steps are the IDs of the measurements run (see StepIDs).
	Steps []string `json:"steps"`
	// Silt and Ref are the measurements of silt and of the reference.
	Silt Report `json:"silt"`
	Ref  Report `json:"reference"`
	// Rows is the comparison table.
	Rows []Row `json:"rows"`
	// ClusterRows is the table of the cluster measurement, one row per
	// cluster (silt only).
	ClusterRows []ClusterRow `json:"cluster_rows,omitempty"`
}

// Machine describes where a run happened: numbers mean little without it.
type Machine struct {
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	CPU        string `json:"cpu,omitempty"` // model name from /proc/cpuinfo
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// CurrentMachine describes the machine the process runs on.
func CurrentMachine() Machine {
	return Machine{
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		CPU:        cpuModel(),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "" where
// there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Report is one target's measurements. A nil pointer is a measurement that
// does not apply to the target (object-store counts of kfake or of agents
// reached over the network).
type Report struct {
	Target string `json:"target"`
	// Produce is the throughput measurement; its Requests are those of
	// producing ProduceBytes, the basis of the requests-per-MiB rows.
	Produce Phase `json:"produce"`
	// ProduceSteady is the stretch of Produce from 10% to 90% of the
	// records acknowledged: throughput without the ramp-up and the last
	// flush, which weigh on short runs (nil if too short to tell).
	ProduceSteady *Phase `json:"produce_steady,omitempty"`
	// Latency is per-record produce latency at LatencyRate.
	Latency Latency `json:"latency"`
	// Puts are the PUT counts at SteadyRate, to Partitions and to
	// ManyPartitions partitions.
	Puts []PutRate `json:"puts,omitempty"`
	// Cached reads the throughput topic back while the writer has it
	// cached; Tail reads a topic while a producer writes it.
	Cached Phase `json:"cached_consume"`
	Tail   Phase `json:"tail_consume"`
	// Cold reads the throughput topic back through a fresh agent; for the
	// reference it is a second plain read.
	Cold *Phase `json:"cold_consume,omitempty"`
	// E2E is the end-to-end measurement: the target's own agent first,
	// then, for silt, a 3-agent cluster (e2e.go).
	E2E []E2ERun `json:"e2e,omitempty"`
	// Cluster is the cluster measurement, one run per cluster size.
	Cluster []ClusterRun `json:"cluster,omitempty"`
	// TLS is the TLS measurement (tls.go); nil when not run or the target
	// has no TLS listener.
	TLS *TLSRun `json:"tls,omitempty"`
}

// Phase is a measured stretch of producing or consuming.
type Phase struct {
	Records  int64         `json:"records"`
	Bytes    int64         `json:"bytes"` // record values
	Duration time.Duration `json:"duration_ns"`
	// Requests are the bucket requests made during the phase; nil when
	// they cannot be counted.
	Requests *Requests `json:"requests,omitempty"`
}

// MBps returns the phase's throughput in MB (10^6 bytes) of record values
// per second.
func (p Phase) MBps() float64 { return float64(p.Bytes) / 1e6 / p.Duration.Seconds() }

// RecordsPerSec returns the phase's throughput in records per second.
func (p Phase) RecordsPerSec() float64 { return float64(p.Records) / p.Duration.Seconds() }

// MiB returns the phase's volume in MiB.
func (p Phase) MiB() float64 { return float64(p.Bytes) / (1 << 20) }

// Requests are the object-store requests of an interval, by billable type.
type Requests struct {
	Put    int64 `json:"put"`
	Get    int64 `json:"get"`
	List   int64 `json:"list"`
	Head   int64 `json:"head"`
	Delete int64 `json:"delete"`
	// FailedGets are GETs answered with an error, almost all of them the
	// not-found answers to the agent polling for the next journal entry
	// (once a second, to see other writers' entries).
	FailedGets int64 `json:"failed_gets"`
	BytesIn    int64 `json:"bytes_in"`
	BytesOut   int64 `json:"bytes_out"`
}

func requestsOf(c objstore.Counts) *Requests {
	return &Requests{
		Put: c.Requests[objstore.OpPut], Get: c.Requests[objstore.OpGet], List: c.Requests[objstore.OpList],
		Head: c.Requests[objstore.OpHead], Delete: c.Requests[objstore.OpDelete],
		FailedGets: c.Errors[objstore.OpGet], BytesIn: c.BytesIn, BytesOut: c.BytesOut,
	}
}

// DataGets returns the GETs that found an object: those a read of records
// costs, without the agent's polls for the next journal entry.
func (r *Requests) DataGets() int64 { return r.Get - r.FailedGets }

// Latency is the distribution of per-record produce latency, from the
// Produce call to the record's promise.
type Latency struct {
	Records int64 `json:"records"` // records in the percentiles
	// Rate is the produce rate achieved, in bytes of record values per
	// second; FlushInterval the agent's during the measurement (0 when
	// unknown or not applicable).
	Rate          float64       `json:"rate"`
	FlushInterval time.Duration `json:"flush_interval_ns"`
	// PutBudget is the agent's PUT budget during the measurement (0 for a
	// store without a per-request price); it decides the p99 target.
	PutBudget float64       `json:"put_budget,omitempty"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	P999      time.Duration `json:"p999_ns"`
	Max       time.Duration `json:"max_ns"`
}

// PutRate is the PUT count of one agent producing at a steady rate.
type PutRate struct {
	Partitions    int32         `json:"partitions"`
	Records       int64         `json:"records"`
	Duration      time.Duration `json:"duration_ns"`
	FlushInterval time.Duration `json:"flush_interval_ns"`
	// Budget is the agent's PUT budget, PUTs a second; 0 when its store
	// has no per-request price (segments are then written group-commit
	// style, as often as the store keeps up) or unknown.
	Budget float64 `json:"put_budget"`
	Puts   int64   `json:"puts"`
	// JournalEntries are the journal entries written meanwhile, each one
	// PUT; -1 when unknown.
	JournalEntries int64 `json:"journal_entries"`
}

// PerSec returns the PUTs per second.
func (p PutRate) PerSec() float64 { return float64(p.Puts) / p.Duration.Seconds() }

// SegmentsPerSec returns the segment uploads per second: the PUTs that are
// not journal entries, or -1 when unknown.
func (p PutRate) SegmentsPerSec() float64 {
	if p.JournalEntries < 0 {
		return -1
	}
	return float64(p.Puts-p.JournalEntries) / p.Duration.Seconds()
}

// Bound returns the PUT rate the design allows: the budget, and one more
// request a second (the cut across the edge of the window); on a store
// without a per-request price, no bound (+Inf).
func (p PutRate) Bound() float64 {
	if p.Budget <= 0 {
		return math.Inf(1)
	}
	return p.Budget + 1
}

// MonthlyCost returns what the PUT rate would cost a month at S3's list
// prices.
func (p PutRate) MonthlyCost() float64 { return objstore.S3ListPrices.Monthly(p.PerSec(), 0) }

// ClusterRun is the produce throughput of a cluster of Agents agents on one
// machine, and the journal traffic meanwhile.
type ClusterRun struct {
	Agents        int           `json:"agents"`
	Partitions    int32         `json:"partitions"`
	FlushInterval time.Duration `json:"flush_interval_ns"`
	// Produce is ClusterBytes produced as fast as the producers go, and
	// the bucket requests meanwhile; ProduceSteady the stretch from 10% to
	// 90% acknowledged, as for the one-agent measurement.
	Produce       Phase  `json:"produce"`
	ProduceSteady *Phase `json:"produce_steady,omitempty"`
	// AgentRecords are the records each agent accepted from the producers
	// (silt_produce_records_total), in start order: all are positive.
	AgentRecords []int64 `json:"agent_records"`
	// AgentProposals are the journal proposals each agent committed
	// (silt_journal_proposals_total) and AgentEntries the journal entries
	// each wrote (silt_journal_entries_written_total): only the committer
	// writes entries.
	AgentProposals []int64 `json:"agent_proposals"`
	AgentEntries   []int64 `json:"agent_entries"`
	// ReadBack read every acknowledged record back through the agents.
	ReadBack *Phase `json:"read_back,omitempty"`
}

// Proposals returns the proposals of all agents.
func (c ClusterRun) Proposals() int64 { return sum(c.AgentProposals) }

// Entries returns the journal entries written, by all agents.
func (c ClusterRun) Entries() int64 { return sum(c.AgentEntries) }

// EntriesPerSec returns the journal entries written per second.
func (c ClusterRun) EntriesPerSec() float64 {
	return float64(c.Entries()) / c.Produce.Duration.Seconds()
}

// ProposalsPerSec returns the proposals (commits) per second.
func (c ClusterRun) ProposalsPerSec() float64 {
	return float64(c.Proposals()) / c.Produce.Duration.Seconds()
}

// GroupCommit returns the group-commit factor: proposals per journal
// entry, 0 when no entry was written.
func (c ClusterRun) GroupCommit() float64 {
	if c.Entries() == 0 {
		return 0
	}
	return float64(c.Proposals()) / float64(c.Entries())
}

func sum(xs []int64) int64 {
	n := int64(0)
	for _, x := range xs {
		n += x
	}
	return n
}

// ClusterRow is one line of the cluster table.
type ClusterRow struct {
	Agents        int     `json:"agents"`
	MBps          float64 `json:"mb_per_sec"`
	RecordsPerSec float64 `json:"records_per_sec"`
	// Ratio is MBps over that of the one-agent cluster (of the first
	// cluster, if none has one agent).
	Ratio           float64 `json:"ratio"`
	EntriesPerSec   float64 `json:"journal_entries_per_sec"`
	ProposalsPerSec float64 `json:"proposals_per_sec"`
	// GroupCommit is proposals per journal entry.
	GroupCommit float64 `json:"group_commit"`
}
