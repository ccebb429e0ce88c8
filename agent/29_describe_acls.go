package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeAcls (key 29), versions 1-3.
//
// Behavior: with the authorizer off (Config.Authorizer), silt answers as
// a Kafka broker without one does: SECURITY_DISABLED, "No Authorizer is
// configured.". Tools that copy or audit ACLs (MirrorMaker 2's topic ACL
// sync, Kafka's kafka-acls) read that code as "this cluster has no ACLs"
// and go on; without the API they fail with UnsupportedVersionException
// instead. CreateAcls (30) and DeleteAcls (31) answer the same.
//
// With the authorizer on, it needs DESCRIBE on the cluster
// (CLUSTER_AUTHORIZATION_FAILED) and lists the journal's ACLs that the
// filter matches (internal/acl's Filter: ANY, MATCH, LITERAL, PREFIXED),
// grouped by resource pattern. A filter with an UNKNOWN code is
// INVALID_REQUEST.
func handleDescribeAcls(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeACLsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	if !c.a.authz.on {
		resp.ErrorCode = kerr.SecurityDisabled.Code
		resp.ErrorMessage = &errNoAuthorizer
		return reply{resp: resp}
	}
	if !c.authorizedCluster(acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply{resp: resp}
	}
	f := aclFilter(r.ResourceType, r.ResourceName, r.ResourcePatternType, r.Principal, r.Host, r.Operation, r.PermissionType)
	if err := f.Validate(); err != nil {
		msg := err.Error()
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, &msg
		return reply{resp: resp}
	}
	var matched []acl.Binding
	c.a.journal.View(func(s *journal.State) {
		for _, b := range s.ACLBindings() {
			if f.Matches(b) {
				matched = append(matched, b)
			}
		}
	})
	// Bindings come in key order, which groups each resource pattern's.
	for _, b := range matched {
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(b.ResourceType) ||
			resp.Resources[n-1].ResourceName != b.Name || resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(b.Pattern) {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.Name
			res.ResourcePatternType = kmsg.ACLResourcePatternType(b.Pattern)
			resp.Resources = append(resp.Resources, res)
			n++
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host = b.Principal, b.Host
		e.Operation, e.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, e)
	}
	return reply{resp: resp}
}

// aclFilter is the filter of a DescribeAcls request or a DeleteAcls filter.
func aclFilter(t kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType, principal, host *string,
	op kmsg.ACLOperation, perm kmsg.ACLPermissionType) acl.Filter {
	return acl.Filter{
		ResourceType: acl.ResourceType(t), Name: name, Pattern: acl.PatternType(pt),
		Principal: principal, Host: host, Operation: acl.Operation(op), Permission: acl.Permission(perm),
	}
}

// aclAlterRefusal is the code (and message) every item of a CreateAcls or
// DeleteAcls request is refused with: SECURITY_DISABLED with the
// authorizer off, CLUSTER_AUTHORIZATION_FAILED without ALTER on the
// cluster; 0 when the request may go on.
func (c *conn) aclAlterRefusal() (int16, *string) {
	switch {
	case !c.a.authz.on:
		return kerr.SecurityDisabled.Code, &errNoAuthorizer
	case !c.authorizedCluster(acl.OpAlter):
		return kerr.ClusterAuthorizationFailed.Code, nil
	}
	return 0, nil
}

// errNoAuthorizer is the message Kafka gives with SECURITY_DISABLED when no
// authorizer is configured.
var errNoAuthorizer = "No Authorizer is configured."
