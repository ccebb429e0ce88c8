package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateAcls (key 30), versions 1-3.
//
// Behavior: with no authorizer (see DescribeAcls), every creation is
// answered SECURITY_DISABLED, as a Kafka broker without one answers, and
// nothing is stored.
func handleCreateAcls(c *conn, req *request) reply {
	r := req.body.(*kmsg.CreateACLsRequest)
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	for range r.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode = kerr.SecurityDisabled.Code
		res.ErrorMessage = &errNoAuthorizer
		resp.Results = append(resp.Results, res)
	}
	return reply{resp: resp}
}
