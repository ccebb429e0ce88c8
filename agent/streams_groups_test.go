package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A streams group (KIP-1071) through the wire, as Kafka Streams and its
// tools use it: a member joins with a word-count topology and gets every
// task; the broker creates the repartition and (compacted) changelog
// topics; the group is listed of type streams, described by
// StreamsGroupDescribe and refused by the classic and consumer APIs; its
// member commits offsets at its epoch (an older or newer epoch is refused);
// it cannot be deleted while it has a member, and can once it is empty.
func TestStreamsGroupOverTheWire(t *testing.T) {
	ctx, a := startAgent(t, 60*time.Second)
	cl, adm := a.cl, a.adm
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "sg-in"); err != nil {
		t.Fatal(err)
	}
	const group = "sg-app"
	hb := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = group, "m1", 0, 60000
	process := "process-1"
	hb.ProcessID = &process
	top := kmsg.NewStreamsGroupHeartbeatRequestTopology()
	s0 := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	s0.SubtopologyID, s0.SourceTopics, s0.RepartitionSinkTopics = "0", []string{"sg-in"}, []string{"sg-app-rep"}
	s1 := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	s1.SubtopologyID = "1"
	rep := kmsg.NewTopicInfo()
	rep.Topic = "sg-app-rep"
	rep.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "delete"}}
	changelog := kmsg.NewTopicInfo()
	changelog.Topic = "sg-app-store-changelog"
	changelog.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "compact"}}
	s1.RepartitionSourceTopics, s1.StateChangelogTopics = []kmsg.TopicInfo{rep}, []kmsg.TopicInfo{changelog}
	top.Subtopologies = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopology{s0, s1}
	hb.Topology = &top
	hb.ActiveTasks, hb.StandbyTasks, hb.WarmupTasks = []kmsg.TaskIDs{}, []kmsg.TaskIDs{}, []kmsg.TaskIDs{}
	resp, err := toCoordinator[*kmsg.StreamsGroupHeartbeatResponse](ctx, t, cl, group, hb)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	tasks := 0
	for _, ts := range resp.ActiveTasks {
		tasks += len(ts.Partitions)
	}
	if tasks != 4 || len(resp.Status) != 0 || resp.MemberEpoch <= 0 {
		t.Fatalf("join: epoch %d, %d tasks %v, status %v", resp.MemberEpoch, tasks, resp.ActiveTasks, resp.Status)
	}
	epoch := resp.MemberEpoch

	details, err := adm.ListTopics(ctx, "sg-app-rep", "sg-app-store-changelog")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sg-app-rep", "sg-app-store-changelog"} {
		if d := details[name]; d.Err != nil || len(d.Partitions) != 2 {
			t.Fatalf("internal topic %s: %v, %d partitions", name, d.Err, len(d.Partitions))
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "sg-app-store-changelog")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cfgs[0].Configs {
		found = found || (c.Key == "cleanup.policy" && c.Value != nil && *c.Value == "compact")
	}
	if cfgs[0].Err != nil || !found {
		t.Fatalf("changelog configs: %v %+v", cfgs[0].Err, cfgs[0].Configs)
	}

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := listed[group]; g.GroupType != "streams" || g.State != "Stable" {
		t.Fatalf("listed as %+v", g)
	}
	desc := kmsg.NewPtrStreamsGroupDescribeRequest()
	desc.Groups = []string{group}
	dresp, err := toCoordinator[*kmsg.StreamsGroupDescribeResponse](ctx, t, cl, group, desc)
	if err != nil || len(dresp.Groups) != 1 {
		t.Fatal(err)
	}
	if g := dresp.Groups[0]; g.ErrorCode != 0 || g.State != "Stable" || len(g.Members) != 1 || g.Members[0].ProcessID != process {
		t.Fatalf("described: %+v", g)
	}
	classic := kmsg.NewPtrDescribeGroupsRequest()
	classic.Groups = []string{group}
	if cr, err := classic.RequestWith(ctx, cl); err != nil || cr.Groups[0].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("DescribeGroups of a streams group: %v %+v", err, cr)
	}
	cg := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	cg.Group, cg.MemberID, cg.MemberEpoch, cg.SubscribedTopicNames, cg.RebalanceTimeoutMillis = group, "c1", 0, []string{"sg-in"}, 60000
	if cr, err := cg.RequestWith(ctx, cl); err != nil || cr.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("ConsumerGroupHeartbeat on a streams group: %v %+v", err, cr)
	}

	commit := func(e int32) int16 {
		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.Version = 9
		oc.Group, oc.MemberID, oc.Generation = group, "m1", e
		ot := kmsg.NewOffsetCommitRequestTopic()
		ot.Topic = "sg-in"
		op := kmsg.NewOffsetCommitRequestTopicPartition()
		op.Partition, op.Offset = 1, 42
		ot.Partitions = []kmsg.OffsetCommitRequestTopicPartition{op}
		oc.Topics = []kmsg.OffsetCommitRequestTopic{ot}
		r, err := oc.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return r.Topics[0].Partitions[0].ErrorCode
	}
	for _, tc := range []struct {
		epoch int32
		code  int16
	}{{epoch + 1, kerr.FencedMemberEpoch.Code}, {epoch - 2, kerr.StaleMemberEpoch.Code}, {epoch, 0}} {
		if code := commit(tc.epoch); code != tc.code {
			t.Fatalf("commit at epoch %d (member's %d): %v, want %v", tc.epoch, epoch, kerr.ErrorForCode(code), kerr.ErrorForCode(tc.code))
		}
	}
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offsets.Lookup("sg-in", 1); !ok || o.At != 42 {
		t.Fatalf("fetched %+v", offsets)
	}

	deleted, err := adm.DeleteGroup(ctx, group)
	if err == nil && deleted.Err == nil {
		t.Fatal("a streams group with a member was deleted")
	} else if deleted.Err != nil && deleted.Err != kerr.NonEmptyGroup {
		t.Fatalf("delete with a member: %v", deleted.Err)
	}
	leave := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	leave.Group, leave.MemberID, leave.MemberEpoch = group, "m1", -1
	if lr, err := toCoordinator[*kmsg.StreamsGroupHeartbeatResponse](ctx, t, cl, group, leave); err != nil || lr.ErrorCode != 0 {
		t.Fatalf("leave: %v %+v", err, lr)
	}
	if deleted, err := adm.DeleteGroup(ctx, group); err != nil || deleted.Err != nil {
		t.Fatalf("delete once empty: %v %v", err, deleted.Err)
	}
	offsets, err = adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := offsets.Lookup("sg-in", 1); ok {
		t.Fatalf("offsets left after delete: %+v", offsets)
	}
}

// toCoordinator sends a request to the group's coordinator directly: kgo
// does not route the streams group APIs itself yet.
func toCoordinator[R kmsg.Response](ctx context.Context, t *testing.T, cl *kgo.Client, group string, req kmsg.Request) (R, error) {
	t.Helper()
	var zero R
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{group}
	fresp, err := fc.RequestWith(ctx, cl)
	if err != nil {
		return zero, err
	}
	if len(fresp.Coordinators) != 1 || fresp.Coordinators[0].ErrorCode != 0 {
		t.Fatalf("find coordinator: %+v", fresp)
	}
	resp, err := cl.Broker(int(fresp.Coordinators[0].NodeID)).Request(ctx, req)
	if err != nil {
		return zero, err
	}
	return resp.(R), nil
}
