// Package acl is Kafka's access-control model as silt implements it: ACL
// bindings, their validation, the filters DescribeAcls and DeleteAcls use,
// and an index that answers "may this principal, from this host, perform
// this operation on this resource?" without scanning the ACLs.
//
// # Semantics (Kafka's StandardAuthorizer)
//
// A binding is a resource pattern (type, name, LITERAL or PREFIXED) and an
// entry (principal, host, operation, ALLOW or DENY). A check of operation
// op by principal p from host h on resource (type t, name n) considers the
// bindings of type t whose pattern covers n: LITERAL n, LITERAL "*" (the
// wildcard), and PREFIXED with any prefix of n. Of those, the ones whose
// principal is p or "User:*" and whose host is h or "*" decide:
//
//   - any DENY for op (or ALL) refuses, whatever allows it;
//   - otherwise an ALLOW for op (or ALL) grants; an ALLOW for READ, WRITE,
//     DELETE or ALTER also grants DESCRIBE, and one for ALTER_CONFIGS
//     grants DESCRIBE_CONFIGS (implication never applies to DENY);
//   - otherwise the check is refused, unless no binding at all covers the
//     resource and the authorizer allows everyone when no ACL is found.
//
// Super users are granted everything before any binding is looked at.
//
// # The index
//
// Bindings live in the journal (they are cluster state) and change rarely;
// checks happen on every request. So an Index is immutable, built from the
// whole set of bindings whenever they change, and safe for concurrent use
// without locks. Per resource type it holds a map of LITERAL names, the
// wildcard's entries apart, and a radix tree of PREFIXED names, which one
// walk along the resource name turns into every prefix that covers it: a
// check costs one map lookup and a walk of at most len(name) bytes, however
// many bindings there are. A per-check scan of the bindings, the obvious
// alternative, grows linearly with them (10,000 bindings is several
// microseconds), and Kafka keeps a sorted set for the same reason.
//
// AnyAllowed (Kafka's authorizeByResourceType, used by InitProducerId for
// an idempotent producer without IDEMPOTENT_WRITE) does scan one type's
// bindings; it runs once per producer session, not per record.
package acl

import (
	"fmt"
	"strings"
)

// ResourceType is Kafka's resource type code
// (org.apache.kafka.common.resource.ResourceType).
type ResourceType int8

// The resource types. Any is for filters only.
const (
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// PatternType is Kafka's pattern type code (PatternType). Any and Match
// are for filters only.
type PatternType int8

// The pattern types.
const (
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is Kafka's ACL operation code (AclOperation).
type Operation int8

// The operations. Any is for filters only; All in a binding covers every
// operation.
const (
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permission is Kafka's permission type code (AclPermissionType). Any is
// for filters only.
type Permission int8

// The permissions.
const (
	PermissionAny   Permission = 1
	PermissionDeny  Permission = 2
	PermissionAllow Permission = 3
)

// ClusterName is the only name of the CLUSTER resource, as in Kafka.
const ClusterName = "kafka-cluster"

// Wildcard is the LITERAL resource name that covers every resource of its
// type, and the host that covers every host.
const Wildcard = "*"

// WildcardPrincipal covers every principal.
const WildcardPrincipal = "User:*"

// Binding is one ACL: a resource pattern and an access-control entry. It
// is what the journal stores and what DescribeAcls returns.
type Binding struct {
	ResourceType ResourceType `json:"rt"`
	Name         string       `json:"name"`
	Pattern      PatternType  `json:"pt"`
	Principal    string       `json:"principal"`
	Host         string       `json:"host"`
	Operation    Operation    `json:"op"`
	Permission   Permission   `json:"perm"`
}

// Key is the binding's identity: two bindings with the same key are the
// same ACL, which is stored once.
func (b Binding) Key() string {
	return fmt.Sprintf("%d\x00%d\x00%s\x00%s\x00%s\x00%d\x00%d", b.ResourceType, b.Pattern, b.Name, b.Principal, b.Host, b.Operation, b.Permission)
}

// String renders the binding as kafka-acls.sh lists it, for logs.
func (b Binding) String() string {
	return fmt.Sprintf("(pattern=%v:%v:%s principal=%s host=%s operation=%v permission=%v)",
		b.ResourceType, b.Pattern, b.Name, b.Principal, b.Host, b.Operation, b.Permission)
}

// Validate reports why a binding cannot be created, in the words of
// Kafka's INVALID_REQUEST messages, or nil. Resource types
// DELEGATION_TOKEN and USER are accepted and stored, as Kafka stores them.
func (b Binding) Validate() error {
	switch {
	case b.ResourceType < ResourceTopic || b.ResourceType > ResourceUser:
		return fmt.Errorf("invalid resource type %v", b.ResourceType)
	case b.Pattern != PatternLiteral && b.Pattern != PatternPrefixed:
		return fmt.Errorf("invalid pattern type %v", b.Pattern)
	case b.Operation < OpAll || b.Operation > OpDescribeTokens:
		return fmt.Errorf("invalid operation %v", b.Operation)
	case b.Permission != PermissionAllow && b.Permission != PermissionDeny:
		return fmt.Errorf("invalid permission type %v", b.Permission)
	case b.Name == "":
		return fmt.Errorf("resource name should not be empty")
	case b.ResourceType == ResourceCluster && b.Name != ClusterName:
		return fmt.Errorf("the only valid name for the CLUSTER resource is %s", ClusterName)
	case b.Pattern == PatternPrefixed && b.Name == Wildcard:
		return fmt.Errorf("a PREFIXED pattern cannot be the wildcard %q; use LITERAL", Wildcard)
	case b.Host == "":
		return fmt.Errorf("host should not be empty (use %q for any host)", Wildcard)
	}
	return ValidPrincipal(b.Principal)
}

// ValidPrincipal reports whether p is a principal in Kafka's form
// "Type:name", with a non-empty type and name.
func ValidPrincipal(p string) error {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" || name == "" {
		return fmt.Errorf("could not parse principal %q: expected a string in format principalType:principalName", p)
	}
	return nil
}

// Filter selects bindings for DescribeAcls and DeleteAcls, as Kafka's
// AclBindingFilter: a nil string matches any value, ResourceAny,
// OpAny and PermissionAny any code. PatternAny matches patterns of either
// type with exactly Name; PatternMatch matches the patterns that cover the
// resource Name (LITERAL Name, LITERAL "*", PREFIXED prefixes of Name);
// LITERAL and PREFIXED match that type and exactly Name.
type Filter struct {
	ResourceType ResourceType `json:"rt"`
	Name         *string      `json:"name,omitempty"`
	Pattern      PatternType  `json:"pt"`
	Principal    *string      `json:"principal,omitempty"`
	Host         *string      `json:"host,omitempty"`
	Operation    Operation    `json:"op"`
	Permission   Permission   `json:"perm"`
}

// Validate reports why a filter is not one Kafka accepts (an UNKNOWN code
// anywhere), or nil.
func (f Filter) Validate() error {
	switch {
	case f.ResourceType < ResourceAny || f.ResourceType > ResourceUser:
		return fmt.Errorf("invalid resource type %v", f.ResourceType)
	case f.Pattern < PatternAny || f.Pattern > PatternPrefixed:
		return fmt.Errorf("invalid pattern type %v", f.Pattern)
	case f.Operation < OpAny || f.Operation > OpDescribeTokens:
		return fmt.Errorf("invalid operation %v", f.Operation)
	case f.Permission < PermissionAny || f.Permission > PermissionAllow:
		return fmt.Errorf("invalid permission type %v", f.Permission)
	}
	return nil
}

// Matches reports whether the filter selects b.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if !f.matchesPattern(b) {
		return false
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == b.Permission
}

func (f Filter) matchesPattern(b Binding) bool {
	switch f.Pattern {
	case PatternAny:
		return f.Name == nil || *f.Name == b.Name
	case PatternMatch:
		if f.Name == nil {
			return true
		}
		switch b.Pattern {
		case PatternLiteral:
			return b.Name == *f.Name || b.Name == Wildcard
		case PatternPrefixed:
			return strings.HasPrefix(*f.Name, b.Name)
		}
		return false
	default:
		return f.Pattern == b.Pattern && (f.Name == nil || *f.Name == b.Name)
	}
}

// implies reports whether an ALLOW for granted grants op.
func implies(granted, op Operation) bool {
	switch {
	case granted == op, granted == OpAll:
		return true
	case op == OpDescribe:
		return granted == OpRead || granted == OpWrite || granted == OpDelete || granted == OpAlter
	case op == OpDescribeConfigs:
		return granted == OpAlterConfigs
	}
	return false
}

// Kafka's names of the codes, indexed by code.
var (
	resourceNames   = []string{"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"}
	patternNames    = []string{"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"}
	permissionNames = []string{"UNKNOWN", "ANY", "DENY", "ALLOW"}
	opNames         = []string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
		"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"}
)

// codeName is names[code], or UNKNOWN(code) outside it.
func codeName(names []string, code int8) string {
	if code >= 0 && int(code) < len(names) {
		return names[code]
	}
	return fmt.Sprintf("UNKNOWN(%d)", code)
}

// String names the resource type as Kafka does.
func (t ResourceType) String() string { return codeName(resourceNames, int8(t)) }

// String names the pattern type as Kafka does.
func (p PatternType) String() string { return codeName(patternNames, int8(p)) }

// String names the operation as Kafka does.
func (o Operation) String() string { return codeName(opNames, int8(o)) }

// String names the permission as Kafka does.
func (p Permission) String() string { return codeName(permissionNames, int8(p)) }
