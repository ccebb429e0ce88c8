package agent

import (
	"bytes"
	"testing"

	"github.com/silt-io/silt/internal/scram"
)

// An unknown user is answered with a made-up salt that does not give it
// away: the same every time it asks, different from another user's, and,
// in a cluster with a secret, the same on every agent, as a real user's
// salt is (it lives in the journal).
func TestUnknownUserSalt(t *testing.T) {
	secret := []byte("a cluster secret of enough bytes")
	one := &Agent{cfg: Config{ClusterSecret: secret}}
	two := &Agent{cfg: Config{ClusterSecret: secret}}
	other := &Agent{cfg: Config{ClusterSecret: []byte("another cluster's secret, longer")}}
	lone := &Agent{}
	salt := func(a *Agent, user string) []byte { return a.fakeCredential(scram.SHA512, user).Salt }

	if !bytes.Equal(salt(one, "mallory"), salt(two, "mallory")) {
		t.Error("two agents of one cluster answer mallory with different salts")
	}
	if bytes.Equal(salt(one, "mallory"), salt(other, "mallory")) {
		t.Error("two clusters answer mallory with the same salt")
	}
	if bytes.Equal(salt(one, "mallory"), salt(one, "trudy")) {
		t.Error("mallory and trudy get the same salt")
	}
	if !bytes.Equal(salt(lone, "mallory"), salt(lone, "mallory")) {
		t.Error("an agent without a secret answers mallory with a different salt each time")
	}
	if c := one.fakeCredential(scram.SHA256, "mallory"); len(c.Salt) != 32 || c.Iterations != scram.MinIterations {
		t.Errorf("made-up credential: salt of %d bytes, %d iterations", len(c.Salt), c.Iterations)
	}
}
