package agent_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func setQuota(ctx context.Context, t *testing.T, adm *kadm.Client, entity kadm.ClientQuotaEntity, ops ...kadm.AlterClientQuotaOp) {
	t.Helper()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: ops}})
	if err == nil && res[0].Err != nil {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("set quota %v: %v", entity, err)
	}
}

// AlterClientQuotas stores quotas in the journal and DescribeClientQuotas
// lists them with Kafka's filters; bad entities, keys and values are
// INVALID_REQUEST.
func TestClientQuotasAlterAndDescribe(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	adm := a.adm
	alice, app := kadm.StringPtr("alice"), kadm.StringPtr("app")
	setQuota(ctx, t, adm, kadm.ClientQuotaEntity{{Type: "client-id", Name: app}}, kadm.AlterClientQuotaOp{Key: "producer_byte_rate", Value: 1024})
	setQuota(ctx, t, adm, kadm.ClientQuotaEntity{{Type: "client-id"}}, kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Value: 2048})
	setQuota(ctx, t, adm, kadm.ClientQuotaEntity{{Type: "user", Name: alice}, {Type: "client-id", Name: app}},
		kadm.AlterClientQuotaOp{Key: "request_percentage", Value: 12.5}, kadm.AlterClientQuotaOp{Key: "producer_byte_rate", Value: 4096})

	describe := func(strict bool, comps ...kadm.DescribeClientQuotaComponent) []string {
		t.Helper()
		qs, err := adm.DescribeClientQuotas(ctx, strict, comps)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, q := range qs {
			var vals []string
			for _, v := range q.Values {
				vals = append(vals, v.String())
			}
			sort.Strings(vals)
			out = append(out, q.Entity.String()+" "+strings.Join(vals, ","))
		}
		sort.Strings(out)
		return out
	}
	const (
		appQ    = "{client-id=app} producer_byte_rate=1024.000000"
		dfltQ   = "{client-id=<default>} consumer_byte_rate=2048.000000"
		aliceQ  = "{client-id=app, user=alice} producer_byte_rate=4096.000000,request_percentage=12.500000"
		exact   = kadm.QuotasMatchType(0)
		dflt    = kadm.QuotasMatchType(1)
		anyName = kadm.QuotasMatchType(2)
	)
	for _, c := range []struct {
		name   string
		strict bool
		comps  []kadm.DescribeClientQuotaComponent
		want   []string
	}{
		{"everything", false, nil, []string{appQ, aliceQ, dfltQ}},
		{"exact client id", false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchName: app, MatchType: exact}}, []string{appQ, aliceQ}},
		{"exact client id, strict", true, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchName: app, MatchType: exact}}, []string{appQ}},
		{"default client id", false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: dflt}}, []string{dfltQ}},
		{"any user", false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: anyName}}, []string{aliceQ}},
	} {
		sort.Strings(c.want)
		if got := describe(c.strict, c.comps...); !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}

	// An answer with no entries has an empty list, not null: the Java
	// client takes null for an error (kafka-configs failed on it).
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	comp := kmsg.NewDescribeClientQuotasRequestComponent()
	comp.EntityType, comp.Match = "client-id", kadm.StringPtr("nobody")
	req.Components = append(req.Components, comp)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || resp.Entries == nil {
		t.Errorf("describe matching nothing: error %d, entries nil %v", resp.ErrorCode, resp.Entries == nil)
	}

	// Removing the last value forgets the entity.
	setQuota(ctx, t, adm, kadm.ClientQuotaEntity{{Type: "client-id"}}, kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Remove: true})
	if got := describe(false, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: dflt}); len(got) != 0 {
		t.Errorf("after removing: %q", got)
	}

	for _, c := range []struct {
		name  string
		entry kadm.AlterClientQuotaEntry
	}{
		{"unknown key", kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "bytes_per_fortnight", Value: 1}}}},
		{"unknown type", kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "group", Name: alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}}},
		{"ip with user", kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: alice}, {Type: "ip"}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}}},
		{"negative", kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: -5}}}},
		{"fractional bytes", kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 1.5}}}},
	} {
		res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{c.entry})
		if err != nil || !errors.Is(res[0].Err, kerr.InvalidRequest) {
			t.Errorf("%s: %v %v, want INVALID_REQUEST", c.name, err, res)
		}
	}
	if _, err := adm.ValidateAlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if got := describe(true, kadm.DescribeClientQuotaComponent{Type: "user", MatchName: alice, MatchType: exact}); len(got) != 0 {
		t.Errorf("validate-only wrote %q", got)
	}
}

// incompressible returns n random bytes: producers compress, and quotas
// count the bytes on the wire.
func incompressible(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

// throttles records the throttle times a client is given.
type throttles struct {
	mu sync.Mutex
	d  []time.Duration
}

func (h *throttles) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.d = append(h.d, d)
}

func (h *throttles) max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Max(append(h.d, 0))
}

// A producer over its producer_byte_rate is given a throttle time and its
// connection is muted, as Kafka does; a client without a quota is not.
func TestProducerByteRateQuota(t *testing.T) {
	ctx, a := startAgent(t, 60*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 1, 1, nil, "quota-produce"); err != nil {
		t.Fatal(err)
	}
	setQuota(ctx, t, a.adm, kadm.ClientQuotaEntity{{Type: "client-id", Name: kadm.StringPtr("slow-producer")}},
		kadm.AlterClientQuotaOp{Key: "producer_byte_rate", Value: 10240})
	value := incompressible(10240)
	produce := func(clientID string) (*throttles, time.Duration) {
		h := &throttles{}
		cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.ClientID(clientID), kgo.WithHooks(h), kgo.ProducerLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		start := time.Now()
		// Eleven records of 10 KiB: over 10 KiB/s measured over the
		// ten-second minimum window.
		for range 13 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "quota-produce", Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return h, time.Since(start)
	}
	free, _ := produce("free-producer")
	if d := free.max(); d != 0 {
		t.Errorf("a client without a quota was throttled %v", d)
	}
	slow, took := produce("slow-producer")
	d := slow.max()
	if d < 500*time.Millisecond || d > 11*time.Second {
		t.Errorf("throttled at most %v, want about the time to bring 130 KiB down to 10 KiB/s over 10 s", d)
	}
	if took < d {
		t.Errorf("producing took %v, less than the throttle %v: the connection was not held back", took, d)
	}
	t.Logf("largest throttle %v; 13 records took %v", d, took)
}

// A consumer over its consumer_byte_rate is throttled: its fetches are
// answered without records until the rate is back under the quota, so it
// gets its records at about the quota.
func TestConsumerByteRateQuota(t *testing.T) {
	ctx, a := startAgent(t, 60*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 1, 1, nil, "quota-fetch"); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	value := incompressible(4096)
	for range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "quota-fetch", Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	setQuota(ctx, t, a.adm, kadm.ClientQuotaEntity{{Type: "client-id"}}, kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Value: 10240})

	h := &throttles{}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.ClientID("any-consumer"), kgo.WithHooks(h),
		kgo.ConsumeTopics("quota-fetch"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	start := time.Now()
	n := 0
	for n < 30 && ctx.Err() == nil {
		n += len(consumer.PollFetches(ctx).Records())
	}
	took := time.Since(start)
	if n != 30 {
		t.Fatalf("consumed %d records, want 30", n)
	}
	// 120 KiB at 10 KiB/s over at least ten seconds: the first 100 KiB
	// may come at once, the rest only after a throttle.
	if h.max() == 0 || took < time.Second {
		t.Errorf("consumed 120 KiB in %v with throttles up to %v; want it held to about 10 KiB/s", took, h.max())
	}
	t.Logf("consumed in %v, largest throttle %v", took, h.max())
}

// request_percentage bounds the share of a handler's time a client takes;
// a client over it is throttled whatever it asks.
func TestRequestPercentageQuota(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	setQuota(ctx, t, a.adm, kadm.ClientQuotaEntity{{Type: "user", Name: kadm.StringPtr("ANONYMOUS")}, {Type: "client-id", Name: kadm.StringPtr("busy")}},
		kadm.AlterClientQuotaOp{Key: "request_percentage", Value: 0.001})
	h := &throttles{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.ClientID("busy"), kgo.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; h.max() == 0; i++ {
		if i == 500 {
			t.Fatal("500 metadata requests and no throttle")
		}
		if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("throttled %v", h.max())
}
