package e2e

import (
	"context"
	"crypto/x509/pkix"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silt-io/silt/internal/testpki"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestKcatOverSASLSSL: librdkafka (kcat) against the agent binary over
// SASL_SSL, with PLAIN and both SCRAM mechanisms, authenticating a user
// that `silt user set` wrote into the bucket before the agent started;
// Metadata gives kcat the SASL_SSL address. A wrong password is refused.
func TestKcatOverSASLSSL(t *testing.T) {
	dir := t.TempDir()
	ca, err := testpki.NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, certFile, keyFile, err := ca.Issue("server", pkix.Name{CommonName: "localhost"}, true)
	if err != nil {
		t.Fatal(err)
	}
	bucket := filepath.Join(dir, "bucket")
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("kcat-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := localstacktest.BuildBinary(t)
	out, err := exec.Command(bin, "user", "set", "--bucket", bucket, "--user", "kc", "--mechanism", "SCRAM-SHA-256,SCRAM-SHA-512", "--password-file", pw).CombinedOutput()
	if err != nil {
		t.Fatalf("silt user set: %v\n%s", err, out)
	}
	plainAddr, saslAddr := freeLoopback(t), freeLoopback(t)
	localstacktest.StartProcess(t, localstacktest.ProcessOptions{
		Bucket: bucket,
		Listen: "PLAINTEXT://" + plainAddr + ",SASL_SSL://" + saslAddr,
		Args:   []string{"--tls-cert", certFile, "--tls-key", keyFile},
	})
	sasl := func(mech, password string) []string {
		return []string{"-b", saslAddr, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=" + mech,
			"-X", "sasl.username=kc", "-X", "sasl.password=" + password, "-X", "ssl.ca.location=" + ca.CAFile()}
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			topic := "kcat-sasl-" + strings.ToLower(mech)
			kcat(t, "a:1\nb:2\n", append(sasl(mech, "kcat-secret"), "-P", "-t", topic, "-K:")...)
			if got := kcat(t, "", append(sasl(mech, "kcat-secret"), "-C", "-t", topic, "-e", "-o", "beginning", "-f", "%k:%s\n")...); got != "a:1\nb:2\n" {
				t.Errorf("consumed %q", got)
			}
			if meta := kcat(t, "", append(sasl(mech, "kcat-secret"), "-L", "-t", topic)...); !strings.Contains(meta, "at "+saslAddr) {
				t.Errorf("metadata does not give the SASL_SSL address %s:\n%s", saslAddr, meta)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, kcatPath, append(sasl("SCRAM-SHA-512", "nope"), "-L", "-m", "5")...).CombinedOutput()
		if err == nil {
			t.Fatalf("kcat with a wrong password listed metadata:\n%s", out)
		}
		if !strings.Contains(string(out), "Authentication failed") {
			t.Errorf("kcat's error does not say authentication failed:\n%s", out)
		}
	})
}

// freeLoopback returns a loopback address with a port free right now.
func freeLoopback(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
