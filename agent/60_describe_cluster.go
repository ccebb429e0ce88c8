package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeCluster (key 60), versions 0-1.
//
// Behavior: the cluster id from the journal, the journal committer as the
// controller (though every agent applies admin changes through the
// journal), and the live agents as brokers, of the client's zone as in
// Metadata. Authorized operations, when asked, are every cluster operation:
// there is no authorizer (authorized.go).
//
// With the authorizer on, it needs DESCRIBE on the cluster
// (CLUSTER_AUTHORIZATION_FAILED), and the authorized operations come from
// the ACLs.
func handleDescribeCluster(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeClusterRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	if !c.authorizedCluster(acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply{resp: resp}
	}
	a.journal.View(func(s *journal.State) { resp.ClusterID = s.ClusterID })
	resp.ControllerID = a.controllerID()
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = c.authorizedOps(acl.ResourceCluster, acl.ClusterName, clusterOps)
	}
	for _, b := range a.brokers(clientZone(req.clientID), c.listenerName()) {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port, db.Rack = b.NodeID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, db)
	}
	return reply{resp: resp}
}
