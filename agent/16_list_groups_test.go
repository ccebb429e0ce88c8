package agent_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A KIP-848 group whose last member has left is listed as an Empty group of
// type consumer, as Kafka lists it and as ConsumerGroupDescribe describes
// it; a classic group stays of type classic. (Found by Kafka's AdminClient:
// listGroups gave the empty consumer group type Classic.)
func TestListGroupsKeepsTheTypeOfEmptyGroups(t *testing.T) {
	ctx, a := startAgent(t, 60*time.Second)
	cl, adm := a.cl, a.adm
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "lg"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "lg", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		group, wantType string
		opts            []kgo.Opt
	}{
		{"lg-classic", "classic", nil},
		{"lg-consumer", "consumer", []kgo.Opt{kgo.ServerSideBalancer()}},
	} {
		m, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(a.seeds...), kgo.ConsumerGroup(tc.group),
			kgo.ConsumeTopics("lg"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, tc.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if fs := m.PollRecords(ctx, 1); fs.NumRecords() != 1 {
			t.Fatalf("%s: polled %d records, errors %v", tc.group, fs.NumRecords(), fs.Errors())
		}
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := listed[tc.group]; g.GroupType != tc.wantType || g.State != "Stable" {
			t.Errorf("%s with a member: listed as type %q state %q, want %q Stable", tc.group, g.GroupType, g.State, tc.wantType)
		}
		if err := m.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		m.Close() // leaves the group

		listed, err = adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := listed[tc.group]
		if !ok {
			t.Fatalf("%s not listed after its member left", tc.group)
		}
		if g.GroupType != tc.wantType || g.State != "Empty" || g.ProtocolType != "consumer" {
			t.Errorf("%s without members: listed as type %q state %q protocol type %q, want %q Empty consumer",
				tc.group, g.GroupType, g.State, g.ProtocolType, tc.wantType)
		}
		filtered, err := adm.ListGroups(ctx, "Empty")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := filtered[tc.group]; !ok {
			t.Errorf("%s not listed under the Empty state filter", tc.group)
		}
	}
}
