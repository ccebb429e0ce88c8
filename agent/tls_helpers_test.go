package agent

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"testing"

	"github.com/silt-io/silt/internal/testpki"
)

// TestCA is a certificate authority made for one test (exported to the
// agent_test package, which shares this test binary).
type TestCA struct{ *testpki.CA }

// NewTestCA makes a CA in a temporary directory of the test.
func NewTestCA(t testing.TB) *TestCA {
	t.Helper()
	ca, err := testpki.NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &TestCA{ca}
}

// Issue makes a certificate for subject (server: for localhost and
// 127.0.0.1) and returns it as a tls.Certificate and as PEM files.
func (ca *TestCA) Issue(t testing.TB, subject pkix.Name, server bool, name string) (tls.Certificate, string, string) {
	t.Helper()
	cert, certFile, keyFile, err := ca.CA.Issue(name, subject, server)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}
