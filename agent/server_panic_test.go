package agent

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// syncBuffer is a log destination the agent's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A handler that panics, or whose reply's wait function panics, costs its
// own connection and nothing else: the panic is logged with the API and the
// stack, the client sees its connection close, and the agent serves the
// next request, from the same client and from others.
func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler handler
		in      string // as logged
	}{
		{"in the handler", func(*conn, *request) reply { panic("boom in the handler") }, "in=handler"},
		{"in the reply's wait", func(*conn, *request) reply {
			return reply{wait: func(context.Context) kmsg.Response { panic("boom in the wait") }}
		}, `in="reply wait"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			a := newTestAgent(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
			// Swap DescribeCluster's handler while no connection is open;
			// the test's own connections are closed before it is restored.
			key := kmsg.DescribeCluster.Int16()
			orig := apiByKey[key]
			swapped := *orig
			swapped.handle = tc.handler
			apiByKey[key] = &swapped
			t.Cleanup(func() { apiByKey[key] = orig })

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			victim, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.RequestRetries(0))
			if err != nil {
				t.Fatal(err)
			}
			defer victim.Close()
			bystander, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic("after-panic"), kgo.AllowAutoTopicCreation())
			if err != nil {
				t.Fatal(err)
			}
			defer bystander.Close()
			if err := bystander.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
				t.Fatal(err)
			}

			if _, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, victim); err == nil {
				t.Fatal("the panicking request was answered")
			}
			log := logs.String()
			for _, want := range []string{"request handler panicked", "api=DescribeCluster", "api_key=60", tc.in, "server_panic_test.go"} {
				if !strings.Contains(log, want) {
					t.Errorf("the log lacks %q:\n%s", want, log)
				}
			}
			var m dto.Metric
			if err := a.metrics.handlerPanics.WithLabelValues("DescribeCluster").Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
				t.Errorf("silt_request_panics_total{api=DescribeCluster} = %v (%v), want 1", m.GetCounter().GetValue(), err)
			}

			// The victim's client reconnects and is served (it may first
			// meet the closed connection: it does not retry); so is the
			// bystander, whose connection never closed.
			for attempt := 1; ; attempt++ {
				_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, victim)
				if err == nil {
					break
				}
				if attempt == 3 {
					t.Errorf("the victim's next request: %v", err)
					break
				}
			}
			if err := bystander.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
				t.Errorf("the bystander's produce after the panic: %v", err)
			}
			victim.Close()
			bystander.Close()
			a.Close() // waits for every connection before the handler is restored
		})
	}
}
