package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerGroupDescribe (key 69), versions 0-1.
//
// Behavior: describes KIP-848 groups: epochs, assignor, and each member's
// subscription, current and target assignment. A classic group or an
// unknown one is GROUP_ID_NOT_FOUND.
func handleConsumerGroupDescribe(c *conn, req *request) reply {
	r := req.body.(*kmsg.ConsumerGroupDescribeRequest)
	resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, name := range r.Groups {
		resp.Groups = append(resp.Groups, c.a.groups.DescribeConsumer(name, r.IncludeAuthorizedOperations))
	}
	return reply{resp: resp}
}
