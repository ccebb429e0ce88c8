package acl

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func allow(t ResourceType, pt PatternType, name, principal, host string, op Operation) Binding {
	return Binding{ResourceType: t, Name: name, Pattern: pt, Principal: principal, Host: host, Operation: op, Permission: PermissionAllow}
}

func deny(t ResourceType, pt PatternType, name, principal, host string, op Operation) Binding {
	b := allow(t, pt, name, principal, host, op)
	b.Permission = PermissionDeny
	return b
}

const (
	alice = "User:alice"
	bob   = "User:bob"
	ip    = "10.0.0.1"
)

func TestAuthorize(t *testing.T) {
	lit, pre := PatternLiteral, PatternPrefixed
	topic, group := ResourceTopic, ResourceGroup
	for _, tc := range []struct {
		name       string
		acls       []Binding
		super      string
		allowNoACL bool
		principal  string
		host       string
		op         Operation
		rt         ResourceType
		resource   string
		want       bool
	}{
		{"no ACLs refuses", nil, "", false, alice, ip, OpRead, topic, "t", false},
		{"no ACLs with allow-everyone grants", nil, "", true, alice, ip, OpRead, topic, "t", true},
		{"literal allow", []Binding{allow(topic, lit, "t", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "t", true},
		{"literal is exact", []Binding{allow(topic, lit, "t", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "t2", false},
		{"other principal", []Binding{allow(topic, lit, "t", alice, "*", OpRead)}, "", false, bob, ip, OpRead, topic, "t", false},
		{"wildcard principal", []Binding{allow(topic, lit, "t", WildcardPrincipal, "*", OpRead)}, "", false, bob, ip, OpRead, topic, "t", true},
		{"other operation", []Binding{allow(topic, lit, "t", alice, "*", OpRead)}, "", false, alice, ip, OpWrite, topic, "t", false},
		{"other resource type", []Binding{allow(group, lit, "t", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "t", false},
		{"exact host", []Binding{allow(topic, lit, "t", alice, ip, OpRead)}, "", false, alice, ip, OpRead, topic, "t", true},
		{"other host", []Binding{allow(topic, lit, "t", alice, "10.0.0.2", OpRead)}, "", false, alice, ip, OpRead, topic, "t", false},
		{"literal wildcard name", []Binding{allow(topic, lit, "*", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "anything", true},
		{"prefixed", []Binding{allow(topic, pre, "team-", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "team-orders", true},
		{"prefixed equal to the name", []Binding{allow(topic, pre, "team-", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "team-", true},
		{"prefixed not a prefix", []Binding{allow(topic, pre, "team-", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "team", false},
		{"prefixed longer than the name", []Binding{allow(topic, pre, "team-orders-x", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "team-orders", false},
		{"prefixed star is literal text", []Binding{allow(topic, pre, "a*", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "abc", false},
		{"deny beside allow", []Binding{allow(topic, lit, "t", alice, "*", OpRead), deny(topic, lit, "t", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "t", false},
		{"prefixed deny beats literal allow", []Binding{allow(topic, lit, "team-a", alice, "*", OpRead), deny(topic, pre, "team-", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "team-a", false},
		{"wildcard deny beats allow", []Binding{allow(topic, lit, "t", alice, "*", OpRead), deny(topic, lit, "*", WildcardPrincipal, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "t", false},
		{"deny from one host only", []Binding{allow(topic, lit, "t", alice, "*", OpRead), deny(topic, lit, "t", alice, "10.9.9.9", OpRead)}, "", false, alice, ip, OpRead, topic, "t", true},
		{"deny ALL denies read", []Binding{allow(topic, lit, "t", alice, "*", OpRead), deny(topic, lit, "t", alice, "*", OpAll)}, "", false, alice, ip, OpRead, topic, "t", false},
		{"deny of another operation", []Binding{allow(topic, lit, "t", alice, "*", OpRead), deny(topic, lit, "t", alice, "*", OpWrite)}, "", false, alice, ip, OpRead, topic, "t", true},
		{"allow ALL", []Binding{allow(topic, lit, "t", alice, "*", OpAll)}, "", false, alice, ip, OpAlterConfigs, topic, "t", true},
		{"read implies describe", []Binding{allow(topic, lit, "t", alice, "*", OpRead)}, "", false, alice, ip, OpDescribe, topic, "t", true},
		{"write implies describe", []Binding{allow(topic, lit, "t", alice, "*", OpWrite)}, "", false, alice, ip, OpDescribe, topic, "t", true},
		{"delete implies describe", []Binding{allow(topic, lit, "t", alice, "*", OpDelete)}, "", false, alice, ip, OpDescribe, topic, "t", true},
		{"alter implies describe", []Binding{allow(topic, lit, "t", alice, "*", OpAlter)}, "", false, alice, ip, OpDescribe, topic, "t", true},
		{"create does not imply describe", []Binding{allow(topic, lit, "t", alice, "*", OpCreate)}, "", false, alice, ip, OpDescribe, topic, "t", false},
		{"describe does not imply read", []Binding{allow(topic, lit, "t", alice, "*", OpDescribe)}, "", false, alice, ip, OpRead, topic, "t", false},
		{"alter_configs implies describe_configs", []Binding{allow(topic, lit, "t", alice, "*", OpAlterConfigs)}, "", false, alice, ip, OpDescribeConfigs, topic, "t", true},
		{"deny read does not deny describe", []Binding{allow(topic, lit, "t", alice, "*", OpDescribe), deny(topic, lit, "t", alice, "*", OpRead)}, "", false, alice, ip, OpDescribe, topic, "t", true},
		{"deny alter_configs does not deny describe_configs", []Binding{allow(topic, lit, "t", alice, "*", OpDescribeConfigs), deny(topic, lit, "t", alice, "*", OpAlterConfigs)}, "", false, alice, ip, OpDescribeConfigs, topic, "t", true},
		{"super user bypasses deny", []Binding{deny(topic, lit, "t", alice, "*", OpAll)}, alice, false, alice, ip, OpRead, topic, "t", true},
		{"super user without ACLs", nil, alice, false, alice, ip, OpAlter, ResourceCluster, ClusterName, true},
		{"allow-everyone does not apply when ACLs cover the resource", []Binding{allow(topic, lit, "t", bob, "*", OpRead)}, "", true, alice, ip, OpRead, topic, "t", false},
		{"allow-everyone applies to uncovered resources", []Binding{allow(topic, lit, "t", bob, "*", OpRead)}, "", true, alice, ip, OpRead, topic, "u", true},
		{"a prefixed ACL covers for allow-everyone", []Binding{allow(topic, pre, "u", bob, "*", OpRead)}, "", true, alice, ip, OpRead, topic, "uv", false},
		{"cluster", []Binding{allow(ResourceCluster, lit, ClusterName, alice, "*", OpIdempotentWrite)}, "", false, alice, ip, OpIdempotentWrite, ResourceCluster, ClusterName, true},
		{"transactional id prefixed", []Binding{allow(ResourceTransactionalID, pre, "tx-", alice, "*", OpWrite)}, "", false, alice, ip, OpWrite, ResourceTransactionalID, "tx-1", true},
		{"nested prefixes, deny in the middle", []Binding{allow(topic, pre, "a", alice, "*", OpRead), deny(topic, pre, "ab", alice, "*", OpRead), allow(topic, pre, "abc", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "abcd", false},
		{"nested prefixes, outside the deny", []Binding{allow(topic, pre, "a", alice, "*", OpRead), deny(topic, pre, "ab", alice, "*", OpRead)}, "", false, alice, ip, OpRead, topic, "ac", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Authorizer{Index: NewIndex(tc.acls), AllowIfNoACL: tc.allowNoACL}
			if tc.super != "" {
				a.SuperUsers = map[string]bool{tc.super: true}
			}
			if got := a.Authorize(Request{tc.principal, tc.host}, tc.op, tc.rt, tc.resource); got != tc.want {
				t.Errorf("Authorize(%s@%s %v %v:%s) = %v, want %v", tc.principal, tc.host, tc.op, tc.rt, tc.resource, got, tc.want)
			}
		})
	}
}

func TestAnyAllowed(t *testing.T) {
	lit, pre := PatternLiteral, PatternPrefixed
	for _, tc := range []struct {
		name string
		acls []Binding
		want bool
	}{
		{"no ACLs", nil, false},
		{"a literal allow", []Binding{allow(ResourceTopic, lit, "t", alice, "*", OpWrite)}, true},
		{"a prefixed allow", []Binding{allow(ResourceTopic, pre, "t", alice, "*", OpWrite)}, true},
		{"an allow for another op", []Binding{allow(ResourceTopic, lit, "t", alice, "*", OpRead)}, false},
		{"an allow of another principal", []Binding{allow(ResourceTopic, lit, "t", bob, "*", OpWrite)}, false},
		{"literal allow denied by literal", []Binding{allow(ResourceTopic, lit, "t", alice, "*", OpWrite), deny(ResourceTopic, lit, "t", alice, "*", OpWrite)}, false},
		{"literal allow denied by prefix", []Binding{allow(ResourceTopic, lit, "tx", alice, "*", OpWrite), deny(ResourceTopic, pre, "t", alice, "*", OpWrite)}, false},
		{"prefix allow denied by shorter prefix", []Binding{allow(ResourceTopic, pre, "tx", alice, "*", OpWrite), deny(ResourceTopic, pre, "t", alice, "*", OpWrite)}, false},
		{"prefix allow not denied by longer prefix", []Binding{allow(ResourceTopic, pre, "t", alice, "*", OpWrite), deny(ResourceTopic, pre, "tx", alice, "*", OpWrite)}, true},
		{"wildcard deny", []Binding{allow(ResourceTopic, lit, "t", alice, "*", OpWrite), deny(ResourceTopic, lit, "*", alice, "*", OpWrite)}, false},
		{"allow ALL", []Binding{allow(ResourceTopic, lit, "t", WildcardPrincipal, "*", OpAll)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Authorizer{Index: NewIndex(tc.acls)}
			if got := a.AnyAllowed(Request{alice, ip}, OpWrite, ResourceTopic); got != tc.want {
				t.Errorf("AnyAllowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead)
	for _, tc := range []struct {
		name  string
		edit  func(*Binding)
		valid bool
	}{
		{"valid", func(*Binding) {}, true},
		{"prefixed", func(b *Binding) { b.Pattern = PatternPrefixed }, true},
		{"user resource", func(b *Binding) { b.ResourceType = ResourceUser }, true},
		{"any resource type", func(b *Binding) { b.ResourceType = ResourceAny }, false},
		{"unknown resource type", func(b *Binding) { b.ResourceType = 0 }, false},
		{"match pattern", func(b *Binding) { b.Pattern = PatternMatch }, false},
		{"any pattern", func(b *Binding) { b.Pattern = PatternAny }, false},
		{"any operation", func(b *Binding) { b.Operation = OpAny }, false},
		{"unknown operation", func(b *Binding) { b.Operation = 99 }, false},
		{"any permission", func(b *Binding) { b.Permission = PermissionAny }, false},
		{"empty name", func(b *Binding) { b.Name = "" }, false},
		{"principal without type", func(b *Binding) { b.Principal = "alice" }, false},
		{"principal without name", func(b *Binding) { b.Principal = "User:" }, false},
		{"wildcard principal", func(b *Binding) { b.Principal = WildcardPrincipal }, true},
		{"empty host", func(b *Binding) { b.Host = "" }, false},
		{"cluster with its name", func(b *Binding) { b.ResourceType, b.Name = ResourceCluster, ClusterName }, true},
		{"cluster with another name", func(b *Binding) { b.ResourceType, b.Name = ResourceCluster, "c" }, false},
		{"prefixed wildcard", func(b *Binding) { b.Pattern, b.Name = PatternPrefixed, "*" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ok
			tc.edit(&b)
			if err := b.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate(%v) = %v, want valid %v", b, err, tc.valid)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	str := func(s string) *string { return &s }
	litT := allow(ResourceTopic, PatternLiteral, "orders", alice, "*", OpRead)
	litStar := allow(ResourceTopic, PatternLiteral, "*", alice, "*", OpRead)
	preT := deny(ResourceTopic, PatternPrefixed, "ord", bob, ip, OpWrite)
	grp := allow(ResourceGroup, PatternLiteral, "orders", alice, "*", OpRead)
	all := []Binding{litT, litStar, preT, grp}
	any := Filter{ResourceType: ResourceAny, Pattern: PatternAny, Operation: OpAny, Permission: PermissionAny}
	for _, tc := range []struct {
		name string
		edit func(*Filter)
		want []Binding
	}{
		{"any", func(*Filter) {}, all},
		{"topics", func(f *Filter) { f.ResourceType = ResourceTopic }, []Binding{litT, litStar, preT}},
		{"any pattern with a name is exact", func(f *Filter) { f.Name = str("orders") }, []Binding{litT, grp}},
		{"literal", func(f *Filter) { f.Pattern = PatternLiteral }, []Binding{litT, litStar, grp}},
		{"prefixed", func(f *Filter) { f.Pattern = PatternPrefixed }, []Binding{preT}},
		{"prefixed with the name", func(f *Filter) { f.Pattern, f.Name = PatternPrefixed, str("ord") }, []Binding{preT}},
		{"prefixed with another name", func(f *Filter) { f.Pattern, f.Name = PatternPrefixed, str("orders") }, nil},
		{"match covers wildcard and prefixes", func(f *Filter) { f.ResourceType, f.Pattern, f.Name = ResourceTopic, PatternMatch, str("orders") }, []Binding{litT, litStar, preT}},
		{"match of another name", func(f *Filter) { f.ResourceType, f.Pattern, f.Name = ResourceTopic, PatternMatch, str("payments") }, []Binding{litStar}},
		{"match without a name", func(f *Filter) { f.Pattern = PatternMatch }, all},
		{"principal", func(f *Filter) { f.Principal = str(bob) }, []Binding{preT}},
		{"principal is not expanded", func(f *Filter) { f.Principal = str(WildcardPrincipal) }, nil},
		{"host", func(f *Filter) { f.Host = str(ip) }, []Binding{preT}},
		{"operation", func(f *Filter) { f.Operation = OpWrite }, []Binding{preT}},
		{"permission", func(f *Filter) { f.Permission = PermissionAllow }, []Binding{litT, litStar, grp}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := any
			tc.edit(&f)
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			var got []Binding
			for _, b := range all {
				if f.Matches(b) {
					got = append(got, b)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []Filter{
		{ResourceType: 0, Pattern: PatternAny, Operation: OpAny, Permission: PermissionAny},
		{ResourceType: ResourceAny, Pattern: 0, Operation: OpAny, Permission: PermissionAny},
		{ResourceType: ResourceAny, Pattern: PatternAny, Operation: 0, Permission: PermissionAny},
		{ResourceType: ResourceAny, Pattern: PatternAny, Operation: OpAny, Permission: 0},
	} {
		if bad.Validate() == nil {
			t.Errorf("filter %+v validated", bad)
		}
	}
}

// The index agrees with a plain scan of the bindings, the definition, on
// random bindings and checks.
func TestIndexAgreesWithScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "ab", "abc", "abd", "b", "ba", "*", "abcd", "x"}
	principals := []string{alice, bob, WildcardPrincipal}
	hosts := []string{"*", ip, "10.0.0.2"}
	ops := []Operation{OpAll, OpRead, OpWrite, OpDescribe, OpAlter, OpAlterConfigs, OpDescribeConfigs}
	for round := range 200 {
		var acls []Binding
		for range r.IntN(12) {
			b := Binding{ResourceType: ResourceTopic, Name: names[r.IntN(len(names))], Pattern: PatternLiteral,
				Principal: principals[r.IntN(3)], Host: hosts[r.IntN(3)], Operation: ops[r.IntN(len(ops))], Permission: PermissionAllow}
			if r.IntN(2) == 0 && b.Name != "*" {
				b.Pattern = PatternPrefixed
			}
			if r.IntN(3) == 0 {
				b.Permission = PermissionDeny
			}
			acls = append(acls, b)
		}
		a := &Authorizer{Index: NewIndex(acls), AllowIfNoACL: round%2 == 0}
		for _, name := range []string{"a", "ab", "abc", "abcd", "abcde", "b", "bz", "c", "x"} {
			for _, op := range ops[1:] {
				for _, p := range []string{alice, bob} {
					req := Request{p, hosts[1+r.IntN(2)]}
					if got, want := a.Authorize(req, op, ResourceTopic, name), scan(a, acls, req, op, name); got != want {
						t.Fatalf("round %d: %v %v on %s: index %v, scan %v; ACLs %v", round, req, op, name, got, want, acls)
					}
				}
			}
		}
	}
}

// scan is the semantics of the package doc, written as a loop.
func scan(a *Authorizer, acls []Binding, r Request, op Operation, name string) bool {
	found, allowed := false, false
	for _, b := range acls {
		f := Filter{ResourceType: ResourceTopic, Name: &name, Pattern: PatternMatch, Operation: OpAny, Permission: PermissionAny}
		if !f.Matches(b) {
			continue
		}
		found = true
		if (b.Principal != r.Principal && b.Principal != WildcardPrincipal) || (b.Host != r.Host && b.Host != "*") {
			continue
		}
		if b.Permission == PermissionDeny && (b.Operation == op || b.Operation == OpAll) {
			return false
		}
		if b.Permission == PermissionAllow && implies(b.Operation, op) {
			allowed = true
		}
	}
	return allowed || (!found && a.AllowIfNoACL)
}

// BenchmarkAuthorize checks against 10,000 bindings, half PREFIXED, over
// 1,000 principals (the target: at most 1 µs a check).
func BenchmarkAuthorize(b *testing.B) {
	var acls []Binding
	for i := range 10000 {
		p := fmt.Sprintf("User:u%03d", i%1000)
		if i%2 == 0 {
			acls = append(acls, allow(ResourceTopic, PatternLiteral, fmt.Sprintf("team-%03d.orders-%d", i%500, i), p, "*", OpRead))
		} else {
			acls = append(acls, allow(ResourceTopic, PatternPrefixed, fmt.Sprintf("team-%03d.app%d-", i%500, i), p, "*", OpWrite))
		}
	}
	acls = append(acls, deny(ResourceTopic, PatternPrefixed, "team-007.", WildcardPrincipal, "*", OpAll))
	a := &Authorizer{Index: NewIndex(acls)}
	checks := make([]struct {
		r    Request
		op   Operation
		name string
	}, 1024)
	for i := range checks {
		j := (i * 7919) % 10000
		checks[i].r = Request{fmt.Sprintf("User:u%03d", j%1000), ip}
		if j%2 == 0 {
			checks[i].op, checks[i].name = OpRead, fmt.Sprintf("team-%03d.orders-%d", j%500, j)
		} else {
			checks[i].op, checks[i].name = OpWrite, fmt.Sprintf("team-%03d.app%d-events", j%500, j)
		}
	}
	granted := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := &checks[i%len(checks)]
		if a.Authorize(c.r, c.op, ResourceTopic, c.name) {
			granted++
		}
	}
	if granted == 0 {
		b.Fatal("no check was granted")
	}
}
