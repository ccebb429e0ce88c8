package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListPartitionReassignments (key 46), version 0.
//
// Behavior: no reassignment is ever in progress (see
// AlterPartitionReassignments), so the answer lists no topics, whatever
// the request names, as Kafka answers when none is.
func handleListPartitionReassignments(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListPartitionReassignmentsRequest)
	return reply{resp: r.ResponseKind()}
}
