package journal

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/scram"
)

// SCRAM credentials (KIP-554): each user's salt, iterations, StoredKey and
// ServerKey per mechanism, never a password nor a salted password. They
// are cluster state, like topics: AlterUserScramCredentials and
// `silt user set` commit a SetScramCredential command, and every agent
// authenticates SCRAM and PLAIN clients against what the journal holds.

// SetScramCredential sets a user's credential for one mechanism, or
// removes it when Credential is nil (RESOURCE_NOT_FOUND if there is none).
// Refused with UNSUPPORTED_SASL_MECHANISM for a mechanism other than
// SCRAM-SHA-256 and SCRAM-SHA-512, and INVALID_REQUEST for a credential
// below scram.MinIterations or without keys.
type SetScramCredential struct {
	User       string            `json:"user"`
	Mechanism  string            `json:"mechanism"`
	Credential *scram.Credential `json:"credential,omitempty"`
}

func (s *State) setScramCredential(c *SetScramCredential) Result {
	m, ok := scram.Lookup(c.Mechanism)
	switch {
	case c.User == "":
		return Result{Code: kerr.InvalidRequest.Code}
	case !ok:
		return Result{Code: kerr.UnsupportedSaslMechanism.Code}
	}
	if c.Credential == nil {
		if _, ok := s.ScramCredentials[c.User][c.Mechanism]; !ok {
			return Result{Code: kerr.ResourceNotFound.Code}
		}
		delete(s.ScramCredentials[c.User], c.Mechanism)
		if len(s.ScramCredentials[c.User]) == 0 {
			delete(s.ScramCredentials, c.User)
		}
		return Result{}
	}
	size := m.Hash().Size()
	cr := c.Credential
	if cr.Iterations < scram.MinIterations || cr.Iterations > scram.MaxIterations || len(cr.Salt) == 0 ||
		len(cr.StoredKey) != size || len(cr.ServerKey) != size {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	if s.ScramCredentials[c.User] == nil {
		s.ScramCredentials[c.User] = map[string]scram.Credential{}
	}
	s.ScramCredentials[c.User][c.Mechanism] = scram.Credential{
		Salt: slices.Clone(cr.Salt), Iterations: cr.Iterations,
		StoredKey: slices.Clone(cr.StoredKey), ServerKey: slices.Clone(cr.ServerKey),
	}
	return Result{}
}

// ScramCredential returns a user's credential for a mechanism.
func (s *State) ScramCredential(user, mechanism string) (scram.Credential, bool) {
	c, ok := s.ScramCredentials[user][mechanism]
	return c, ok
}
