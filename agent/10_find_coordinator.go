package agent

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator (key 10), versions 0-5.
//
// Behavior: a group's coordinator is the agent that owns the group. v4+
// asks for several keys at once. A share coordinator (key type 2, keys
// "group:topicId:partition") is the share-partition's owner, the
// partition's owner: it keeps the share-partition's state (through the
// journal). Transaction coordinators (key type 1) are answered with
// INVALID_REQUEST and a message saying silt has no transactions, so a
// transactional client fails at once rather than retrying forever.
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
		switch r.CoordinatorType {
		case 0:
			b := a.groupCoordinator(key, c.listenerName())
			co.NodeID, co.Host, co.Port = b.NodeID, b.Host, b.Port
		case 2:
			if b, ok := a.shareCoordinator(key, c.listenerName()); ok {
				co.NodeID, co.Host, co.Port = b.NodeID, b.Host, b.Port
			} else {
				co.ErrorCode = kerr.InvalidRequest.Code
				msg := "share coordinator keys are group:topicId:partition of an existing partition"
				co.ErrorMessage = &msg
			}
		default:
			co.ErrorCode = kerr.InvalidRequest.Code
			msg := "silt does not support transactions: no coordinator for key type " + strconv.Itoa(int(r.CoordinatorType))
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
