package agent

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/silt-io/silt/objstore"
)

// What the agent's object-store requests cost. The write path keeps its
// PUTs within a budget on stores that charge per request (agent/writer);
// these gauges show the budget's effect where an operator looks: the PUT
// and GET rates over the last minute, and what they would cost a month at
// S3's list prices, on whatever store the agent runs (on a local directory
// the figure is what the same traffic would cost on S3, not a bill).

// rateWindow is how far back the request rates look.
const rateWindow = time.Minute

// requestRates measures the rates of a bucket's requests over rateWindow,
// from its counters, at scrape time: no goroutine.
type requestRates struct {
	m   *objstore.Metrics
	now func() time.Time

	mu      sync.Mutex
	samples []rateSample // oldest first, at least rateWindow/12 apart
}

type rateSample struct {
	at         time.Time
	puts, gets int64
}

// rates returns PUTs and GETs (with HEADs, as S3 bills them) a second.
func (r *requestRates) rates() (puts, gets float64) {
	c := r.m.Snapshot()
	s := rateSample{r.now(), c.Requests[objstore.OpPut] + c.Requests[objstore.OpList],
		c.Requests[objstore.OpGet] + c.Requests[objstore.OpHead]}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.samples) > 1 && s.at.Sub(r.samples[1].at) >= rateWindow {
		r.samples = r.samples[1:]
	}
	if n := len(r.samples); n == 0 || s.at.Sub(r.samples[n-1].at) >= rateWindow/12 {
		r.samples = append(r.samples, s)
	}
	old := r.samples[0]
	d := s.at.Sub(old.at).Seconds()
	if d <= 0 {
		return 0, 0
	}
	return float64(s.puts-old.puts) / d, float64(s.gets-old.gets) / d
}

// registerCostMetrics exports the PUT budget's effect; the budget itself
// is silt_put_budget (agent/writer).
func (a *Agent) registerCostMetrics() {
	m := objstore.MetricsOf(a.bucket)
	if m == nil {
		return // the bucket's requests are not counted (a test's bare bucket)
	}
	r := &requestRates{m: m, now: time.Now}
	a.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_objstore_put_rate",
			Help: "Object-store PUTs (and LISTs, billed alike) a second, over the last minute."},
			func() float64 { p, _ := r.rates(); return p }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_objstore_get_rate",
			Help: "Object-store GETs and HEADs a second, over the last minute."},
			func() float64 { _, g := r.rates(); return g }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "silt_objstore_cost_dollars_per_month",
			Help: "What this agent's object-store requests of the last minute would cost a month at S3's list prices (an estimate; on a local directory, what the same traffic would cost on S3)."},
			func() float64 { return objstore.S3ListPrices.Monthly(r.rates()) }),
	)
}
