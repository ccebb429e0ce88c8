package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// DescribeCluster (key 60), versions 0-1.
//
// Behavior: the cluster id from the journal, this agent as the controller
// (every agent can apply admin changes through the journal), and the
// agents as brokers. Authorized operations are not computed.
func handleDescribeCluster(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeClusterRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	a.journal.View(func(s *journal.State) { resp.ClusterID = s.ClusterID })
	resp.ControllerID = a.nodeID
	for _, b := range a.brokers() {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port, db.Rack = b.NodeID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, db)
	}
	return reply{resp: resp}
}
