package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group APIs that name topics check each topic too, as Kafka: a
// principal with the group's ACL and READ (or DESCRIBE) on one topic of
// two gets its answer for that one and TOPIC_AUTHORIZATION_FAILED for the
// other, in the same response.
func TestGroupAPIsCheckEachTopic(t *testing.T) {
	aa := startACLAgent(t, nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := aa.adm.CreateTopics(ctx, 1, 1, nil, "mine", "theirs"); err != nil {
		t.Fatal(err)
	}
	lit, allow := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLPermissionTypeAllow
	createACLs(t, ctx, aa.admin,
		binding{"User:dave", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "dg", lit},
		binding{"User:dave", allow, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeGroup, "dg", lit},
		binding{"User:dave", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "mine", lit},
	)
	dave := principalClient(t, aa.seeds, "dave")

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "dg", -1
	for _, topic := range []string{"mine", "theirs"} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rt.Partitions = append(rt.Partitions, kmsg.NewOffsetCommitRequestTopicPartition())
		commit.Topics = append(commit.Topics, rt)
	}
	got := map[string]int16{}
	for _, st := range request[*kmsg.OffsetCommitResponse](t, ctx, dave, commit).Topics {
		got[st.Topic] = st.Partitions[0].ErrorCode
	}
	want := map[string]int16{"mine": 0, "theirs": kerr.TopicAuthorizationFailed.Code}
	check(t, "OffsetCommit", got, want)

	fetch := kmsg.NewPtrOffsetFetchRequest()
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = "dg"
	for _, topic := range []string{"mine", "theirs"} {
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		g.Topics = append(g.Topics, rt)
	}
	fetch.Groups = append(fetch.Groups, g)
	got = map[string]int16{}
	for _, st := range request[*kmsg.OffsetFetchResponse](t, ctx, dave, fetch).Groups[0].Topics {
		got[st.Topic] = st.Partitions[0].ErrorCode
	}
	check(t, "OffsetFetch", got, want)

	// Asking for every topic leaves out the one dave may not DESCRIBE.
	all := kmsg.NewPtrOffsetFetchRequest()
	ag := kmsg.NewOffsetFetchRequestGroup()
	ag.Group = "dg"
	all.Groups = append(all.Groups, ag)
	got = map[string]int16{}
	for _, st := range request[*kmsg.OffsetFetchResponse](t, ctx, dave, all).Groups[0].Topics {
		got[st.Topic] = st.Partitions[0].ErrorCode
	}
	check(t, "OffsetFetch of every topic", got, map[string]int16{"mine": 0})

	del := kmsg.NewPtrOffsetDeleteRequest()
	del.Group = "dg"
	for _, topic := range []string{"mine", "theirs"} {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rt.Partitions = append(rt.Partitions, kmsg.NewOffsetDeleteRequestTopicPartition())
		del.Topics = append(del.Topics, rt)
	}
	got = map[string]int16{}
	for _, st := range request[*kmsg.OffsetDeleteResponse](t, ctx, dave, del).Topics {
		got[st.Topic] = st.Partitions[0].ErrorCode
	}
	check(t, "OffsetDelete", got, want)
}

func check(t *testing.T, api string, got, want map[string]int16) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: answered %v, want %v", api, got, want)
		return
	}
	for topic, code := range want {
		if c, ok := got[topic]; !ok || c != code {
			t.Errorf("%s %s: %v, want %v", api, topic, kerr.ErrorForCode(c), kerr.ErrorForCode(code))
		}
	}
}

// A KIP-848 member's regex subscribes it only to the matching topics its
// principal may DESCRIBE, as Kafka's coordinator resolves regexes; when an
// ACL grants it another, its next heartbeat's assignment has that too.
func TestRegexSubscriptionMatchesOnlyDescribableTopics(t *testing.T) {
	aa := startACLAgent(t, nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := aa.adm.CreateTopics(ctx, 1, 1, nil, "re-open", "re-closed")
	if err != nil {
		t.Fatal(err)
	}
	lit, allow := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLPermissionTypeAllow
	createACLs(t, ctx, aa.admin,
		binding{"User:erin", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "re-g", lit},
		binding{"User:erin", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "re-open", lit},
	)
	erin := principalClient(t, aa.seeds, "erin")
	heartbeat := func(memberID string, epoch int32) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Version = 1
		req.Group, req.MemberID, req.MemberEpoch = "re-g", memberID, epoch
		req.RebalanceTimeoutMillis = 30000
		req.SubscribedTopicRegex = kmsg.StringPtr("re-.*")
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		resp := request[*kmsg.ConsumerGroupHeartbeatResponse](t, ctx, erin, req)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		return resp
	}
	assigned := func(resp *kmsg.ConsumerGroupHeartbeatResponse) map[[16]byte]bool {
		out := map[[16]byte]bool{}
		if resp.Assignment != nil {
			for _, at := range resp.Assignment.Topics {
				out[at.TopicID] = true
			}
		}
		return out
	}
	resp := heartbeat("erin-1", 0)
	if got := assigned(resp); len(got) != 1 || !got[created["re-open"].ID] {
		t.Fatalf("assigned %v, want only re-open (%v)", got, created["re-open"].ID)
	}

	createACLs(t, ctx, aa.admin, binding{"User:erin", allow, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, "re-closed", lit})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp = heartbeat(*resp.MemberID, resp.MemberEpoch)
		if got := assigned(resp); got[created["re-closed"].ID] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("re-closed never assigned after its DESCRIBE ACL; last assignment %v", assigned(resp))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
