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
	handlerPanics   *prometheus.CounterVec
	authFailures    *prometheus.CounterVec
	produceBytes    prometheus.Counter
	produceRecords  prometheus.Counter
	produceBatches  prometheus.Counter
	fetchBytes      prometheus.Counter
	fetchRecords    prometheus.Counter

	members   prometheus.Gauge
	throttled prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	latency := prometheus.ExponentialBuckets(0.0005, 2, 16) // 0.5ms … 16s
	m := &metrics{
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "silt_request_duration_seconds", Help: "Kafka request latency, from decoding to the response, by API.",
			Buckets: latency,
		}, []string{"api"}),
		handlerPanics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silt_request_panics_total", Help: "Requests whose handler panicked (a bug); each closed its connection, by API.",
		}, []string{"api"}),
		produceBytes:   prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_produce_bytes_total", Help: "Record-batch bytes accepted from producers."}),
		produceRecords: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_produce_records_total", Help: "Records accepted from producers."}),
		produceBatches: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_produce_batches_total", Help: "Record batches accepted from producers."}),
		fetchBytes:     prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_fetch_bytes_total", Help: "Record-batch bytes returned to consumers."}),
		fetchRecords:   prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_fetch_records_total", Help: "Records returned to consumers (whole batches)."}),
	}
	m.members = prometheus.NewGauge(prometheus.GaugeOpts{Name: "silt_cluster_members", Help: "Live agents in the cluster, as gossip sees it."})
	m.throttled = prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_quota_throttled_total", Help: "Requests of clients over a client quota, answered with a throttle time and followed by a muted connection."})
	// The commit path's metrics (proposals, entries, pushes) are
	// registered by agent/commit, the write path's (flushes, uploads,
	// commits) by agent/writer.
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "silt_sasl_authentication_failures_total", Help: "Failed SASL authentications (wrong password, unknown user, bad token), by mechanism.",
	}, []string{"mechanism"})
	reg.MustRegister(m.members, m.throttled, m.authFailures)
	reg.MustRegister(m.requestDuration, m.handlerPanics, m.produceBytes, m.produceRecords, m.produceBatches, m.fetchBytes,
		m.fetchRecords)
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
			func() float64 { return float64(max(a.commit.KnownSeq(), a.journal.Seq()) - a.journal.Seq()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_cluster_committer", Help: "1 if this agent holds the journal committer role."},
			func() float64 { return b2f(a.commit.IsCommitter()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_cluster_compactor", Help: "1 if this agent holds the compactor role."},
			func() float64 { return b2f(a.IsCompactor()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_groups", Help: "Consumer groups this agent coordinates (in memory)."},
			func() float64 { g, _ := a.groups.Counts(); return float64(g) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_group_members", Help: "Members of the consumer groups this agent coordinates."},
			func() float64 { _, m := a.groups.Counts(); return float64(m) }),
		newLagCollector(a.journal.View, a.ownsGroup),
	)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
