package agent

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// ListGroups (key 16), versions 0-5.
//
// Behavior: the groups this agent coordinates, with their state: those in
// memory or stored in the journal, and those known only by committed
// offsets as Empty. A KIP-848 group stays of type consumer when its last
// member leaves, as in Kafka (and as ConsumerGroupDescribe describes it).
// Share groups are listed too, of type share (protocol type "share").
// v4+ filters by state, v5+ by type (classic, consumer or share).
//
// With the authorizer on, it lists every group to a client with DESCRIBE
// on the cluster, and otherwise only the groups it may DESCRIBE.
func handleListGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListGroupsRequest)
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	// As Kafka: DESCRIBE on the cluster lists every group, otherwise the
	// groups the client may DESCRIBE.
	all := !c.a.authz.on || c.permitted(acl.OpDescribe, acl.ResourceCluster, acl.ClusterName)
	listable := func(group string) bool { return all || c.permitted(acl.OpDescribe, acl.ResourceGroup, group) }
	for _, g := range c.a.groups.List(r.StatesFilter, r.TypesFilter) {
		if !listable(g.Name) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Name, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, lg)
	}
	if len(r.TypesFilter) == 0 || slices.ContainsFunc(r.TypesFilter, func(t string) bool { return strings.EqualFold(t, "share") }) {
		for _, g := range c.a.shares.List() {
			if !listable(g.Name) || len(r.StatesFilter) > 0 && !slices.ContainsFunc(r.StatesFilter, func(s string) bool { return strings.EqualFold(s, g.State) }) {
				continue
			}
			lg := kmsg.NewListGroupsResponseGroup()
			lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Name, "share", g.State, "share"
			resp.Groups = append(resp.Groups, lg)
		}
	}
	return reply{resp: resp}
}
