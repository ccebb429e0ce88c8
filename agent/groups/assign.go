package groups

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// The server-side assignors of KIP-848 groups: given the members'
// subscriptions and the subscribed topics' sizes, each member's target.

// memberTopics returns the topics a member subscribes to among sizes: by
// name, and by regex those its principal may DESCRIBE (Env.TopicAuthorized;
// a member not yet heard from here keeps every match until it is).
func (g *group) memberTopics(m *cmember, sizes map[string]int32) map[string]bool {
	out := map[string]bool{}
	for _, t := range m.subscribed {
		if _, ok := sizes[t]; ok {
			out[t] = true
		}
	}
	if m.regex != nil {
		if re, err := regexp.Compile(*m.regex); err == nil {
			for t := range sizes {
				if re.MatchString(t) && g.regexMayMatch(m, t) {
					out[t] = true
				}
			}
		}
	}
	return out
}

// regexMayMatch reports whether m's regex may subscribe it to topic.
func (g *group) regexMayMatch(m *cmember, topic string) bool {
	auth := g.c.env.TopicAuthorized
	return auth == nil || m.principal == "" || auth(m.principal, strings.TrimPrefix(m.clientHost, "/"), topic)
}

// assign computes every member's target with the group's assignor.
func (g *group) assign(sizes map[string]int32) {
	cg := g.cg
	members := make([]*cmember, 0, len(cg.members))
	for _, id := range cg.order {
		members = append(members, cg.members[id])
	}
	slices.SortFunc(members, func(a, b *cmember) int { return cmp.Compare(a.id, b.id) })
	subs := make(map[*cmember]map[string]bool, len(members))
	for _, m := range members {
		subs[m] = g.memberTopics(m, sizes)
	}
	topics := make([]string, 0, len(sizes))
	for t := range sizes {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	next := make(map[*cmember]tpSet, len(members))
	for _, m := range members {
		next[m] = tpSet{}
	}
	if cg.assignor == "range" {
		for _, t := range topics {
			var takers []*cmember
			for _, m := range members {
				if subs[m][t] {
					takers = append(takers, m)
				}
			}
			if len(takers) == 0 {
				continue
			}
			n, k := int(sizes[t]), len(takers)
			p := 0
			for i, m := range takers {
				count := n / k
				if i < n%k {
					count++
				}
				for range count {
					next[m][tp{t, int32(p)}] = struct{}{}
					p++
				}
			}
		}
	} else {
		g.assignUniform(members, subs, topics, sizes, next)
	}
	for _, m := range members {
		m.target = next[m]
	}
}

// assignUniform spreads partitions evenly, keeping each partition with its
// previous target owner where that stays within the member's fair share.
func (g *group) assignUniform(members []*cmember, subs map[*cmember]map[string]bool, topics []string, sizes map[string]int32, next map[*cmember]tpSet) {
	var all []tp
	for _, t := range topics {
		for p := range sizes[t] {
			all = append(all, tp{t, p})
		}
	}
	if len(members) == 0 || len(all) == 0 {
		return
	}
	quota := (len(all) + len(members) - 1) / len(members)
	var rest []tp
	for _, p := range all {
		kept := false
		for _, m := range members {
			if m.target.has(p) && subs[m][p.topic] && len(next[m]) < quota {
				next[m][p] = struct{}{}
				kept = true
				break
			}
		}
		if !kept {
			rest = append(rest, p)
		}
	}
	for _, p := range rest {
		var best *cmember
		for _, m := range members {
			if subs[m][p.topic] && (best == nil || len(next[m]) < len(next[best])) {
				best = m
			}
		}
		if best != nil {
			next[best][p] = struct{}{}
		}
	}
}
