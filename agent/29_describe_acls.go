package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeAcls (key 29), versions 1-3.
//
// Behavior: silt has no authorizer yet, so it answers as a Kafka broker
// without one does: SECURITY_DISABLED, "No Authorizer is configured.".
// Tools that copy or audit ACLs (MirrorMaker 2's topic ACL sync, Kafka's
// kafka-acls) read that code as "this cluster has no ACLs" and go on;
// without the API they fail with UnsupportedVersionException instead.
// CreateAcls (30) and DeleteAcls (31) answer the same. When ACLs become
// journal state (DESIGN.md, wave 2) these three handlers serve them.
func handleDescribeAcls(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeACLsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.ErrorCode = kerr.SecurityDisabled.Code
	resp.ErrorMessage = &errNoAuthorizer
	return reply{resp: resp}
}

// errNoAuthorizer is the message Kafka gives with SECURITY_DISABLED when no
// authorizer is configured.
var errNoAuthorizer = "No Authorizer is configured."
