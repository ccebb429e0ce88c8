package sharegroups

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics reports, per share group, the share-partitions this agent owns:
// records in flight (the windows) and acquired now, as gauges, and records
// acquired, delivered again and archived by this agent, as counters (which
// keep what share-partitions that moved away had counted). Sum over agents
// with rate() as usual.
type metrics struct {
	s                                          *Service
	inFlight, held                             *prometheus.Desc
	acquiredTotal, redeliveredTotal, archTotal *prometheus.Desc
}

func newMetrics(s *Service, reg prometheus.Registerer) *metrics {
	m := &metrics{
		s:                s,
		inFlight:         prometheus.NewDesc("silt_share_records_in_flight", "Records in the in-flight windows of the share group's partitions this agent owns.", []string{"group"}, nil),
		held:             prometheus.NewDesc("silt_share_records_acquired", "Records acquired by members (locked) now.", []string{"group"}, nil),
		acquiredTotal:    prometheus.NewDesc("silt_share_records_acquired_total", "Records acquired, first deliveries and redeliveries.", []string{"group"}, nil),
		redeliveredTotal: prometheus.NewDesc("silt_share_records_redelivered_total", "Records acquired again after a release, rejection of the lock or a lock timeout.", []string{"group"}, nil),
		archTotal:        prometheus.NewDesc("silt_share_records_archived_total", "Records archived: rejected, or delivered share.delivery.count.limit times.", []string{"group"}, nil),
	}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.inFlight, m.held, m.acquiredTotal, m.redeliveredTotal, m.archTotal} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	type sums struct{ inFlight, held, acquired, redelivered, archived int }
	by := map[string]*sums{}
	m.s.mu.Lock()
	parts := make([]*hosted, 0, len(m.s.mu.parts))
	for _, h := range m.s.mu.parts {
		parts = append(parts, h)
	}
	for group, t := range m.s.mu.retired {
		by[group] = &sums{acquired: t.acquired, redelivered: t.redelivered, archived: t.archived}
	}
	m.s.mu.Unlock()
	for _, h := range parts {
		h.mu.Lock()
		in, held := h.w.counts()
		t := h.total
		retired := h.retired
		h.mu.Unlock()
		if retired {
			continue // counted in retired
		}
		g := by[h.key.group]
		if g == nil {
			g = &sums{}
			by[h.key.group] = g
		}
		g.inFlight += in
		g.held += held
		g.acquired += t.acquired
		g.redelivered += t.redelivered
		g.archived += t.archived
	}
	for group, g := range by {
		ch <- prometheus.MustNewConstMetric(m.inFlight, prometheus.GaugeValue, float64(g.inFlight), group)
		ch <- prometheus.MustNewConstMetric(m.held, prometheus.GaugeValue, float64(g.held), group)
		ch <- prometheus.MustNewConstMetric(m.acquiredTotal, prometheus.CounterValue, float64(g.acquired), group)
		ch <- prometheus.MustNewConstMetric(m.redeliveredTotal, prometheus.CounterValue, float64(g.redelivered), group)
		ch <- prometheus.MustNewConstMetric(m.archTotal, prometheus.CounterValue, float64(g.archived), group)
	}
}
