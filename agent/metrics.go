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
	reg.MustRegister(m.requestDuration, m.produceBytes, m.produceRecords, m.produceBatches, m.fetchBytes,
		m.fetchRecords, m.flushBytes, m.flushChunks, m.commitDuration, m.uploadDuration)
	return m
}

func (m *metrics) observeRequest(req *request, d time.Duration) {
	m.requestDuration.WithLabelValues(kmsg.NameForKey(req.key)).Observe(d.Seconds())
}
