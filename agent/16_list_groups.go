package agent

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// ListGroups (key 16), versions 0-5.
//
// Behavior: the groups this agent coordinates: those in memory with their
// state, and those known only by committed offsets as Empty. v4+ filters
// by state, v5+ by type (classic groups only, so far).
func handleListGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListGroupsRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	seen := map[string]bool{}
	add := func(name, state, protocolType string) {
		if seen[name] || !a.ownsGroup(name) {
			return
		}
		seen[name] = true
		if len(r.StatesFilter) > 0 && !slices.Contains(r.StatesFilter, state) {
			return
		}
		if len(r.TypesFilter) > 0 && !slices.ContainsFunc(r.TypesFilter, func(t string) bool { return t == "classic" || t == "Classic" }) {
			return
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = name, protocolType, state, "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	for _, g := range a.groups.all() {
		var state groupState
		var protocolType string
		if g.do(func() { state, protocolType = g.state, g.protocolType }) && state != groupDead {
			if protocolType == "" {
				protocolType = "consumer"
			}
			if state != groupEmpty || len(protocolType) > 0 {
				add(g.name, string(state), protocolType)
			}
		}
	}
	a.journal.View(func(s *journal.State) {
		for name := range s.Groups {
			add(name, string(groupEmpty), "consumer")
		}
	})
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return reply{resp: resp}
}
