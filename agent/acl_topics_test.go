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
