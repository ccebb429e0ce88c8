package agent

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCutBudget(t *testing.T) {
	start := time.Now()
	b := &cutBudget{per: 100 * time.Millisecond, tokens: idleBurst, last: start}
	for _, step := range []struct {
		name  string
		at    time.Duration
		spend bool
		early bool // canCutEarly before spending
	}{
		{"a full budget", 0, true, true},
		{"one left", 0, true, true},
		{"spent", 0, false, false},
		{"half a period later", 50 * time.Millisecond, false, false},
		{"a period later", 100 * time.Millisecond, true, true},
		{"in debt after a cut on time", 100 * time.Millisecond, true, false},
		{"saved up no more than the burst", time.Hour, true, true},
	} {
		now := start.Add(step.at)
		if got := b.canCutEarly(now); got != step.early {
			t.Errorf("%s: canCutEarly = %v, want %v (tokens %.2f)", step.name, got, step.early, b.tokens)
		}
		if step.spend {
			b.spend(now)
		}
	}
	if b.tokens > idleBurst {
		t.Errorf("tokens %.2f over the burst %d", b.tokens, idleBurst)
	}
}

// A producer that has sent all it has is answered once its batches stop
// coming, not a whole flush interval later; a steady trickle of produces
// still costs about one segment per interval.
func TestIdleCuts(t *testing.T) {
	a := newTestAgent(t, func(c *Config) { c.FlushInterval, c.FlushBytes = 2*time.Second, 256<<10 })
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic("idle"), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm-up")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("burst")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a lone produce took %v with a 2s flush interval; want it cut once idle", took)
	}

	// A record every 20ms for 2 s: 100 produces, each alone in the
	// buffer long enough to look idle. The budget allows about one cut
	// per interval, plus the burst saved up.
	cuts := func() uint64 {
		var m dto.Metric
		if err := a.metrics.flushBytes.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	n0 := cuts()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		cl.Produce(ctx, &kgo.Record{Value: []byte("trickle")}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
		time.Sleep(20 * time.Millisecond)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// 2 s of trickle at one cut per 2 s interval, the burst, and a cut
	// that Flush's last produce may add.
	if n := cuts() - n0; n > 1+idleBurst+1 {
		t.Errorf("%d segments cut for a 2 s trickle with a 2s flush interval; want about one per interval", n)
	}

	// The trickle spent the budget; a buffer of a quarter of FlushBytes
	// or more is cut once idle all the same.
	big := make([]byte, 100<<10)
	rand.Read(big) // incompressible: the batch stays over 64 KiB
	start = time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: big}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a 100 KiB produce took %v with the budget spent; want it cut once idle", took)
	}
}
