package cache

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of a Cache's counters and sizes, for tests, benchmarks
// and logs; it costs a few atomic loads and a brief lock. Counters only
// grow; subtract two snapshots to measure an interval.
type Stats struct {
	Hits     int64 // lookups answered from either tier
	DiskHits int64 // the part of Hits answered by the disk tier
	Misses   int64 // lookups answered by neither tier

	Fills      int64 // fill functions started, prefetches included
	FillErrors int64 // fills that returned an error (not cached)

	Evictions         int64 // entries evicted from memory to keep its budget
	DiskEvictions     int64 // files evicted from disk to keep its budget
	DemotionsDropped  int64 // evictions not written to disk: queue full or value too big
	DiskErrors        int64 // disk writes or reads that failed (a read of a torn file included)
	PrefetchesDropped int64 // Prefetch calls dropped because MaxPrefetches were running

	MemoryBytes int64 // charged bytes resident in memory, at most Options.MemoryBytes
	DiskBytes   int64 // bytes of files on disk or being written, at most Options.DiskBytes
	Entries     int64 // entries resident in memory
	DiskEntries int64 // entries on disk
}

// counters are the Cache's running totals. They are plain atomics, not
// Prometheus counters, so the hit path pays one add; the optional Prometheus
// collector reads them at scrape time.
type counters struct {
	memHits           stripedCounter
	diskHits          atomic.Int64
	misses            atomic.Int64
	fills             atomic.Int64
	fillErrors        atomic.Int64
	evictions         atomic.Int64
	diskEvictions     atomic.Int64
	demotionsDropped  atomic.Int64
	diskErrors        atomic.Int64
	prefetchesDropped atomic.Int64
}

// stripes is the number of cells of a stripedCounter, a power of two.
const stripes = 16

// stripedCounter is a counter that many goroutines can add to without
// contending on one cache line: each add goes to a randomly chosen cell
// (math/rand/v2 draws from per-thread runtime state, so choosing writes
// nothing shared) and load sums the cells. With two cores hitting the cache,
// a prototype measured about 30ns per hit with one shared atomic.Int64, 15ns
// striped and 9ns with no counter: a shared counter would undo the
// lock-free lookup. Choosing a cell costs a few ns on one core. Taking the
// cell from the entry instead would be free, but a hot key (every tailing
// consumer reads the newest chunk) would put all cores back on one line.
type stripedCounter [stripes]struct {
	n atomic.Int64
	_ [56]byte // one cell per 64-byte cache line
}

func (s *stripedCounter) add(d int64) { s[rand.Uint32()&(stripes-1)].n.Add(d) }

func (s *stripedCounter) load() int64 {
	var t int64
	for i := range s {
		t += s[i].n.Load()
	}
	return t
}

// Stats returns the current counters and sizes.
func (c *Cache) Stats() Stats {
	s := Stats{
		DiskHits:          c.stats.diskHits.Load(),
		Misses:            c.stats.misses.Load(),
		Fills:             c.stats.fills.Load(),
		FillErrors:        c.stats.fillErrors.Load(),
		Evictions:         c.stats.evictions.Load(),
		DiskEvictions:     c.stats.diskEvictions.Load(),
		DemotionsDropped:  c.stats.demotionsDropped.Load(),
		DiskErrors:        c.stats.diskErrors.Load(),
		PrefetchesDropped: c.stats.prefetchesDropped.Load(),
	}
	s.Hits = c.stats.memHits.load() + s.DiskHits
	c.mu.Lock()
	s.MemoryBytes = c.mu.memBytes
	s.Entries = int64(c.mu.clock.n)
	s.DiskBytes = c.mu.disk.bytes
	s.DiskEntries = int64(len(c.mu.disk.index))
	c.mu.Unlock()
	return s
}

// collector exports Stats to Prometheus at scrape time.
type collector struct {
	c                                  *Cache
	hits, misses, bytes, entries       *prometheus.Desc
	evictions, fills, fillErrors, drop *prometheus.Desc
}

func newCollector(c *Cache) *collector {
	tier := []string{"tier"}
	return &collector{
		c:          c,
		hits:       prometheus.NewDesc("silt_cache_hits_total", "Cache lookups answered, by the tier that answered.", tier, nil),
		misses:     prometheus.NewDesc("silt_cache_misses_total", "Cache lookups answered by neither tier.", nil, nil),
		bytes:      prometheus.NewDesc("silt_cache_bytes", "Bytes held against each tier's budget.", tier, nil),
		entries:    prometheus.NewDesc("silt_cache_entries", "Entries held in each tier.", tier, nil),
		evictions:  prometheus.NewDesc("silt_cache_evictions_total", "Entries evicted to keep each tier's budget.", tier, nil),
		fills:      prometheus.NewDesc("silt_cache_fills_total", "Fill functions started (object-store reads), prefetches included.", nil, nil),
		fillErrors: prometheus.NewDesc("silt_cache_fill_errors_total", "Fills that failed.", nil, nil),
		drop: prometheus.NewDesc("silt_cache_dropped_total",
			"Work dropped rather than queued: demotions to disk, prefetches.", []string{"what"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.hits, m.misses, m.bytes, m.entries, m.evictions, m.fills, m.fillErrors, m.drop} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *collector) Collect(ch chan<- prometheus.Metric) {
	s := m.c.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter(m.hits, s.Hits-s.DiskHits, "memory")
	counter(m.misses, s.Misses)
	gauge(m.bytes, s.MemoryBytes, "memory")
	gauge(m.entries, s.Entries, "memory")
	counter(m.evictions, s.Evictions, "memory")
	counter(m.fills, s.Fills)
	counter(m.fillErrors, s.FillErrors)
	counter(m.drop, s.PrefetchesDropped, "prefetch")
	if m.c.disk != nil {
		counter(m.hits, s.DiskHits, "disk")
		gauge(m.bytes, s.DiskBytes, "disk")
		gauge(m.entries, s.DiskEntries, "disk")
		counter(m.evictions, s.DiskEvictions, "disk")
		counter(m.drop, s.DemotionsDropped, "demotion")
	}
}
