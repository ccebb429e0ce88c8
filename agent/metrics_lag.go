package agent

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/silt-io/silt/journal"
)

// lagCollector exports consumer lag per group and partition, as kminion and
// Burrow report it, so no separate exporter is needed. Lag is the
// partition's end offset (its high watermark) less the group's committed
// offset, read from the journal state at scrape time.
//
// Every agent holds the same state, so each exports only the groups it
// coordinates: summed over the cluster, every group appears once. While
// coordination moves a group may appear twice or not at all for one
// scrape, which is what Kafka exporters show during a coordinator move too.
type lagCollector struct {
	view func(func(*journal.State))
	// mine reports whether this agent coordinates the group.
	mine func(group string) bool

	committed, lag, groupLag *prometheus.Desc
}

func newLagCollector(view func(func(*journal.State)), mine func(string) bool) *lagCollector {
	gtp := []string{"group", "topic", "partition"}
	return &lagCollector{
		view: view,
		mine: mine,
		committed: prometheus.NewDesc("silt_consumer_group_committed_offset",
			"The group's committed offset for the partition (groups this agent coordinates).", gtp, nil),
		lag: prometheus.NewDesc("silt_consumer_group_lag",
			"Records between the group's committed offset and the partition's end (groups this agent coordinates).", gtp, nil),
		groupLag: prometheus.NewDesc("silt_consumer_group_lag_sum",
			"The group's lag summed over its partitions (groups this agent coordinates).", []string{"group"}, nil),
	}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.committed
	ch <- c.lag
	ch <- c.groupLag
}

// partitionLag is one partition's lag, read under the state's lock and sent
// after it, so a slow scrape never holds the journal.
type partitionLag struct {
	group, topic string
	partition    int32
	committed    int64
	lag          int64
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	var rows []partitionLag
	c.view(func(s *journal.State) {
		for group, topics := range s.Groups {
			if !c.mine(group) {
				continue
			}
			for topic, parts := range topics {
				t := s.Topic(topic)
				for p, off := range parts {
					row := partitionLag{group: group, topic: topic, partition: p, committed: off.Offset}
					if t != nil && int(p) < len(t.Partitions) {
						row.lag = max(t.Partitions[p].NextOffset-off.Offset, 0)
					}
					rows = append(rows, row)
				}
			}
		}
	})
	sums := map[string]int64{}
	for _, r := range rows {
		part := strconv.FormatInt(int64(r.partition), 10)
		ch <- prometheus.MustNewConstMetric(c.committed, prometheus.GaugeValue, float64(r.committed), r.group, r.topic, part)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(r.lag), r.group, r.topic, part)
		sums[r.group] += r.lag
	}
	for g, sum := range sums {
		ch <- prometheus.MustNewConstMetric(c.groupLag, prometheus.GaugeValue, float64(sum), g)
	}
}
