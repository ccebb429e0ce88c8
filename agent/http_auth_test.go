package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
)

// With the authorizer on, the console, its JSON API and the Iceberg
// catalog serve super users only, by HTTP Basic against the SCRAM
// credentials; the probes and the metrics stay open. A super user's
// console reads records through the agent's Fetch as that user.
func TestConsoleBehindTheAuthorizer(t *testing.T) {
	s := startSecureAgent(t, func(cfg *agent.Config) {
		cfg.Authorizer = true
		cfg.SuperUsers = []string{"User:ANONYMOUS", "User:admin"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.addUser(t, ctx, "admin", "admin-secret", kadm.ScramSha512)
	s.addUser(t, ctx, "alice", "alice-secret", kadm.ScramSha256)
	if _, err := s.admin.CreateTopic(ctx, 1, -1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := s.cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("first order")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.a.HTTPAddr()
	for _, tc := range []struct {
		name, path, user, password string
		want                       int
		body                       string // a part of the body, if it matters
	}{
		{name: "liveness", path: "/healthz", want: 200},
		{name: "readiness", path: "/readyz", want: 200},
		{name: "metrics", path: "/metrics", want: 200},
		{name: "console without credentials", path: "/ui", want: 401},
		{name: "API without credentials", path: "/api/v1/topics", want: 401},
		{name: "records without credentials", path: "/api/v1/topics/orders/partitions/0/records", want: 401},
		{name: "catalog without credentials", path: "/v1/config", want: 401},
		{name: "wrong password", path: "/api/v1/topics", user: "admin", password: "admin-guess", want: 401},
		{name: "unknown user", path: "/api/v1/topics", user: "mallory", password: "admin-secret", want: 401},
		{name: "not a super user", path: "/api/v1/topics", user: "alice", password: "alice-secret", want: 403},
		{name: "super user, console", path: "/ui", user: "admin", password: "admin-secret", want: 200},
		{name: "super user, topics", path: "/api/v1/topics", user: "admin", password: "admin-secret", want: 200, body: `"orders"`},
		{name: "super user, records", path: "/api/v1/topics/orders/partitions/0/records", user: "admin", password: "admin-secret", want: 200, body: "first order"},
		{name: "super user, catalog", path: "/v1/config", user: "admin", password: "admin-secret", want: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.password)
			}
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: %d %s, want %d", tc.path, resp.StatusCode, body, tc.want)
			}
			if tc.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
			if tc.want == 401 && tc.user != "" && time.Since(start) < 100*time.Millisecond {
				t.Errorf("failed login answered after %v, want the 100ms delay", time.Since(start))
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("GET %s: body lacks %q:\n%s", tc.path, tc.body, body)
			}
		})
	}
}

// Without the authorizer the console and the catalog are open, as the
// Kafka port is.
func TestConsoleOpenWithoutTheAuthorizer(t *testing.T) {
	s := startSecureAgent(t, nil)
	for _, path := range []string{"/ui", "/api/v1/topics", "/v1/config"} {
		resp, err := http.Get(fmt.Sprintf("http://%s%s", s.a.HTTPAddr(), path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
	}
}
