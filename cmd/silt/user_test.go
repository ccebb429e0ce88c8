package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// silt user set writes the first administrator into a fresh bucket with no
// agent running; an agent started on it then authenticates that user over
// SASL (SCRAM and PLAIN); silt user delete beside the running agent takes
// the user away.
func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket := filepath.Join(dir, "bucket")
	if err := runUser(ctx, []string{"set", "--bucket", bucket, "--user", "admin", "--mechanism", "SCRAM-SHA-512,SCRAM-SHA-256", "--password-file", pw, "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"set", "--bucket", bucket, "--user", "x", "--password-file", filepath.Join(dir, "missing")},
		{"set", "--bucket", bucket, "--user", "x", "--password-file", pw, "--iterations", "100"},
		{"set", "--bucket", bucket, "--user", "x", "--password-file", pw, "--mechanism", "SCRAM-SHA-1"},
		{"delete", "--bucket", bucket, "--user", "nobody", "--log-level", "warn"},
		{"rename", "--bucket", bucket},
	} {
		if err := runUser(ctx, bad); err == nil {
			t.Errorf("silt user %v succeeded", bad)
		}
	}
	c := localstacktest.StartT(t, localstack.Options{Dir: bucket, Configure: func(_ int, cfg *agent.Config) {
		cfg.Listen = "SASL_PLAINTEXT://127.0.0.1:0"
	}})
	addr := c.Agents[0].ListenerAddr("SASL_PLAINTEXT")
	auth := func(m sasl.Mechanism) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(m))
		if err != nil {
			return err
		}
		defer cl.Close()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(rctx, cl)
		return err
	}
	for _, m := range []sasl.Mechanism{
		scram.Auth{User: "admin", Pass: "s3cret-admin"}.AsSha512Mechanism(),
		scram.Auth{User: "admin", Pass: "s3cret-admin"}.AsSha256Mechanism(),
		plain.Auth{User: "admin", Pass: "s3cret-admin"}.AsMechanism(),
	} {
		if err := auth(m); err != nil {
			t.Fatalf("%s: %v", m.Name(), err)
		}
	}
	if err := runUser(ctx, []string{"delete", "--bucket", bucket, "--user", "admin", "--mechanism", "SCRAM-SHA-512,SCRAM-SHA-256", "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	// The agent follows the journal about once a second.
	for {
		err := auth(scram.Auth{User: "admin", Pass: "s3cret-admin"}.AsSha512Mechanism())
		if errors.Is(err, kerr.SaslAuthenticationFailed) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("admin still authenticates after silt user delete: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
