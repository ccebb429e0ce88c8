package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"unicode/utf8"
)

// errUnknownGroup: no group of that name, in memory or in the journal.
var errUnknownGroup = errors.New("unknown group")

// Membership is held by a group's coordinator alone, so the group pages ask
// every agent for the groups it coordinates (scope=local) and merge; the
// committed offsets and lag come from the journal state every agent holds.

// GroupsView is the group list.
type GroupsView struct {
	Groups []GroupRow `json:"groups"`
	// Errors lists the agents that did not answer: their groups show only
	// what the journal knows.
	Errors []string `json:"errors"`
}

// GroupRow is one group in the list.
type GroupRow struct {
	GroupSummary
	Coordinator string `json:"coordinator"`
	// Lag sums the lag of the group's partitions; Partitions counts them.
	Lag        int64    `json:"lag"`
	Partitions int      `json:"partitions"`
	Topics     []string `json:"topics"`
}

func localScope(r *http.Request) bool { return r.URL.Query().Get("scope") == "local" }

func (s *Server) groupsView(r *http.Request) (any, error) {
	local, err := s.src.LocalGroups()
	if err != nil {
		return nil, err
	}
	if localScope(r) {
		return local, nil
	}
	c, err := s.src.Cluster()
	if err != nil {
		return nil, err
	}
	offsets, err := s.src.GroupOffsets()
	if err != nil {
		return nil, err
	}
	v := GroupsView{Groups: []GroupRow{}, Errors: []string{}}
	rows := map[string]*GroupRow{}
	add := func(g GroupSummary, coordinator string) {
		if rows[g.Name] == nil {
			rows[g.Name] = &GroupRow{GroupSummary: g, Coordinator: coordinator, Topics: []string{}}
		}
	}
	for _, g := range local {
		add(g, c.Self)
	}
	remote := make([][]GroupSummary, len(c.Members))
	errs := make([]error, len(c.Members))
	fanOut(c.Members, c.Self, func(i int, m Agent) {
		errs[i] = s.peerGet(r.Context(), m.InternalAddr, "/api/v1/groups", url.Values{"scope": {"local"}}, &remote[i])
	})
	for i, m := range c.Members {
		if errs[i] != nil {
			v.Errors = append(v.Errors, fmt.Sprintf("%s: %v", m.Name, errs[i]))
		}
		for _, g := range remote[i] {
			add(g, m.Name)
		}
	}
	for _, o := range offsets {
		row := rows[o.Group]
		if row == nil {
			// Its coordinator did not answer: the journal knows it.
			coord, _ := s.src.GroupCoordinator(o.Group)
			add(GroupSummary{Name: o.Group, State: "Unknown"}, coord.Name)
			row = rows[o.Group]
		}
		row.Lag += o.Lag
		row.Partitions++
		if !slices.Contains(row.Topics, o.Topic) {
			row.Topics = append(row.Topics, o.Topic)
		}
	}
	for _, row := range rows {
		sort.Strings(row.Topics)
		v.Groups = append(v.Groups, *row)
	}
	sort.Slice(v.Groups, func(i, j int) bool { return v.Groups[i].Name < v.Groups[j].Name })
	return v, nil
}

// GroupView is a group's page.
type GroupView struct {
	Name        string `json:"name"`
	Coordinator string `json:"coordinator"`
	// Members is nil when the coordinator holds no such group in memory
	// (it has committed offsets only) or did not answer (MembersError).
	Members      *GroupMembers `json:"members"`
	MembersError string        `json:"members_error,omitempty"`
	Lag          int64         `json:"lag"`
	Offsets      []OffsetRow   `json:"offsets"`
}

// OffsetRow is a committed offset with the member it is assigned to and
// its lag's history (oldest first).
type OffsetRow struct {
	GroupOffset
	Member     string    `json:"member,omitempty"`
	LagHistory []float64 `json:"lag_history"`
}

func (s *Server) groupView(r *http.Request) (any, error) {
	name := r.PathValue("group")
	if !utf8.ValidString(name) {
		return nil, badRequest("the group name is not valid UTF-8")
	}
	if name == "" {
		return nil, badRequest("no group named")
	}
	if localScope(r) {
		g, ok, err := s.src.LocalGroup(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("group %q is not in this agent's memory: %w", name, errUnknownGroup)
		}
		return g, nil
	}
	c, err := s.src.Cluster()
	if err != nil {
		return nil, err
	}
	coord, err := s.src.GroupCoordinator(name)
	if err != nil {
		return nil, err
	}
	v := GroupView{Name: name, Coordinator: coord.Name, Offsets: []OffsetRow{}}
	if coord.Name == c.Self {
		g, ok, err := s.src.LocalGroup(name)
		if err != nil {
			return nil, err
		}
		if ok {
			v.Members = &g
		}
	} else {
		var g GroupMembers
		err := s.peerGet(r.Context(), coord.InternalAddr, "/api/v1/groups/"+name, url.Values{"scope": {"local"}}, &g)
		switch {
		case err == nil:
			v.Members = &g
		case !isNotFound(err):
			v.MembersError = err.Error()
		}
	}
	offsets, err := s.src.GroupOffsets()
	if err != nil {
		return nil, err
	}
	owner := map[string]string{}
	if v.Members != nil {
		for _, m := range v.Members.Members {
			for _, tp := range m.Assignment {
				for _, p := range tp.Partitions {
					owner[fmt.Sprintf("%s/%d", tp.Topic, p)] = m.ClientID
				}
			}
		}
	}
	for _, o := range offsets {
		if o.Group != name {
			continue
		}
		v.Lag += o.Lag
		v.Offsets = append(v.Offsets, OffsetRow{GroupOffset: o, Member: owner[fmt.Sprintf("%s/%d", o.Topic, o.Partition)],
			LagHistory: s.sampler.lag(name, o.Topic, o.Partition)})
	}
	if v.Members == nil && v.MembersError == "" && len(v.Offsets) == 0 {
		return nil, fmt.Errorf("group %q has no members and no committed offsets: %w", name, errUnknownGroup)
	}
	return v, nil
}

// isNotFound reports whether a peer answered 404.
func isNotFound(err error) bool {
	var pe *peerError
	return errors.As(err, &pe) && pe.status == http.StatusNotFound
}
