package agent

import (
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// ListGroups (key 16), versions 0-5.
//
// Behavior: the groups this agent coordinates: those in memory with their
// state, and those known only by committed offsets as Empty. A KIP-848
// group stays of type consumer when its last member leaves, as in Kafka
// (and as ConsumerGroupDescribe describes it). v4+ filters by state, v5+
// by type (classic or consumer).
func handleListGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListGroupsRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	seen := map[string]bool{}
	add := func(name, state, protocolType, groupType string) {
		if seen[name] || !a.ownsGroup(name) {
			return
		}
		seen[name] = true
		if len(r.StatesFilter) > 0 && !slices.Contains(r.StatesFilter, state) {
			return
		}
		if len(r.TypesFilter) > 0 && !slices.ContainsFunc(r.TypesFilter, func(t string) bool { return strings.EqualFold(t, groupType) }) {
			return
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = name, protocolType, state, groupType
		resp.Groups = append(resp.Groups, lg)
	}
	for _, g := range a.groups.all() {
		var state, protocolType, groupType string
		ok := g.do(func() {
			state, protocolType, groupType = string(g.state), g.protocolType, "classic"
			if g.cg != nil && len(g.members) == 0 {
				state, protocolType, groupType = g.consumerState(), "consumer", "consumer"
			}
		})
		if ok && state != string(groupDead) {
			if protocolType == "" {
				protocolType = "consumer"
			}
			add(g.name, state, protocolType, groupType)
		}
	}
	a.journal.View(func(s *journal.State) {
		for name := range s.Groups {
			add(name, string(groupEmpty), "consumer", "classic")
		}
	})
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return reply{resp: resp}
}
