package objstore

import (
	"context"
	"io"
	"iter"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Op is a billable object-store request type. Object-store requests are the
// main running cost of silt, so every request is counted by the type a cloud
// bill uses.
type Op int

// The request types, in the order Counts holds them.
const (
	OpPut Op = iota
	OpGet
	OpList
	OpHead
	OpDelete
	numOps
)

var opNames = [numOps]string{"PUT", "GET", "LIST", "HEAD", "DELETE"}

// String returns the HTTP verb-like name used as a metric label.
func (o Op) String() string { return opNames[o] }

// listPageSize is the number of keys S3 returns per LIST request; a listing
// of n keys costs ceil(n/1000) requests, and at least one.
const listPageSize = 1000

// Counts is a snapshot of requests and bytes, for benchmarks that report
// requests per MiB. Subtract two snapshots to measure an interval.
type Counts struct {
	Requests [numOps]int64
	Errors   [numOps]int64
	BytesIn  int64 // downloaded (GET bodies)
	BytesOut int64 // uploaded (PUT bodies)
}

// Sub returns c - o.
func (c Counts) Sub(o Counts) Counts {
	for i := range c.Requests {
		c.Requests[i] -= o.Requests[i]
		c.Errors[i] -= o.Errors[i]
	}
	c.BytesIn -= o.BytesIn
	c.BytesOut -= o.BytesOut
	return c
}

// Total returns the number of requests of all types.
func (c Counts) Total() int64 {
	var n int64
	for _, r := range c.Requests {
		n += r
	}
	return n
}

// Metrics counts object-store requests. One Metrics may serve many buckets;
// it is safe for concurrent use.
type Metrics struct {
	requests [numOps]atomic.Int64
	errors   [numOps]atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	promRequests *prometheus.CounterVec
	promErrors   *prometheus.CounterVec
	promBytes    *prometheus.CounterVec
	promLatency  *prometheus.HistogramVec
}

// NewMetrics returns request counters registered with reg; a nil reg keeps
// them private (still readable with Snapshot).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		promRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silt_objstore_requests_total",
			Help: "Object-store requests by type (a listing counts one per 1000 keys).",
		}, []string{"op"}),
		promErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silt_objstore_request_errors_total",
			Help: "Object-store requests that failed, by type (not found and failed preconditions included).",
		}, []string{"op"}),
		promBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silt_objstore_bytes_total",
			Help: "Object bytes moved: in = downloaded, out = uploaded.",
		}, []string{"direction"}),
		promLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "silt_objstore_request_duration_seconds",
			Help:    "Object-store request latency by type, to the first byte for GET.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.promRequests, m.promErrors, m.promBytes, m.promLatency)
	}
	return m
}

// Snapshot returns the counts so far.
func (m *Metrics) Snapshot() Counts {
	var c Counts
	for i := range c.Requests {
		c.Requests[i] = m.requests[i].Load()
		c.Errors[i] = m.errors[i].Load()
	}
	c.BytesIn = m.bytesIn.Load()
	c.BytesOut = m.bytesOut.Load()
	return c
}

func (m *Metrics) observe(op Op, n int64, start time.Time, err error) {
	m.requests[op].Add(n)
	m.promRequests.WithLabelValues(opNames[op]).Add(float64(n))
	if err != nil {
		m.errors[op].Add(1)
		m.promErrors.WithLabelValues(opNames[op]).Inc()
	}
	if !start.IsZero() {
		m.promLatency.WithLabelValues(opNames[op]).Observe(time.Since(start).Seconds())
	}
}

func (m *Metrics) addIn(n int) {
	m.bytesIn.Add(int64(n))
	m.promBytes.WithLabelValues("in").Add(float64(n))
}

func (m *Metrics) addOut(n int) {
	m.bytesOut.Add(int64(n))
	m.promBytes.WithLabelValues("out").Add(float64(n))
}

// WithMetrics returns b with every request counted in m.
func WithMetrics(b Bucket, m *Metrics) Bucket {
	return &metered{b: b, m: m}
}

type metered struct {
	b Bucket
	m *Metrics
}

func (x *metered) Name() string { return x.b.Name() }
func (x *metered) Close() error { return x.b.Close() }

func (x *metered) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := x.b.Get(ctx, key)
	x.m.observe(OpGet, 1, start, err)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc: rc, m: x.m}, nil
}

func (x *metered) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return x.b.GetRange(ctx, key, off, length) // served without a request
	}
	start := time.Now()
	rc, err := x.b.GetRange(ctx, key, off, length)
	x.m.observe(OpGet, 1, start, err)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc: rc, m: x.m}, nil
}

func (x *metered) Head(ctx context.Context, key string) (ObjectInfo, error) {
	start := time.Now()
	info, err := x.b.Head(ctx, key)
	x.m.observe(OpHead, 1, start, err)
	return info, err
}

func (x *metered) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		var n int64
		var lastErr error
		defer func() {
			x.m.observe(OpList, n/listPageSize+1, time.Time{}, lastErr)
		}()
		for info, err := range x.b.List(ctx, prefix, startAfter) {
			if err != nil {
				lastErr = err
			} else {
				n++
			}
			if !yield(info, err) {
				return
			}
		}
	}
}

func (x *metered) put(op func() (string, error), size int) (string, error) {
	start := time.Now()
	etag, err := op()
	x.m.observe(OpPut, 1, start, err)
	if err == nil {
		x.m.addOut(size)
	}
	return etag, err
}

func (x *metered) Put(ctx context.Context, key string, data []byte) (string, error) {
	return x.put(func() (string, error) { return x.b.Put(ctx, key, data) }, len(data))
}

func (x *metered) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	return x.put(func() (string, error) { return x.b.PutIfAbsent(ctx, key, data) }, len(data))
}

func (x *metered) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	return x.put(func() (string, error) { return x.b.PutIfMatch(ctx, key, data, etag) }, len(data))
}

func (x *metered) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := x.b.Delete(ctx, key)
	x.m.observe(OpDelete, 1, start, err)
	return err
}

type countingReader struct {
	rc io.ReadCloser
	m  *Metrics
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.m.addIn(n)
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }

// Unwrap returns the bucket x counts the requests of (see Wrapper).
func (x *metered) Unwrap() Bucket { return x.b }
