package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// AlterPartitionReassignments (key 45), versions 0-1.
//
// Behavior: answered as a Kafka cluster answers a reassignment that moves
// nothing. silt's partitions have no replicas to move: the data is in the
// bucket and the owning agent is chosen by rendezvous hashing, so a
// reassignment is accepted (success, nothing changes, nothing stays in
// progress) when its replicas are distinct live agents, and refused with
// INVALID_REPLICA_ASSIGNMENT otherwise. A cancellation (replicas null) is
// NO_REASSIGNMENT_IN_PROGRESS, there never being one. Unknown topics and
// partitions are UNKNOWN_TOPIC_OR_PARTITION.
//
// With the authorizer on, it needs ALTER on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).
func handleAlterPartitionReassignments(c *conn, req *request) reply {
	r := req.body.(*kmsg.AlterPartitionAssignmentsRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
	if !c.authorizedCluster(acl.OpAlter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply{resp: resp}
	}
	live := a.liveNodeIDs()
	a.journal.View(func(s *journal.State) {
		for _, rt := range r.Topics {
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				sp.Partition = rp.Partition
				fail := func(code int16, msg string) { sp.ErrorCode, sp.ErrorMessage = code, &msg }
				switch {
				case s.Partition(rt.Topic, rp.Partition) == nil:
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case rp.Replicas == nil:
					fail(kerr.NoReassignmentInProgress.Code, "no reassignment is in progress")
				default:
					if msg := checkReplicas(rp.Replicas, live); msg != "" {
						fail(kerr.InvalidReplicaAssignment.Code, msg)
					}
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	})
	return reply{resp: resp}
}
