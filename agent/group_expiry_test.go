package agent

import (
	"context"
	"testing"
	"time"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore/mem"
)

// newTestAgent starts an agent on a memory bucket, for tests of internals.
func newTestAgent(t *testing.T, configure func(*Config)) *Agent {
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

// Offsets of a group nobody is in expire once its newest commit is older
// than the retention; a group with members keeps its offsets however old.
func TestGroupOffsetsExpire(t *testing.T) {
	a := newTestAgent(t, func(c *Config) { c.OffsetsRetention = time.Hour })
	ctx := context.Background()
	if code := a.createTopic(ctx, "t", 1, nil); code != 0 {
		t.Fatalf("create topic: %d", code)
	}
	for _, g := range []string{"idle", "busy"} {
		if _, code := a.submit(ctx, journal.Command{CommitOffsets: &journal.CommitOffsets{Group: g,
			Offsets: []journal.OffsetCommit{{Topic: "t", Partition: 0, Offset: 5}}}}); code != 0 {
			t.Fatal(code)
		}
	}
	// "busy" has a member in the coordinator's memory.
	a.groups.doGroup("busy", journal.GroupClaim{}, func(g *group) { g.members["m"] = &member{id: "m"} })

	has := func(group string) bool {
		var ok bool
		a.journal.View(func(s *journal.State) { _, ok = s.Groups[group] })
		return ok
	}
	a.expireGroupOffsets(ctx, time.Now().Add(30*time.Minute))
	if !has("idle") || !has("busy") {
		t.Fatal("offsets expired before the retention passed")
	}
	a.expireGroupOffsets(ctx, time.Now().Add(2*time.Hour))
	if has("idle") {
		t.Error("offsets of an empty group outlived the retention")
	}
	if !has("busy") {
		t.Error("offsets of a group with members expired")
	}
	a.groups.doGroup("busy", journal.GroupClaim{}, func(g *group) { delete(g.members, "m") })
}
