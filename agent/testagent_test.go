package agent

import (
	"context"
	"testing"

	"github.com/silt-io/silt/objstore/mem"
)

// newTestAgent starts an agent on a memory bucket, for tests of internals.
func newTestAgent(t testing.TB, configure func(*Config)) *Agent {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeName, cfg.Listen, cfg.HTTPListen, cfg.Gossip = "test", "127.0.0.1:0", "", ""
	if configure != nil {
		configure(&cfg)
	}
	a, err := New(cfg, mem.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
