package agent

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// FindCoordinator (key 10), versions 0-5.
//
// Behavior: a group's coordinator is the agent that owns the group. v4+
// asks for several keys at once. A share coordinator (key type 2, keys
// "group:topicId:partition") is the share-partition's owner, the
// partition's owner: it keeps the share-partition's state (through the
// journal). A transaction coordinator (key type 1) is the transactional
// id's owner (agent/txns). Other key types are INVALID_REQUEST. With the
// authorizer on, a group key needs DESCRIBE on the group
// (GROUP_AUTHORIZATION_FAILED), a transactional id DESCRIBE on it
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and a share key CLUSTER_ACTION
// on the cluster (CLUSTER_AUTHORIZATION_FAILED), as Kafka checks them.
func handleFindCoordinator(c *conn, req *request) reply {
	r := req.body.(*kmsg.FindCoordinatorRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := r.CoordinatorKeys
	if r.Version < 4 {
		keys = []string{r.CoordinatorKey}
	}
	for _, key := range keys {
		co := kmsg.NewFindCoordinatorResponseCoordinator()
		co.Key = key
		co.NodeID, co.Port = -1, -1
		switch {
		case r.CoordinatorType == 0 && !c.authorizedGroup(acl.OpDescribe, key):
			co.ErrorCode = kerr.GroupAuthorizationFailed.Code
		case r.CoordinatorType == 1 && !c.authorizedTxn(acl.OpDescribe, key):
			co.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		case r.CoordinatorType == 2 && !c.authorizedCluster(acl.OpClusterAction):
			co.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		case r.CoordinatorType == 0:
			b := a.groupCoordinator(key, c.listenerName())
			co.NodeID, co.Host, co.Port = b.NodeID, b.Host, b.Port
		case r.CoordinatorType == 1:
			b := a.txnCoordinator(key, c.listenerName())
			co.NodeID, co.Host, co.Port = b.NodeID, b.Host, b.Port
		case r.CoordinatorType == 2:
			if b, ok := a.shareCoordinator(key, c.listenerName()); ok {
				co.NodeID, co.Host, co.Port = b.NodeID, b.Host, b.Port
			} else {
				co.ErrorCode = kerr.InvalidRequest.Code
				msg := "share coordinator keys are group:topicId:partition of an existing partition"
				co.ErrorMessage = &msg
			}
		default:
			co.ErrorCode = kerr.InvalidRequest.Code
			msg := "no coordinator for key type " + strconv.Itoa(int(r.CoordinatorType))
			co.ErrorMessage = &msg
		}
		resp.Coordinators = append(resp.Coordinators, co)
	}
	if r.Version < 4 {
		co := resp.Coordinators[0]
		resp.ErrorCode, resp.ErrorMessage = co.ErrorCode, co.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = co.NodeID, co.Host, co.Port
		resp.Coordinators = nil
	}
	return reply{resp: resp}
}
