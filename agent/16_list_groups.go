package agent

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups (key 16), versions 0-5.
//
// Behavior: the groups this agent coordinates, with their state: those in
// memory or stored in the journal, and those known only by committed
// offsets as Empty. A KIP-848 group stays of type consumer when its last
// member leaves, as in Kafka (and as ConsumerGroupDescribe describes it).
// Share groups are listed too, of type share (protocol type "share").
// v4+ filters by state, v5+ by type (classic, consumer or share).
func handleListGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListGroupsRequest)
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	for _, g := range c.a.groups.List(r.StatesFilter, r.TypesFilter) {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Name, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, lg)
	}
	if len(r.TypesFilter) == 0 || slices.ContainsFunc(r.TypesFilter, func(t string) bool { return strings.EqualFold(t, "share") }) {
		for _, g := range c.a.shares.List() {
			if len(r.StatesFilter) > 0 && !slices.ContainsFunc(r.StatesFilter, func(s string) bool { return strings.EqualFold(s, g.State) }) {
				continue
			}
			lg := kmsg.NewListGroupsResponseGroup()
			lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Name, "share", g.State, "share"
			resp.Groups = append(resp.Groups, lg)
		}
	}
	return reply{resp: resp}
}
