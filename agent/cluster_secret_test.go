package agent_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/agent/commit"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestClusterSecret: agents that share a cluster secret form a cluster and
// serve through each other; an agent with another secret cannot join
// them, and a process without it cannot propose commands or push entries
// to their real HTTP port, while /healthz, /readyz and /metrics stay open.
func TestClusterSecret(t *testing.T) {
	secret := []byte("the cluster secret, 32 bytes....")
	c := localstacktest.StartT(t, localstack.Options{Agents: 2, Configure: func(_ int, cfg *agent.Config) {
		cfg.ClusterSecret = secret
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The seed learns of the joiner from gossip, a moment after the join.
	for _, a := range c.Agents {
		for n := len(a.Members()); n != 2; n = len(a.Members()) {
			if ctx.Err() != nil {
				t.Fatalf("%s sees %d members, want 2", a.NodeName(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Produce through both agents: one of them proposes to the other.
	for i, a := range c.Agents {
		if err := roundTrip(t, ctx, "secret-"+a.NodeName(), kgo.SeedBrokers(a.Addr())); err != nil {
			t.Fatalf("agent %d: %v", i, err)
		}
	}

	outsiderCfg := c.AgentConfig(2)
	outsiderCfg.ClusterSecret = []byte("another secret, also 32 bytes...")
	outsiderCfg.JoinWait = time.Second
	outsider, err := agent.New(outsiderCfg, c.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := outsider.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer outsider.Close()
	// Joining is retried in the background: give it the time a join
	// takes between the two insiders (well under a second), twice over.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(outsider.Members()); n != 1 {
			t.Fatalf("the outsider sees %d members", n)
		}
		for _, a := range c.Agents {
			if n := len(a.Members()); n != 2 {
				t.Fatalf("%s sees %d members with the outsider about", a.NodeName(), n)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}

	seq := c.Agents[0].Journal().Seq()
	for _, a := range c.Agents {
		base := "http://" + a.HTTPAddr()
		for _, path := range []string{commit.ProposePath, commit.EntriesPath} {
			for name, header := range map[string]string{"unsigned": "", "forged": "t=1,mac=AAAA"} {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path,
					bytes.NewReader([]byte(`{"from":"mallory","commands":[{"delete_topic":{"name":"secret-agent-0"}}]}`)))
				if header != "" {
					req.Header.Set("X-Silt-Auth", header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s to %s: %s, want 401", name, path, a.NodeName(), resp.Status)
				}
			}
		}
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s on %s: %s, want 200", path, a.NodeName(), resp.Status)
			}
		}
	}
	if got := c.Agents[0].Journal().Seq(); got != seq {
		t.Errorf("the journal went from %d to %d entries under refused RPCs", seq, got)
	}
}
