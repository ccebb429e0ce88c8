package journal

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/scram"
)

func TestScramCredentials(t *testing.T) {
	cred, err := scram.SHA512.NewCredential("pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	weak := cred
	weak.Iterations = 1000
	short := cred
	short.StoredKey = cred.StoredKey[:32]
	set := func(user, mech string, c *scram.Credential) Command {
		return Command{SetScramCredential: &SetScramCredential{User: user, Mechanism: mech, Credential: c}}
	}
	for _, tc := range []struct {
		name  string
		cmds  []Command
		codes []int16
		kept  bool // alice keeps a SCRAM-SHA-512 credential
	}{
		{"set", []Command{set("alice", "SCRAM-SHA-512", &cred)}, []int16{0}, true},
		{"set and delete", []Command{set("alice", "SCRAM-SHA-512", &cred), set("alice", "SCRAM-SHA-512", nil)}, []int16{0, 0}, false},
		{"delete what is not there", []Command{set("alice", "SCRAM-SHA-512", nil)}, []int16{kerr.ResourceNotFound.Code}, false},
		{"unknown mechanism", []Command{set("alice", "SCRAM-SHA-1", &cred)}, []int16{kerr.UnsupportedSaslMechanism.Code}, false},
		{"too few iterations", []Command{set("alice", "SCRAM-SHA-512", &weak)}, []int16{kerr.InvalidRequest.Code}, false},
		{"key of the wrong size", []Command{set("alice", "SCRAM-SHA-512", &short)}, []int16{kerr.InvalidRequest.Code}, false},
		{"no user", []Command{set("", "SCRAM-SHA-512", &cred)}, []int16{kerr.InvalidRequest.Code}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			for i, r := range applyAll(t, s, tc.cmds...) {
				if r.Code != tc.codes[i] {
					t.Errorf("command %d: code %d, want %d", i, r.Code, tc.codes[i])
				}
			}
			data, err := EncodeSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeSnapshot(data)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(`"pw"`)) {
				t.Error("the snapshot holds the password")
			}
			for _, st := range []*State{s, back} {
				got, ok := st.ScramCredential("alice", "SCRAM-SHA-512")
				if ok != tc.kept || (ok && !scram.SHA512.Verify(got, "pw")) {
					t.Errorf("alice's credential: %v %+v", ok, got)
				}
			}
		})
	}
}
