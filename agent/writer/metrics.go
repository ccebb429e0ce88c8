package writer

import "github.com/prometheus/client_golang/prometheus"

// metrics are the write path's Prometheus metrics, under the names the
// agent exported before the write path was a package of its own.
type metrics struct {
	flushBytes     prometheus.Histogram
	flushChunks    prometheus.Histogram
	commitDuration prometheus.Histogram
	uploadDuration prometheus.Histogram
	cuts           *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, putBudget float64) *metrics {
	latency := prometheus.ExponentialBuckets(0.0005, 2, 16) // 0.5ms … 16s
	m := &metrics{
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
		cuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silt_flush_cuts_total",
			Help: "Segments cut, by reason: group (free store, no write in flight), idle (priced store, within the PUT budget), large, interval, full.",
		}, []string{"reason"}),
	}
	budget := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "silt_put_budget",
		Help: "PUTs a second this agent's early segment cuts may cause on a store that charges per request; 0 when the store has no per-request price (segments are written group-commit style).",
	})
	budget.Set(putBudget)
	reg.MustRegister(m.flushBytes, m.flushChunks, m.commitDuration, m.uploadDuration, m.cuts, budget)
	return m
}
