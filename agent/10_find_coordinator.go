package agent

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator (key 10), versions 0-5.
//
// Behavior: a group's coordinator is the agent that owns the group. v4+
// asks for several keys at once. Transaction coordinators (key type 1) are
// answered with INVALID_REQUEST and a message saying silt has no
// transactions, so a transactional client fails at once rather than
// retrying forever; share-group keys likewise.
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
		if r.CoordinatorType != 0 {
			co.ErrorCode = kerr.InvalidRequest.Code
			msg := "silt does not support transactions or share groups: no coordinator for key type " + strconv.Itoa(int(r.CoordinatorType))
			co.ErrorMessage = &msg
		} else {
			b := a.groupCoordinator(key)
			co.NodeID, co.Host, co.Port = b.NodeID, b.Host, b.Port
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
