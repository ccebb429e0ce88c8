package journal

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/acl"
)

// ACLs (Kafka's CreateAcls, DeleteAcls) are cluster state, like topics: an
// agent commits a CreateACL or DeleteACLs command and every agent's
// authorizer answers from what the journal holds, so all agents agree and
// the ACLs survive restarts. A DeleteACLs filter is matched when the
// command is applied, not when it is proposed, so an ACL created
// concurrently is deleted or kept the same way on every agent.

// CreateACL stores one ACL binding; storing one already held changes
// nothing. A binding that does not validate is INVALID_REQUEST (the agent
// validates first, to answer with Kafka's message).
type CreateACL struct {
	ACL acl.Binding `json:"acl"`
}

// DeleteACLs removes every stored binding the filter matches; the result
// lists them (Result.ACLs).
type DeleteACLs struct {
	Filter acl.Filter `json:"filter"`
}

func (s *State) createACL(c *CreateACL) Result {
	if c.ACL.Validate() != nil {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	k := c.ACL.Key()
	if _, ok := s.ACLs[k]; !ok {
		s.ACLs[k] = c.ACL
		s.ACLVersion = s.Seq
	}
	return Result{}
}

func (s *State) deleteACLs(c *DeleteACLs) Result {
	if c.Filter.Validate() != nil {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	var keys []string
	for k, b := range s.ACLs {
		if c.Filter.Matches(b) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	deleted := make([]acl.Binding, len(keys))
	for i, k := range keys {
		deleted[i] = s.ACLs[k]
		delete(s.ACLs, k)
	}
	if len(deleted) > 0 {
		s.ACLVersion = s.Seq
	}
	return Result{ACLs: deleted}
}

// ACLBindings returns every stored binding, in key order (which keeps a
// resource pattern's bindings together).
func (s *State) ACLBindings() []acl.Binding {
	keys := slices.Sorted(maps.Keys(s.ACLs))
	out := make([]acl.Binding, len(keys))
	for i, k := range keys {
		out[i] = s.ACLs[k]
	}
	return out
}
