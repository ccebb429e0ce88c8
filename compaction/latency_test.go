//go:build latency

package compaction_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/objstore/mem"
)

// Produce latency at 20 MB/s of 1 KiB records over 8 partitions (flush
// 10 ms, as silt bench measures it), with and without a compactor merging
// and collecting beside it in the same process. It is a measurement, not a
// test of make test: it takes about a minute and its figures depend on the
// machine, so it is built only with the latency tag (make bench-compaction).
// SILT_COMPACTION_LATENCY gives the seconds of each measurement (default
// 20); SILT_COMPACTION_LATENCY_STORE=mem stores in memory instead of a
// directory, leaving out the disk the agent and the compactor share:
//
//	go test -tags latency -run ProduceLatency -v ./compaction/
func TestProduceLatencyWithCompaction(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("SILT_COMPACTION_LATENCY"))
	if secs <= 0 {
		secs = 20
	}
	measure := func(withCompactor bool) (p50, p99 time.Duration, st compaction.Stats) {
		opts := localstack.Options{}
		if os.Getenv("SILT_COMPACTION_LATENCY_STORE") == "mem" {
			opts.Bucket = mem.New()
		}
		c := localstacktest.StartT(t, opts)
		seeds := c.Seeds()
		createTopic(t, seeds, "lat", 8, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		if withCompactor {
			// As inside an agent: the agent's journal, so proposals do not
			// race the agent's own entries.
			jl := c.Agents[0].Journal()
			cm := journal.NewCommitter(jl, journal.CommitterOptions{})
			defer cm.Close()
			tl := &tool{log: jl, c: compaction.New(c.Bucket, jl, compaction.CommitterProposer(cm), compaction.Options{Interval: time.Second,
				MergeTarget: 8 << 20, MergeWindow: 2 * time.Second, Grace: 3 * time.Second, Logger: quietLogger(), JournalRetention: -1})}
			wg.Go(func() {
				for ctx.Err() == nil {
					s, _ := tl.c.RunOnce(ctx)
					st.Merged += s.Merged
					st.MergedObjects += s.MergedObjects
					st.Deleted += s.Deleted
					time.Sleep(time.Second)
				}
			})
		}
		cl := newClient(t, seeds, kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.DefaultProduceTopic("lat"), kgo.MaxBufferedRecords(1<<20))
		value := make([]byte, 1024)
		for i := range value {
			value[i] = byte('a' + i%26)
		}
		var mu sync.Mutex
		var lat []time.Duration
		warmup := time.Now().Add(3 * time.Second)
		end := warmup.Add(time.Duration(secs) * time.Second)
		tick := time.NewTicker(5 * time.Millisecond) // 100 records per tick: 20,000/s
		for now := range tick.C {
			if now.After(end) {
				break
			}
			for range 100 {
				sent := time.Now()
				cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
					if err != nil || sent.Before(warmup) {
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(sent))
					mu.Unlock()
				})
			}
		}
		tick.Stop()
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		cancel()
		wg.Wait()
		slices.Sort(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100], st
	}
	p50a, p99a, _ := measure(false)
	p50b, p99b, st := measure(true)
	t.Logf("produce latency at 20 MB/s, flush 10ms: without compaction p50 %v p99 %v; with compaction p50 %v p99 %v (p99 %+.0f%%); the compactor merged %d chunks into %d objects and deleted %d",
		p50a.Round(100*time.Microsecond), p99a.Round(100*time.Microsecond), p50b.Round(100*time.Microsecond), p99b.Round(100*time.Microsecond),
		100*(float64(p99b)/float64(p99a)-1), st.Merged, st.MergedObjects, st.Deleted)
}
