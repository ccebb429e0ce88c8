package agent_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// librdkafka's KIP-848 consumer subscribes by name and sends
// SubscribedTopicRegex "" (no regex) in the same heartbeat. An empty regex is
// no regex, as in Kafka: the member is assigned only the topics it names.
func TestConsumerGroupEmptyRegexIsNoRegex(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	cl := a.cl
	created, err := kadm.NewClient(cl).CreateTopics(ctx, 2, 1, nil, "mine", "other")
	if err != nil {
		t.Fatal(err)
	}
	mine := created["mine"].ID

	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = 1
	req.Group = "g-empty-regex"
	req.MemberEpoch = 0
	req.RebalanceTimeoutMillis = 30000
	req.SubscribedTopicNames = []string{"mine"}
	req.SubscribedTopicRegex = kmsg.StringPtr("")
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if resp.Assignment == nil {
		t.Fatal("no assignment in the first heartbeat's response")
	}
	var got int
	for _, at := range resp.Assignment.Topics {
		if at.TopicID != mine {
			t.Errorf("assigned topic id %x (partitions %v), subscribed only to mine (%x)", at.TopicID, at.Partitions, [16]byte(mine))
		}
		got += len(at.Partitions)
	}
	if got != 2 {
		t.Errorf("assigned %d partitions, want mine's 2", got)
	}
}
