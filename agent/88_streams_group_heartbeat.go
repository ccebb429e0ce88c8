package agent

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// StreamsGroupHeartbeat (key 88), versions 0-1.
//
// Behavior: KIP-1071 membership at the group's coordinator. Epoch 0 joins
// with the member's own id, its process id and the application's topology;
// -1 leaves (-2, a static member's leave, too: silt keeps no static
// streams members); any other must be the member's epoch or the one before
// (else FENCED_MEMBER_EPOCH; UNKNOWN_MEMBER_ID for a member the
// coordinator does not know, which then joins again). The topology is
// validated (STREAMS_INVALID_TOPOLOGY) and configured against the topics;
// missing repartition and changelog topics are created with the configs
// the application sent. The coordinator assigns tasks with the sticky
// assignor and sends them when they changed; a task is handed to a member
// only once its previous owner reported giving it up. Statuses tell the
// members of missing source or internal topics, wrongly partitioned ones,
// a stale topology, or a requested shutdown. v1's TopologyDescriptionRequired
// is always false: no topology description is kept. A group id used by
// another type of group is GROUP_ID_NOT_FOUND. A heartbeat that changes
// the group is answered once the change is stored in the journal, so a
// coordinator that takes over resumes epochs and tasks (see
// agent/streamsgroups). With the authorizer on, the group needs READ
// (GROUP_AUTHORIZATION_FAILED) and the topology's source topics DESCRIBE
// (TOPIC_AUTHORIZATION_FAILED); the internal topics the coordinator
// creates need no ACL of the member's.
func handleStreamsGroupHeartbeat(c *conn, req *request) reply {
	r := req.body.(*kmsg.StreamsGroupHeartbeatRequest)
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	var sources []string
	if r.Topology != nil {
		for _, st := range r.Topology.Subtopologies {
			sources = append(sources, st.SourceTopics...)
		}
	}
	if code, msg := c.groupHeartbeatRefusal(r.Group, sources); code != 0 {
		resp := r.ResponseKind().(*kmsg.StreamsGroupHeartbeatResponse)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		return c.a.streams.Heartbeat(ctx, r, req.clientID, "/"+host)
	}}
}
