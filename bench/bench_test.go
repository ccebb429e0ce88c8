package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/silt-io/silt/bench"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestRunTiny runs every measurement with a tiny workload against an
// in-process silt and kfake, and checks the numbers are there and sane.
func TestRunTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	silt, err := bench.StartLocal(ctx, bench.LocalOptions{FlushInterval: 50 * time.Millisecond, CacheBytes: 64 << 20,
		Logger: localstacktest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer silt.Close()
	ref, err := bench.StartKfake()
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	cfg := bench.DefaultConfig()
	cfg.ProduceBytes = 4 << 20
	cfg.Producers = 2
	cfg.LatencyRate, cfg.LatencyDuration, cfg.LatencyWarmup = 2e6, 500*time.Millisecond, 100*time.Millisecond
	cfg.SteadyRate, cfg.SteadyDuration, cfg.SteadyWarmup = 1e6, 500*time.Millisecond, 100*time.Millisecond
	cfg.ManyPartitions = 50
	cfg.PhaseTimeout = time.Minute
	res, err := bench.Run(ctx, cfg, silt, ref)
	if err != nil {
		t.Fatal(err)
	}

	records := cfg.ProduceBytes / int64(cfg.RecordSize)
	for _, rep := range []bench.Report{res.Silt, res.Ref} {
		if rep.Produce.Records != records || rep.Cached.Records != records || rep.Cold == nil || rep.Cold.Records != records {
			t.Errorf("%s: produced %d, read %d from cache and %v cold; want %d each",
				rep.Target, rep.Produce.Records, rep.Cached.Records, rep.Cold, records)
		}
		if rep.Produce.MBps() <= 0 || rep.Cached.MBps() <= 0 || rep.Cold.MBps() <= 0 {
			t.Errorf("%s: throughputs %v, %v, %v MB/s", rep.Target, rep.Produce.MBps(), rep.Cached.MBps(), rep.Cold.MBps())
		}
		if rep.Tail.Records == 0 {
			t.Errorf("%s: tailing consumer read nothing", rep.Target)
		}
		l := rep.Latency
		if l.Records == 0 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
			t.Errorf("%s: latency %+v", rep.Target, l)
		}
	}

	s := res.Silt
	if s.Produce.Requests == nil || s.Produce.Requests.Put == 0 || s.Produce.Requests.BytesOut == 0 {
		t.Errorf("silt produce requests %+v, want PUTs", s.Produce.Requests)
	}
	if s.Cold.Requests == nil || s.Cold.Requests.DataGets() == 0 {
		t.Errorf("silt cold consume requests %+v, want GETs", s.Cold.Requests)
	}
	if s.Latency.FlushInterval != cfg.LatencyFlushInterval {
		t.Errorf("silt latency measured with flush interval %v, want %v", s.Latency.FlushInterval, cfg.LatencyFlushInterval)
	}
	if len(s.Puts) != 2 || s.Puts[1].Partitions != cfg.ManyPartitions {
		t.Fatalf("silt PUT counts %+v", s.Puts)
	}
	for _, p := range s.Puts {
		if p.Puts == 0 || p.JournalEntries <= 0 || p.Records == 0 || p.Duration <= 0 {
			t.Errorf("silt PUT count %+v", p)
		}
	}
	if res.Ref.Produce.Requests != nil || res.Ref.Puts != nil {
		t.Errorf("kfake has object-store counts: %+v %+v", res.Ref.Produce.Requests, res.Ref.Puts)
	}

	if len(res.Rows) == 0 {
		t.Fatal("no rows")
	}
	for _, row := range res.Rows {
		if row.Silt != nil && *row.Silt < 0 {
			t.Errorf("row %q: silt %v", row.Name, *row.Silt)
		}
	}
	if res.Rows[0].Ratio == nil || *res.Rows[0].Ratio <= 0 {
		t.Errorf("row %q has no ratio", res.Rows[0].Name)
	}
}
