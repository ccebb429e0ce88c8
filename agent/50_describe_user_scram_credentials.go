package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeUserScramCredentials (key 50), version 0.
//
// Behavior: each named user's SCRAM mechanisms and iterations (never a
// salt or key), from the journal; no names (null or empty) describes every
// user with a credential. A named user without one is RESOURCE_NOT_FOUND,
// a user named twice DUPLICATE_RESOURCE, as Kafka answers. With the
// authorizer on it needs DESCRIBE on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).
func handleDescribeUserScramCredentials(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !c.authorizedCluster(acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply{resp: resp}
	}
	c.a.journal.View(func(s *journal.State) {
		names := make([]string, 0, len(r.Users))
		for _, u := range r.Users {
			names = append(names, u.Name)
		}
		if len(names) == 0 {
			for u := range s.ScramCredentials {
				names = append(names, u)
			}
			slices.Sort(names)
		}
		seen := map[string]int{}
		for _, n := range names {
			seen[n]++
		}
		for _, n := range names {
			if seen[n] < 0 {
				continue // answered already
			}
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.User = n
			creds := s.ScramCredentials[n]
			switch {
			case seen[n] > 1:
				res.ErrorCode = kerr.DuplicateResource.Code
				msg := "user " + n + " named more than once"
				res.ErrorMessage = &msg
			case len(creds) == 0:
				res.ErrorCode = kerr.ResourceNotFound.Code
				msg := "Attempt to describe a user credential that does not exist"
				res.ErrorMessage = &msg
			}
			if res.ErrorCode == 0 {
				for mech, cr := range creds {
					ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
					ci.Mechanism, ci.Iterations = scramMechanismCode(mech), int32(cr.Iterations)
					res.CredentialInfos = append(res.CredentialInfos, ci)
				}
				slices.SortFunc(res.CredentialInfos, func(a, b kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo) int {
					return int(a.Mechanism) - int(b.Mechanism)
				})
			}
			resp.Results = append(resp.Results, res)
			seen[n] = -1 // one result per name
		}
	})
	return reply{resp: resp}
}
