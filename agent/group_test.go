package agent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// Three consumers in one group share a topic's partitions; together they
// read every record exactly once, and their commits are in the journal.
func TestGroupOfThreeSharesATopic(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).CreateTopic(ctx, 6, 1, nil, "g3"); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	prod, _ := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.DefaultProduceTopic("g3"))
	defer prod.Close()
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%d", i)}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("g3"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID(fmt.Sprintf("c%d", i)))
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			for {
				mu.Lock()
				done := len(seen) >= n
				mu.Unlock()
				if done || ctx.Err() != nil {
					cl.CommitUncommittedOffsets(ctx)
					return
				}
				pctx, pcancel := context.WithTimeout(ctx, time.Second)
				fs := cl.PollFetches(pctx)
				pcancel()
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)]++
					mu.Unlock()
				})
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("group read %d distinct records, want %d", len(seen), n)
	}
	offsets, err := kadm.NewClient(adm).FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Errorf("committed offsets sum to %d, want %d", total, n)
	}
}
