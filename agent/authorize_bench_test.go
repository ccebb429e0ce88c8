package agent

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// BenchmarkConnAuthorized is a handler's check as it runs in the agent,
// the journal's read lock included, with 10,000 ACLs (half PREFIXED) in
// the journal: the target is at most 1 µs.
func BenchmarkConnAuthorized(b *testing.B) {
	a := newTestAgent(b, func(cfg *Config) { cfg.Authorizer, cfg.Logger = true, slog.New(slog.DiscardHandler) })
	ctx := context.Background()
	var cmds []journal.Command
	for i := range 10000 {
		bd := acl.Binding{ResourceType: acl.ResourceTopic, Principal: fmt.Sprintf("User:u%03d", i%1000), Host: "*",
			Operation: acl.OpRead, Permission: acl.PermissionAllow, Pattern: acl.PatternLiteral,
			Name: fmt.Sprintf("team-%03d.orders-%d", i%500, i)}
		if i%2 == 1 {
			bd.Pattern, bd.Operation, bd.Name = acl.PatternPrefixed, acl.OpWrite, fmt.Sprintf("team-%03d.app%d-", i%500, i)
		}
		cmds = append(cmds, journal.Command{CreateACL: &journal.CreateACL{ACL: bd}})
		if len(cmds) == 1000 {
			if _, code := a.submit(ctx, cmds...); code != 0 {
				b.Fatalf("create ACLs: code %d", code)
			}
			cmds = nil
		}
	}
	conns := make([]*conn, 1000)
	for i := range conns {
		conns[i] = &conn{a: a, principal: fmt.Sprintf("User:u%03d", i), clientHost: "10.0.0.1"}
	}
	type check struct {
		c    *conn
		op   acl.Operation
		name string
	}
	checks := make([]check, 1024)
	for i := range checks {
		j := (i * 7919) % 10000
		checks[i] = check{conns[j%1000], acl.OpRead, fmt.Sprintf("team-%03d.orders-%d", j%500, j)}
		if j%2 == 1 {
			checks[i].op, checks[i].name = acl.OpWrite, fmt.Sprintf("team-%03d.app%d-events", j%500, j)
		}
	}
	if !checks[0].c.authorizedTopic(checks[0].op, checks[0].name) {
		b.Fatal("a check that an ACL grants was refused")
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ch := &checks[i%len(checks)]
		if !ch.c.authorizedTopic(ch.op, ch.name) {
			b.Fatal("refused")
		}
	}
}
