package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// AlterUserScramCredentials (key 51), version 0.
//
// Behavior: deletes and upserts users' SCRAM credentials (KIP-554), as
// kafka-configs.sh --entity-type users --alter does. An upsertion carries
// the salt, iterations and salted password the client derived; the agent
// keeps the salt, iterations, StoredKey and ServerKey (internal/scram) and
// drops the salted password. Validation as Kafka's: a user named in two
// alterations is DUPLICATE_RESOURCE, an unknown mechanism
// UNSUPPORTED_SASL_MECHANISM, iterations outside 4096..16384, an empty
// salt or name UNACCEPTABLE_CREDENTIAL, deleting a credential that does not
// exist RESOURCE_NOT_FOUND. The valid alterations are committed in one
// journal entry; one result per user. With the authorizer on it needs
// ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every user).
func handleAlterUserScramCredentials(c *conn, req *request) reply {
	r := req.body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type result struct {
		code int16
		msg  string
	}
	results := map[string]*result{}
	var order []string
	count := map[string]int{}
	note := func(user string) {
		if results[user] == nil {
			results[user] = &result{}
			order = append(order, user)
		}
		count[user]++
	}
	for _, d := range r.Deletions {
		note(d.Name)
	}
	for _, u := range r.Upsertions {
		note(u.Name)
	}
	fail := func(user string, code int16, msg string) {
		if results[user].code == 0 {
			results[user].code, results[user].msg = code, msg
		}
	}
	if !c.authorizedCluster(acl.OpAlter) {
		for _, user := range order {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = user, kerr.ClusterAuthorizationFailed.Code
			resp.Results = append(resp.Results, res)
		}
		return reply{resp: resp}
	}
	var cmds []journal.Command
	var cmdUser []string
	for _, d := range r.Deletions {
		m, ok := scramMechanisms[d.Mechanism]
		switch {
		case count[d.Name] > 1:
			fail(d.Name, kerr.DuplicateResource.Code, "a user may appear in one alteration of a request")
		case d.Name == "":
			fail(d.Name, kerr.UnacceptableCredential.Code, "username must not be empty")
		case !ok:
			fail(d.Name, kerr.UnsupportedSaslMechanism.Code, "unknown SCRAM mechanism")
		default:
			cmds = append(cmds, journal.Command{SetScramCredential: &journal.SetScramCredential{User: d.Name, Mechanism: m.Name}})
			cmdUser = append(cmdUser, d.Name)
		}
	}
	for _, u := range r.Upsertions {
		m, ok := scramMechanisms[u.Mechanism]
		switch {
		case count[u.Name] > 1:
			fail(u.Name, kerr.DuplicateResource.Code, "a user may appear in one alteration of a request")
			continue
		case u.Name == "":
			fail(u.Name, kerr.UnacceptableCredential.Code, "username must not be empty")
			continue
		case !ok:
			fail(u.Name, kerr.UnsupportedSaslMechanism.Code, "unknown SCRAM mechanism")
			continue
		}
		cred, err := m.FromSalted(u.SaltedPassword, u.Salt, int(u.Iterations))
		if err != nil {
			fail(u.Name, kerr.UnacceptableCredential.Code, err.Error())
			continue
		}
		cmds = append(cmds, journal.Command{SetScramCredential: &journal.SetScramCredential{User: u.Name, Mechanism: m.Name, Credential: &cred}})
		cmdUser = append(cmdUser, u.Name)
	}
	answer := func() kmsg.Response {
		for _, user := range order {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = user, results[user].code
			if m := results[user].msg; m != "" {
				res.ErrorMessage = &m
			}
			resp.Results = append(resp.Results, res)
		}
		return resp
	}
	if len(cmds) == 0 {
		return reply{resp: answer()}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		for i, code := range c.a.submitEach(ctx, cmds) {
			if code == kerr.ResourceNotFound.Code {
				fail(cmdUser[i], code, "Attempt to delete a user credential that does not exist")
			} else if code != 0 {
				fail(cmdUser[i], code, "")
			}
		}
		return answer()
	}}
}
