package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// ListPartitionReassignments (key 46), version 0.
//
// Behavior: no reassignment is ever in progress (see
// AlterPartitionReassignments), so the answer lists no topics, whatever
// the request names, as Kafka answers when none is.
//
// With the authorizer on, it needs DESCRIBE on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).
func handleListPartitionReassignments(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if !c.authorizedCluster(acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
	}
	return reply{resp: resp}
}
