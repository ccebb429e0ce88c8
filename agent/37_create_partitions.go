package agent

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// CreatePartitions (key 37), versions 0-3.
//
// Behavior: grows each topic to Count partitions in one journal entry.
// Shrinking or keeping the count is INVALID_PARTITIONS. Explicit
// assignments, one per new partition, are accepted when every replica
// names a live agent, as Kafka accepts them, and place nothing (see
// replicas.go); otherwise INVALID_REPLICA_ASSIGNMENT. ValidateOnly writes
// nothing.
//
// With the authorizer on, each topic needs ALTER (TOPIC_AUTHORIZATION_FAILED).
func handleCreatePartitions(c *conn, req *request) reply {
	r := req.body.(*kmsg.CreatePartitionsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		a := c.a
		resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
		var cmds []journal.Command
		var idx []int
		live := a.liveNodeIDs()
		for _, rt := range r.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic = rt.Topic
			var current int32 = -1
			a.journal.View(func(s *journal.State) {
				if t := s.Topic(rt.Topic); t != nil {
					current = int32(len(t.Partitions))
				}
			})
			msg := ""
			switch {
			case !c.authorizedTopic(acl.OpAlter, rt.Topic):
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case current < 0:
				st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rt.Count <= current || rt.Count > journal.MaxPartitions:
				st.ErrorCode, msg = kerr.InvalidPartitions.Code, "the new partition count must be above the current one"
			case rt.Assignment != nil && len(rt.Assignment) != int(rt.Count-current):
				st.ErrorCode, msg = kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("%d new partitions but %d assignments", rt.Count-current, len(rt.Assignment))
			case badAssignment(rt.Assignment, live) != "":
				st.ErrorCode, msg = kerr.InvalidReplicaAssignment.Code, badAssignment(rt.Assignment, live)
			case !r.ValidateOnly:
				cmds = append(cmds, journal.Command{CreatePartitions: &journal.CreatePartitions{Name: rt.Topic, Count: rt.Count}})
				idx = append(idx, len(resp.Topics))
			}
			if msg != "" {
				st.ErrorMessage = &msg
			}
			resp.Topics = append(resp.Topics, st)
		}
		if len(cmds) > 0 {
			res, code := a.submit(ctx, cmds...)
			for i, ti := range idx {
				if code != 0 {
					resp.Topics[ti].ErrorCode = code
				} else {
					resp.Topics[ti].ErrorCode = res[i].Code
				}
			}
		}
		return resp
	}}
}

// badAssignment checks CreatePartitions' assignments; it returns a message
// for INVALID_REPLICA_ASSIGNMENT, or "".
func badAssignment(assignments []kmsg.CreatePartitionsRequestTopicAssignment, live map[int32]bool) string {
	for i, as := range assignments {
		if msg := checkReplicas(as.Replicas, live); msg != "" {
			return fmt.Sprintf("new partition %d: %s", i, msg)
		}
	}
	return ""
}
