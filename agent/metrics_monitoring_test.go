package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/objstore"
)

// The dashboards and alerting rules in deploy/ are only as good as the
// metrics they name: a renamed metric turns a panel blank and an alert
// silent without any error. So every silt_ metric they name, and every label
// they match on, must be exported by a live agent that has served produce,
// fetch and a consumer group.
func TestMonitoringNamesExportedMetrics(t *testing.T) {
	// One registry for the agent and its bucket, as `silt agent` has.
	reg := prometheus.NewRegistry()
	c := localstacktest.StartT(t, localstack.Options{
		Metrics:   objstore.NewMetrics(reg),
		Configure: func(_ int, cfg *agent.Config) { cfg.Registry = reg },
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const topic, group = "monitored", "monitoring-group"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for n := 0; n < 25; {
		fs := cons.PollRecords(ctx, 25-n)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		n += fs.NumRecords()
		if err := cons.CommitRecords(ctx, fs.Records()...); err != nil {
			t.Fatal(err)
		}
	}

	families := scrape(t, c.Agents[0].HTTPAddr())
	// The lag of the 25 records not yet consumed is what the dashboard's
	// lag panels show.
	if lag := gaugeSum(families["silt_consumer_group_lag_sum"], "group", group); lag != 25 {
		t.Errorf("silt_consumer_group_lag_sum{group=%q} = %v, want 25", group, lag)
	}

	for _, file := range []string{"../deploy/grafana/silt-dashboard.json", "../deploy/prometheus/silt-alerts.yml"} {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := 0
		for _, ref := range metricRefs(string(text)) {
			names++
			fam, ok := families[ref.family]
			if !ok {
				t.Errorf("%s names %s, which silt does not export", file, ref.name)
				continue
			}
			if ref.family != ref.name && fam.GetType() != dto.MetricType_HISTOGRAM {
				t.Errorf("%s names %s, but %s is a %s, not a histogram", file, ref.name, ref.family, fam.GetType())
			}
			for _, label := range ref.labels {
				if label == "instance" || label == "job" {
					continue // Prometheus adds them to every series it scrapes
				}
				if !hasLabel(fam, label) {
					t.Errorf("%s matches %s on label %q, which it does not carry", file, ref.name, label)
				}
			}
		}
		if names < 10 {
			t.Errorf("%s names only %d silt metrics; did the extraction break?", file, names)
		}
	}
}

// metricRef is one use of a silt metric in an expression.
type metricRef struct {
	name   string   // as written: silt_x_bucket
	family string   // the family exported: silt_x
	labels []string // label names matched in {…}; le is the histogram's own
}

var (
	metricUse    = regexp.MustCompile(`\b(silt_[a-z0-9_]+)(\{([^}]*)\})?`)
	labelMatcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
)

func metricRefs(text string) []metricRef {
	var refs []metricRef
	for _, m := range metricUse.FindAllStringSubmatch(text, -1) {
		ref := metricRef{name: m[1], family: m[1]}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(m[1], suffix); ok && !strings.HasSuffix(m[1], "_lag_sum") {
				ref.family = base
			}
		}
		for _, l := range labelMatcher.FindAllStringSubmatch(m[3], -1) {
			ref.labels = append(ref.labels, l[1])
		}
		refs = append(refs, ref)
	}
	return refs
}

func hasLabel(fam *dto.MetricFamily, name string) bool {
	if name == "le" && fam.GetType() == dto.MetricType_HISTOGRAM {
		return true
	}
	for _, m := range fam.GetMetric() {
		if slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == name }) {
			return true
		}
	}
	return false
}

func gaugeSum(fam *dto.MetricFamily, label, value string) float64 {
	var sum float64
	for _, m := range fam.GetMetric() {
		if slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == label && l.GetValue() == value }) {
			sum += m.GetGauge().GetValue()
		}
	}
	return sum
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}
