package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// ElectLeaders (key 43), versions 0-2.
//
// Behavior: answered as a Kafka cluster answers when every partition's
// leader is already its preferred replica: a partition has one replica,
// the agent that owns it by rendezvous hashing, and that agent is alive by
// definition. Each partition asked for is ELECTION_NOT_NEEDED, for both
// preferred and unclean elections; an unknown topic or partition is
// UNKNOWN_TOPIC_OR_PARTITION. A request for all partitions (topics null)
// gets an empty list, as Kafka leaves out the partitions that needed no
// election. The top-level error (v1+) is none.
//
// With the authorizer on, it needs ALTER on the cluster
// (CLUSTER_AUTHORIZATION_FAILED for every partition).
func handleElectLeaders(c *conn, req *request) reply {
	r := req.body.(*kmsg.ElectLeadersRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	if !c.authorizedCluster(acl.OpAlter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		for _, rt := range r.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return reply{resp: resp}
	}
	a.journal.View(func(s *journal.State) {
		for _, rt := range r.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			st.Partitions = perPartition(s, rt.Topic, rt.Partitions, func(p int32, known bool) kmsg.ElectLeadersResponseTopicPartition {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, kerr.UnknownTopicOrPartition.Code
				if known {
					msg := "the partition's leader is its only replica and is live"
					sp.ErrorCode, sp.ErrorMessage = kerr.ElectionNotNeeded.Code, &msg
				}
				return sp
			})
			resp.Topics = append(resp.Topics, st)
		}
	})
	return reply{resp: resp}
}

// perPartition answers each partition a request names of a topic, telling
// answer whether the partition exists.
func perPartition[T any](s *journal.State, topic string, partitions []int32, answer func(p int32, known bool) T) []T {
	out := make([]T, 0, len(partitions))
	for _, p := range partitions {
		out = append(out, answer(p, s.Partition(topic, p) != nil))
	}
	return out
}
