package cache_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/silt-io/silt/cache"
)

func TestMetricsMirrorStats(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, _ := diskCacheWith(t, cache.Options{Registerer: reg})
	for i := range 3 {
		c.Put("k"+string(rune('0'+i)), val("x", 1024))
	}
	waitIdle(t, c)
	c.Get("k0") // disk hit
	c.Get("k2") // memory hit
	c.Get("zz") // miss
	waitIdle(t, c)

	got := gather(t, reg)
	for _, want := range []string{
		`silt_cache_hits_total{tier="memory"} 1`,
		`silt_cache_hits_total{tier="disk"} 1`,
		`silt_cache_misses_total 1`,
		`silt_cache_evictions_total{tier="memory"} 2`,
		`silt_cache_entries{tier="memory"} 2`,
		`silt_cache_entries{tier="disk"} 2`,
		`silt_cache_bytes{tier="disk"} 2092`,
		`silt_cache_fills_total 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("metrics lack %q; got:\n%s", want, got)
		}
	}

	if _, err := cache.New(cache.Options{Registerer: reg}); err == nil {
		t.Error("a second cache registered the same metrics without error")
	}
}

func diskCacheWith(t *testing.T, opts cache.Options) (*cache.Cache, string) {
	opts.Dir = t.TempDir()
	opts.MemoryBytes = 2 * cache.Charge("k00", make([]byte, 1024))
	return newCache(t, opts), opts.Dir
}

// gather renders reg's metrics one "name{labels} value" per line.
func gather(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName())
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				b.WriteString("{" + strings.Join(ls, ",") + "}")
			}
			b.WriteString(" " + formatValue(mf.GetType(), m) + "\n")
		}
	}
	return b.String()
}

func formatValue(typ dto.MetricType, m *dto.Metric) string {
	v := m.GetGauge().GetValue()
	if typ == dto.MetricType_COUNTER {
		v = m.GetCounter().GetValue()
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
