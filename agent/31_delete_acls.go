package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteAcls (key 31), versions 1-3.
//
// Behavior: with no authorizer (see DescribeAcls), every filter is answered
// SECURITY_DISABLED with no matches, as a Kafka broker without one answers.
func handleDeleteAcls(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteACLsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	for range r.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode = kerr.SecurityDisabled.Code
		res.ErrorMessage = &errNoAuthorizer
		resp.Results = append(resp.Results, res)
	}
	return reply{resp: resp}
}
