package agent

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Replica assignments. A silt partition has no replicas of its own: its
// data is in the bucket and the agent that serves it is chosen by
// rendezvous hashing. Kafka clients and tools still send assignments
// (CreateTopics, CreatePartitions, AlterPartitionReassignments); they are
// accepted, and change nothing, when Kafka would accept them on a cluster
// of these agents: every replica a live agent, none twice.

// liveNodeIDs returns the node ids of the live agents.
func (a *Agent) liveNodeIDs() map[int32]bool {
	live := map[int32]bool{}
	for _, m := range a.cluster.members() {
		live[m.NodeID] = true
	}
	return live
}

// checkReplicas checks a replica list of an assignment: at least one
// replica, each a live agent, none twice. It returns a message for
// INVALID_REPLICA_ASSIGNMENT, or "".
func checkReplicas(replicas []int32, live map[int32]bool) string {
	if len(replicas) == 0 {
		return "an assignment needs at least one replica"
	}
	seen := map[int32]bool{}
	for _, id := range replicas {
		switch {
		case seen[id]:
			return fmt.Sprintf("replica %d is named twice", id)
		case !live[id]:
			return fmt.Sprintf("replica %d is not a live agent", id)
		}
		seen[id] = true
	}
	return ""
}

// checkAssignments checks CreateTopics' replica assignments: partitions
// numbered 0 to n-1, each with a valid replica list. It returns the code
// and message to refuse them with, or 0.
func (a *Agent) checkAssignments(assignments []kmsg.CreateTopicsRequestTopicReplicaAssignment) (int16, string) {
	live := a.liveNodeIDs()
	seen := make([]bool, len(assignments))
	for _, as := range assignments {
		if as.Partition < 0 || int(as.Partition) >= len(assignments) || seen[as.Partition] {
			return kerr.InvalidReplicaAssignment.Code, "the assigned partitions must be numbered 0 to n-1, each once"
		}
		seen[as.Partition] = true
		if msg := checkReplicas(as.Replicas, live); msg != "" {
			return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("partition %d: %s", as.Partition, msg)
		}
	}
	return 0, ""
}
