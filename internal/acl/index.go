package acl

import (
	"sort"
	"strings"
)

// Index answers authorization checks against one set of bindings. It is
// immutable once built and safe for concurrent use; a change to the
// bindings builds a new one (see the package doc).
type Index struct {
	types map[ResourceType]*typeIndex
	// all is every binding, for AnyAllowed and Len.
	all []Binding
}

// entry is the part of a binding a check compares once the pattern has
// covered the resource.
type entry struct {
	principal, host string
	op              Operation
	perm            Permission
}

// typeIndex holds one resource type's bindings by pattern.
type typeIndex struct {
	literal  map[string][]entry
	wildcard []entry
	prefixed radixNode
}

// radixNode is a node of a radix tree of PREFIXED names: the concatenated
// labels from the root spell the prefix whose entries the node holds.
// Children are sorted by their label's first byte, which no two share.
type radixNode struct {
	label    string
	children []*radixNode
	entries  []entry
}

// NewIndex builds the index of bindings. Bindings that do not validate
// are ignored (the journal never holds one).
func NewIndex(bindings []Binding) *Index {
	x := &Index{types: map[ResourceType]*typeIndex{}, all: bindings}
	for _, b := range bindings {
		if b.Validate() != nil {
			continue
		}
		t := x.types[b.ResourceType]
		if t == nil {
			t = &typeIndex{literal: map[string][]entry{}}
			x.types[b.ResourceType] = t
		}
		e := entry{principal: b.Principal, host: b.Host, op: b.Operation, perm: b.Permission}
		switch {
		case b.Pattern == PatternPrefixed:
			t.prefixed.insert(b.Name, e)
		case b.Name == Wildcard:
			t.wildcard = append(t.wildcard, e)
		default:
			t.literal[b.Name] = append(t.literal[b.Name], e)
		}
	}
	return x
}

// Len returns the number of bindings indexed.
func (x *Index) Len() int { return len(x.all) }

// insert adds e at key, below n, splitting an edge where key leaves it.
func (n *radixNode) insert(key string, e entry) {
	for key != "" {
		i, found := n.child(key[0])
		if !found {
			c := &radixNode{label: key, entries: []entry{e}}
			n.children = append(n.children, nil)
			copy(n.children[i+1:], n.children[i:])
			n.children[i] = c
			return
		}
		c := n.children[i]
		l := commonPrefix(c.label, key)
		if l < len(c.label) {
			mid := &radixNode{label: c.label[:l], children: []*radixNode{c}}
			c.label = c.label[l:]
			n.children[i] = mid
			c = mid
		}
		n, key = c, key[l:]
	}
	n.entries = append(n.entries, e)
}

// child finds the child whose label starts with b, or where it would go.
func (n *radixNode) child(b byte) (int, bool) {
	i := sort.Search(len(n.children), func(i int) bool { return n.children[i].label[0] >= b })
	return i, i < len(n.children) && n.children[i].label[0] == b
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// eachPrefix calls fn with the entries of every stored prefix of name,
// shortest first; it stops when fn returns false.
func (n *radixNode) eachPrefix(name string, fn func([]entry) bool) {
	for name != "" {
		i, found := n.child(name[0])
		if !found {
			return
		}
		c := n.children[i]
		if !strings.HasPrefix(name, c.label) {
			return
		}
		if len(c.entries) > 0 && !fn(c.entries) {
			return
		}
		n, name = c, name[len(c.label):]
	}
}

// Request is who asks: a principal ("User:alice") from a host (an IP).
type Request struct {
	Principal, Host string
}

// Authorizer is an Index with the settings that apply to every check.
type Authorizer struct {
	Index *Index
	// SuperUsers are granted everything.
	SuperUsers map[string]bool
	// AllowIfNoACL grants a check on a resource no binding covers
	// (Kafka's allow.everyone.if.no.acl.found).
	AllowIfNoACL bool
}

// Authorize reports whether r may perform op on the resource of type t
// named name.
func (a *Authorizer) Authorize(r Request, op Operation, t ResourceType, name string) bool {
	if a.SuperUsers[r.Principal] {
		return true
	}
	var ti *typeIndex
	if a.Index != nil {
		ti = a.Index.types[t]
	}
	if ti == nil {
		return a.AllowIfNoACL
	}
	var found, allowed, denied bool
	visit := func(es []entry) bool {
		found = true
		for _, e := range es {
			if e.principal != r.Principal && e.principal != WildcardPrincipal {
				continue
			}
			if e.host != r.Host && e.host != Wildcard {
				continue
			}
			if e.perm == PermissionDeny {
				if e.op == op || e.op == OpAll {
					denied = true
					return false
				}
			} else if implies(e.op, op) {
				allowed = true
			}
		}
		return true
	}
	if es := ti.literal[name]; len(es) > 0 && !visit(es) {
		return false
	}
	if len(ti.wildcard) > 0 && !visit(ti.wildcard) {
		return false
	}
	ti.prefixed.eachPrefix(name, visit)
	switch {
	case denied:
		return false
	case allowed:
		return true
	}
	return !found && a.AllowIfNoACL
}

// AnyAllowed reports whether r may perform op on at least one resource of
// type t, as Kafka's authorizeByResourceType decides it: an ALLOW for op
// on some LITERAL name or PREFIXED pattern that no DENY for op covers (a
// DENY on the wildcard, a DENY of the same literal, or a DENY prefix of
// it). It scans the type's bindings (see the package doc).
func (a *Authorizer) AnyAllowed(r Request, op Operation, t ResourceType) bool {
	if a.SuperUsers[r.Principal] {
		return true
	}
	var denyLiteral = map[string]bool{}
	var denyPrefixes, allowLiterals, allowPrefixes []string
	found := false
	if a.Index != nil {
		for _, b := range a.Index.all {
			if b.ResourceType != t {
				continue
			}
			found = true
			if (b.Principal != r.Principal && b.Principal != WildcardPrincipal) ||
				(b.Host != r.Host && b.Host != Wildcard) || (b.Operation != op && b.Operation != OpAll) {
				continue
			}
			switch {
			case b.Permission == PermissionDeny && b.Pattern == PatternLiteral:
				denyLiteral[b.Name] = true
			case b.Permission == PermissionDeny:
				denyPrefixes = append(denyPrefixes, b.Name)
			case b.Pattern == PatternLiteral:
				allowLiterals = append(allowLiterals, b.Name)
			default:
				allowPrefixes = append(allowPrefixes, b.Name)
			}
		}
	}
	if !found {
		return a.AllowIfNoACL
	}
	if denyLiteral[Wildcard] {
		return false
	}
	deniedByPrefix := func(name string) bool {
		for _, p := range denyPrefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	for _, n := range allowLiterals {
		if n == Wildcard || (!denyLiteral[n] && !deniedByPrefix(n)) {
			return true
		}
	}
	for _, p := range allowPrefixes {
		if !deniedByPrefix(p) {
			return true
		}
	}
	return false
}

// Operations returns, as KIP-430's bit field (bit i set for operation
// code i), which of ops r may perform on the resource.
func (a *Authorizer) Operations(r Request, t ResourceType, name string, ops []Operation) int32 {
	var bits int32
	for _, op := range ops {
		if a.Authorize(r, op, t, name) {
			bits |= 1 << op
		}
	}
	return bits
}
