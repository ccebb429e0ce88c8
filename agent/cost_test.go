package agent

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/file"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/objstore/objstorefault"
)

// gauge returns the value of the gauge name in reg, failing if it is not
// exported.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s is not exported", name)
	return 0
}

// startQuietAgent starts a single agent at the defaults on bucket, with
// its metrics in reg (nil: a registry of its own) and no logs.
func startQuietAgent(tb testing.TB, bucket objstore.Bucket, reg *prometheus.Registry) *Agent {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.NodeName, cfg.Listen, cfg.HTTPListen, cfg.Gossip, cfg.Registry = "test", "127.0.0.1:0", "", "", reg
	cfg.Logger = slog.New(slog.DiscardHandler)
	a, err := New(cfg, bucket)
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

// The write path knows its store: a store that charges per request is
// written within the PUT budget (silt_put_budget says which), one that
// does not group-commit style; the request rates and their cost at S3's
// list prices are exported either way.
func TestPutBudgetKnowsTheStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prices objstore.Prices
		budget float64
	}{
		{"memory", objstore.Prices{}, 0},
		{"a store priced as S3", objstore.S3ListPrices, DefaultConfig().PutBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := objstore.NewMetrics(reg)
			a := startQuietAgent(t, objstore.WithMetrics(objstore.WithPrices(mem.New(), tc.prices), m), reg)
			if got := gauge(t, reg, "silt_put_budget"); got != tc.budget {
				t.Errorf("silt_put_budget = %v, want %v", got, tc.budget)
			}
			gauge(t, reg, "silt_objstore_put_rate") // the first scrape starts the window
			cl, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic("cost"), kgo.AllowAutoTopicCreation())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := range 5 {
				if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			puts := gauge(t, reg, "silt_objstore_put_rate")
			cost := gauge(t, reg, "silt_objstore_cost_dollars_per_month")
			if puts <= 0 || cost <= 0 {
				t.Errorf("after 5 produces: %v PUTs/s, $%v a month", puts, cost)
			}
		})
	}
}

// BenchmarkLoneProduce measures what a service producing one record at a
// time waits for each, with franz-go at its defaults and the agent at its
// own (no flush setting): on a directory, group commit answers each as
// soon as it is written; on a store priced as S3 with 20ms a request
// (memory behind objstorefault), the idle cut answers it after idleCut and
// the store's PUTs while the PUT budget lasts. It reports ms/record;
// compare with the 250ms the flush interval alone used to cost.
//
//	go test -run '^$' -bench LoneProduce -benchtime 200x ./agent/
func BenchmarkLoneProduce(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		bucket, err := file.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		loneProduce(b, bucket)
	})
	b.Run("s3-priced-20ms", func(b *testing.B) {
		slow := objstorefault.Wrap(mem.New())
		slow.SetLatency(20 * time.Millisecond)
		loneProduce(b, objstore.WithPrices(slow, objstore.S3ListPrices))
	})
}

func loneProduce(b *testing.B, bucket objstore.Bucket) {
	a := startQuietAgent(b, bucket, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic("lone"), kgo.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm-up")}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "lone-%d", i)}).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/record")
}
