package agent_test

import (
	"context"
	"crypto/x509/pkix"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// BenchmarkProduceTLS produces 1 KiB records (acks=all, batches of up to
// 1 MiB) through one agent over PLAINTEXT and over SSL, so the cost of
// TLS shows beside plaintext: compare the MB/s of the two.
func BenchmarkProduceTLS(b *testing.B) {
	ca := agent.NewTestCA(b)
	_, certFile, keyFile := ca.Issue(b, pkix.Name{CommonName: "localhost"}, true, "server")
	c := localstacktest.StartT(b, localstack.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.Listen = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"
		cfg.Security.TLSCert, cfg.Security.TLSKey = certFile, keyFile
	}})
	a := c.Agents[0]
	value := make([]byte, 1024)
	for _, l := range []string{"PLAINTEXT", "SSL"} {
		b.Run(l, func(b *testing.B) {
			opts := []kgo.Opt{kgo.SeedBrokers(a.ListenerAddr(l)), kgo.DefaultProduceTopic("bench-" + l),
				kgo.AllowAutoTopicCreation(), kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(1 << 16)}
			if l == "SSL" {
				opts = append(opts, kgo.DialTLSConfig(ca.ClientTLS()))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstErr error
			for range b.N {
				wg.Add(1)
				cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					wg.Done()
				})
			}
			wg.Wait()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
		})
	}
}
