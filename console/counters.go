package console

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// GatherCounters reads an agent's Counters from its Prometheus registry:
// the produce and fetch counters the agent registers and the object-store
// request counters (objstore.Metrics) if they are registered there. A
// counter that is not registered reads 0.
func GatherCounters(g prometheus.Gatherer) (Counters, error) {
	families, err := g.Gather()
	if err != nil {
		return Counters{}, fmt.Errorf("gather metrics: %w", err)
	}
	c := Counters{Requests: map[string]float64{}}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			v := m.GetCounter().GetValue()
			label := func(name string) string {
				for _, l := range m.GetLabel() {
					if l.GetName() == name {
						return l.GetValue()
					}
				}
				return ""
			}
			switch f.GetName() {
			case "silt_produce_bytes_total":
				c.ProduceBytes = v
			case "silt_produce_records_total":
				c.ProduceRecords = v
			case "silt_fetch_bytes_total":
				c.FetchBytes = v
			case "silt_fetch_records_total":
				c.FetchRecords = v
			case "silt_objstore_requests_total":
				c.Requests[label("op")] = v
			case "silt_objstore_bytes_total":
				switch label("direction") {
				case "in":
					c.BucketBytesIn = v
				case "out":
					c.BucketBytesOut = v
				}
			}
		}
	}
	return c, nil
}
