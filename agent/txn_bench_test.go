package agent

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/objstore/file"
)

// BenchmarkTransactionalProduce compares transactional produce with plain
// (idempotent) produce, as issue 15's target states it: 1 KiB records,
// 1,000 records a transaction, to a file bucket at the agent's defaults.
// One iteration is 1,000 records: a transaction (begin, produce, commit)
// or the same records flushed without one. It reports MB/s, and for
// transactions the p99 of a commit (flushing the transaction's records and
// EndTxn, what a Java producer's commitTransaction waits for) and of EndTxn
// alone, beside one flush (a lone record's acknowledgement) of the same
// run: the target is a commit p99 within two flushes.
//
//	go test -run '^$' -bench TransactionalProduce -benchtime 50x ./agent/
func BenchmarkTransactionalProduce(b *testing.B) {
	for _, txn := range []bool{false, true} {
		name := "plain"
		if txn {
			name = "transactional"
		}
		b.Run(name, func(b *testing.B) {
			bucket, err := file.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			a := startQuietAgent(b, bucket, nil)
			const topic = "bench-txn"
			opts := []kgo.Opt{kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression())}
			if txn {
				opts = append(opts, kgo.TransactionalID("bench"))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, -1, nil, topic); err != nil {
				b.Fatal(err)
			}
			value := make([]byte, 1024)
			var commit, endTxn []time.Duration
			b.SetBytes(1000 * int64(len(value)))
			b.ResetTimer()
			for range b.N {
				if txn {
					if err := cl.BeginTransaction(); err != nil {
						b.Fatal(err)
					}
				}
				for range 1000 {
					cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
						if err != nil {
							b.Error(err)
						}
					})
				}
				commitStart := time.Now()
				if err := cl.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if txn {
					endStart := time.Now()
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatal(err)
					}
					endTxn = append(endTxn, time.Since(endStart))
					commit = append(commit, time.Since(commitStart))
				}
			}
			b.StopTimer()
			if txn {
				flush := flushLatency(ctx, b, a.Addr(), topic)
				b.ReportMetric(ms(percentile(commit, 0.99)), "ms-commit-p99")
				b.ReportMetric(ms(percentile(endTxn, 0.99)), "ms-endtxn-p99")
				b.ReportMetric(ms(flush), "ms-flush-p50")
				b.ReportMetric(float64(percentile(commit, 0.99))/float64(flush), "commit-p99/flush")
			}
		})
	}
}

// flushLatency is the median time a lone record takes to be acknowledged:
// one flush on the agent's store, the unit of issue 15's commit target.
func flushLatency(ctx context.Context, b *testing.B, addr, topic string) time.Duration {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var lat []time.Duration
	for range 21 {
		start := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("one")}).FirstErr(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	return percentile(lat[1:], 0.5)
}

// percentile is the p-th of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
