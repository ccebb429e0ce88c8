package agent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// explicitConfigs returns a topic's configs that are set on the topic
// (DYNAMIC_TOPIC_CONFIG), by name.
func explicitConfigs(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	out := map[string]string{}
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			out[c.Key] = *c.Value
		}
	}
	return out
}

// The non-incremental AlterConfigs (key 33) replaces a topic's whole set of
// configs, as Kafka does: what is not named goes back to its default.
func TestAlterConfigsReplacesTheSet(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	adm := a.adm
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("1000"), "cleanup.policy": kadm.StringPtr("compact")}, "whole"); err != nil {
		t.Fatal(err)
	}
	set := []kadm.AlterConfig{{Name: "retention.bytes", Value: kadm.StringPtr("100")}, {Name: "max.message.bytes", Value: kadm.StringPtr("2000")}}

	// ValidateOnly changes nothing.
	if res, err := adm.ValidateAlterTopicConfigsState(ctx, set, "whole"); err != nil || res[0].Err != nil {
		t.Fatalf("validate: %v %v", err, res)
	}
	if got := explicitConfigs(ctx, t, adm, "whole"); len(got) != 2 || got["retention.ms"] != "1000" {
		t.Fatalf("after validate-only: %v", got)
	}

	res, err := adm.AlterTopicConfigsState(ctx, set, "whole")
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("alter: %v %v", err, res)
	}
	got := explicitConfigs(ctx, t, adm, "whole")
	if len(got) != 2 || got["retention.bytes"] != "100" || got["max.message.bytes"] != "2000" {
		t.Errorf("after alter: explicit configs %v, want only retention.bytes=100 and max.message.bytes=2000", got)
	}

	for _, c := range []struct {
		name   string
		topic  string
		config kadm.AlterConfig
		want   error
	}{
		{"bad value", "whole", kadm.AlterConfig{Name: "retention.ms", Value: kadm.StringPtr("soon")}, kerr.InvalidConfig},
		{"unknown key", "whole", kadm.AlterConfig{Name: "no.such.config", Value: kadm.StringPtr("1")}, kerr.InvalidConfig},
		{"unknown topic", "nope", kadm.AlterConfig{Name: "retention.ms", Value: kadm.StringPtr("1")}, kerr.UnknownTopicOrPartition},
	} {
		res, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{c.config}, c.topic)
		if err != nil || len(res) != 1 || !errors.Is(res[0].Err, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, err, res, c.want)
		}
	}
	if got := explicitConfigs(ctx, t, adm, "whole"); len(got) != 2 {
		t.Errorf("refused changes changed the configs: %v", got)
	}

	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bres, err := adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: kadm.StringPtr("1")}}, md.Brokers[0].NodeID)
	if err != nil || len(bres) != 1 || !errors.Is(bres[0].Err, kerr.InvalidRequest) {
		t.Errorf("broker configs: %v %v, want INVALID_REQUEST", err, bres)
	}
}
