package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// OffsetForLeaderEpoch (key 23), versions 2-4.
//
// Behavior: every partition has had one leader epoch (see leaderEpoch)
// since it was created, so the end offset of any epoch a client knows is
// the high watermark; an epoch newer than silt's is UNKNOWN_LEADER_EPOCH. A
// client that checks for log truncation after a leader change therefore
// always finds none, which is true: the log is never truncated. With the
// authorizer on, each topic needs DESCRIBE (TOPIC_AUTHORIZATION_FAILED for
// its partitions).
func handleOffsetForLeaderEpoch(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	describable := make([]bool, len(r.Topics)) // decided outside the state lock
	for i, rt := range r.Topics {
		describable[i] = c.authorizedTopic(acl.OpDescribe, rt.Topic)
	}
	c.a.journal.View(func(s *journal.State) {
		for i, rt := range r.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
				p := s.Partition(rt.Topic, rp.Partition)
				switch {
				case !describable[i]:
					sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				case p == nil:
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case rp.CurrentLeaderEpoch > leaderEpoch || rp.LeaderEpoch > leaderEpoch:
					sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
				default:
					sp.LeaderEpoch, sp.EndOffset = leaderEpoch, p.NextOffset
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	})
	return reply{resp: resp}
}
