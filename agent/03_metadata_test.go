package agent_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata v12 names topics by id with an empty name beside each id, as the
// Java AdminClient's describeTopics(TopicCollection.ofTopicIds(...)) sends
// it; Kafka then answers by id and ignores the names.
func TestMetadataByTopicIDWithEmptyName(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	cl, adm := a.cl, a.adm
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "by-id"); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx, "by-id")
	if err != nil {
		t.Fatal(err)
	}
	id := td["by-id"].ID
	unknown := [16]byte{1, 2, 3}

	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	for _, tid := range [][16]byte{id, unknown} {
		rt := kmsg.NewMetadataRequestTopic()
		empty := ""
		rt.Topic, rt.TopicID = &empty, tid
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 2 {
		t.Fatalf("%d topics in the answer, want 2: %+v", len(resp.Topics), resp.Topics)
	}
	for _, rt := range resp.Topics {
		switch rt.TopicID {
		case id:
			if rt.ErrorCode != 0 || rt.Topic == nil || *rt.Topic != "by-id" || len(rt.Partitions) != 2 {
				t.Errorf("known id answered with error %d, name %v, %d partitions", rt.ErrorCode, rt.Topic, len(rt.Partitions))
			}
		case unknown:
			if rt.ErrorCode != kerr.UnknownTopicID.Code {
				t.Errorf("unknown id answered with error %d, want UNKNOWN_TOPIC_ID", rt.ErrorCode)
			}
		default:
			t.Errorf("answer for a topic not asked for: id %x name %v error %d", rt.TopicID, rt.Topic, rt.ErrorCode)
		}
	}
}

// As on Kafka, the Metadata request that auto-creates a topic is answered
// LEADER_NOT_AVAILABLE without partitions; the next one has the topic.
func TestMetadataAutoCreateAnswersLeaderNotAvailableFirst(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	ask := func() kmsg.MetadataResponseTopic {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = true
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("auto-created")
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, a.cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Topics) != 1 {
			t.Fatalf("%d topics in the answer, want 1", len(resp.Topics))
		}
		return resp.Topics[0]
	}
	if first := ask(); first.ErrorCode != kerr.LeaderNotAvailable.Code || len(first.Partitions) != 0 {
		t.Errorf("creating request: error %d, %d partitions; want LEADER_NOT_AVAILABLE and none", first.ErrorCode, len(first.Partitions))
	}
	if second := ask(); second.ErrorCode != 0 || len(second.Partitions) != 1 {
		t.Errorf("next request: error %d, %d partitions; want the topic", second.ErrorCode, len(second.Partitions))
	}
}
