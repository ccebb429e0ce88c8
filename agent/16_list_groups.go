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
// Streams groups are listed of type streams (protocol type streams).
// v4+ filters by state, v5+ by type (classic, consumer, share or streams).
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
		if c.a.streams.IsStreamsGroup(g.Name) {
			continue // its offsets are a group's; it is listed below
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Name, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, lg)
	}
	for _, g := range c.a.shares.List() {
		if listable(g.Name) {
			appendListed(r, resp, g.Name, g.State, "share")
		}
	}
	for _, g := range c.a.streams.List() {
		if listable(g.Name) {
			appendListed(r, resp, g.Name, g.State, "streams")
		}
	}
	return reply{resp: resp}
}

// appendListed lists a share or streams group (its protocol type is its
// type) unless the request's filters leave it out.
func appendListed(r *kmsg.ListGroupsRequest, resp *kmsg.ListGroupsResponse, name, state, typ string) {
	if len(r.TypesFilter) > 0 && !slices.ContainsFunc(r.TypesFilter, func(t string) bool { return strings.EqualFold(t, typ) }) {
		return
	}
	if len(r.StatesFilter) > 0 && !slices.ContainsFunc(r.StatesFilter, func(s string) bool { return strings.EqualFold(s, state) }) {
		return
	}
	lg := kmsg.NewListGroupsResponseGroup()
	lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = name, typ, state, typ
	resp.Groups = append(resp.Groups, lg)
}
