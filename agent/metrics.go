package agent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics are the agent's Prometheus metrics. The object store and the
// cache register their own.
type metrics struct {
	requestDuration *prometheus.HistogramVec
	produceBytes    prometheus.Counter
	produceRecords  prometheus.Counter
	produceBatches  prometheus.Counter
	fetchBytes      prometheus.Counter
	fetchRecords    prometheus.Counter
	flushBytes      prometheus.Histogram
	flushChunks     prometheus.Histogram
	commitDuration  prometheus.Histogram
	uploadDuration  prometheus.Histogram

	members         prometheus.Gauge
	proposals       prometheus.Counter
	proposeRetries  prometheus.Counter
	proposeDuration prometheus.Histogram
	entriesWritten  prometheus.Counter
	pushesDropped   prometheus.Counter
	pushFailures    prometheus.Counter
	throttled       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	latency := prometheus.ExponentialBuckets(0.0005, 2, 16) // 0.5ms … 16s
	m := &metrics{
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "silt_request_duration_seconds", Help: "Kafka request latency, from decoding to the response, by API.",
			Buckets: latency,
		}, []string{"api"}),
		produceBytes:   prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_produce_bytes_total", Help: "Record-batch bytes accepted from producers."}),
		produceRecords: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_produce_records_total", Help: "Records accepted from producers."}),
		produceBatches: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_produce_batches_total", Help: "Record batches accepted from producers."}),
		fetchBytes:     prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_fetch_bytes_total", Help: "Record-batch bytes returned to consumers."}),
		fetchRecords:   prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_fetch_records_total", Help: "Records returned to consumers (whole batches)."}),
		flushBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "silt_flush_bytes", Help: "Size of each uploaded segment.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 10),
		}),
		flushChunks: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "silt_flush_chunks", Help: "Partitions (chunks) in each uploaded segment.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "silt_journal_commit_duration_seconds", Help: "Time from proposing a segment's commit to its entry being applied.",
			Buckets: latency,
		}),
		uploadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "silt_segment_upload_duration_seconds", Help: "Time to upload one segment, retries included.",
			Buckets: latency,
		}),
	}
	m.members = prometheus.NewGauge(prometheus.GaugeOpts{Name: "silt_cluster_members", Help: "Live agents in the cluster, as gossip sees it."})
	m.proposals = prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_proposals_total", Help: "Proposals (a produce's segment, an offset commit, an admin change…) this agent committed to the journal."})
	m.proposeRetries = prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_propose_retries_total", Help: "Batches of proposals resent after a failed or ambiguous commit."})
	m.proposeDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "silt_journal_propose_duration_seconds", Help: "Time to commit one batch of proposals, through the committer, until applied here.",
		Buckets: latency,
	})
	m.entriesWritten = prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_entries_written_total", Help: "Journal entries this agent wrote as committer. Proposals over entries, summed over agents, is the group-commit factor."})
	m.pushesDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_pushes_dropped_total", Help: "Journal entries not pushed to a peer whose queue was full (it reads them from the bucket)."})
	m.pushFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_push_failures_total", Help: "Failed pushes of journal entries to a peer."})
	m.throttled = prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_quota_throttled_total", Help: "Requests of clients over a client quota, answered with a throttle time and followed by a muted connection."})
	reg.MustRegister(m.throttled)
	reg.MustRegister(m.members, m.proposals, m.proposeRetries, m.proposeDuration, m.entriesWritten, m.pushesDropped, m.pushFailures)
	reg.MustRegister(m.requestDuration, m.produceBytes, m.produceRecords, m.produceBatches, m.fetchBytes,
		m.fetchRecords, m.flushBytes, m.flushChunks, m.commitDuration, m.uploadDuration)
	return m
}

func (m *metrics) observeRequest(req *request, d time.Duration) {
	m.requestDuration.WithLabelValues(kmsg.NameForKey(req.key)).Observe(d.Seconds())
}

// registerStateMetrics adds the gauges read from the agent's state at
// scrape time, once that state exists.
func (a *Agent) registerStateMetrics() {
	a.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_journal_applied_seq", Help: "Number of the last journal entry this agent applied."},
			func() float64 { return float64(a.journal.Seq()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_journal_lag_entries", Help: "Journal entries known to exist (pushed or read) but not yet applied here."},
			func() float64 { return float64(max(a.journalKnown.Load(), a.journal.Seq()) - a.journal.Seq()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_cluster_committer", Help: "1 if this agent holds the journal committer role."},
			func() float64 { return b2f(a.committerMember().Name == a.cfg.NodeName) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_cluster_compactor", Help: "1 if this agent holds the compactor role."},
			func() float64 { return b2f(a.IsCompactor()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_groups", Help: "Consumer groups this agent coordinates (in memory)."},
			func() float64 { g, _ := a.groups.counts(); return float64(g) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_group_members", Help: "Members of the consumer groups this agent coordinates."},
			func() float64 { _, m := a.groups.counts(); return float64(m) }),
		newLagCollector(a.journal.View, a.ownsGroup),
	)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
