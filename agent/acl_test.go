package agent_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// ACLs are journal state: created on one agent, described and enforced
// the same after the agent restarts on the bucket; DeleteAcls removes what
// its filter matches and answers with it; bad creations are refused one by
// one with INVALID_REQUEST.
func TestACLsSurviveRestartAndFilters(t *testing.T) {
	dir := t.TempDir()
	aa := startACLAgent(t, nil, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := aa.adm.CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	allow := kmsg.ACLPermissionTypeAllow
	createACLs(t, ctx, aa.admin,
		binding{"User:alice", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "orders", lit},
		binding{"User:alice", allow, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "ord", pre},
		binding{"User:bob", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "g", lit},
		binding{"User:*", allow, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, "*", lit},
	)

	// Per-creation validation, as Kafka: each bad one INVALID_REQUEST, the
	// good one beside them created.
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range []binding{
		{"alice", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "t", lit},                                   // no principal type
		{"User:alice", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "t", kmsg.ACLResourcePatternTypeMatch}, // MATCH is a filter
		{"User:alice", allow, kmsg.ACLOperationAny, kmsg.ACLResourceTypeTopic, "t", lit},                               // ANY is a filter
		{"User:alice", allow, kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, "c", lit},                           // the cluster is kafka-cluster
		{"User:alice", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "", lit},                               // empty name
		{"User:carol", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "t", lit},                              // fine
	} {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = b.rt, b.name, b.pattern
		c.Principal, c.Host, c.Operation, c.PermissionType = b.principal, "*", b.op, b.perm
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, aa.admin)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		want := kerr.InvalidRequest.Code
		if i == len(resp.Results)-1 {
			want = 0
		}
		if r.ErrorCode != want {
			t.Errorf("creation %d: %v, want %v", i, kerr.ErrorForCode(r.ErrorCode), kerr.ErrorForCode(want))
		}
		if want != 0 && (r.ErrorMessage == nil || *r.ErrorMessage == "") {
			t.Errorf("creation %d: INVALID_REQUEST without a message", i)
		}
	}

	// Restart: a new agent on the same bucket (the directory) finds the
	// ACLs in the journal.
	if err := aa.cluster.Close(); err != nil {
		t.Fatal(err)
	}
	aa = startACLAgent(t, nil, dir)
	seeds, admin, adm := aa.seeds, aa.admin, aa.adm

	describe := func(rt kmsg.ACLResourceType, name *string, pattern kmsg.ACLResourcePatternType) []string {
		t.Helper()
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourceName, req.ResourcePatternType = rt, name, pattern
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp := request[*kmsg.DescribeACLsResponse](t, ctx, admin, req)
		if resp.ErrorCode != 0 {
			t.Fatalf("describe: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		var out []string
		for _, r := range resp.Resources {
			for _, a := range r.ACLs {
				out = append(out, a.Principal+" "+r.ResourceType.String()+":"+r.ResourceName+":"+r.ResourcePatternType.String()+" "+a.Operation.String()+" "+a.PermissionType.String())
			}
		}
		slices.Sort(out)
		return out
	}
	all := describe(kmsg.ACLResourceTypeAny, nil, kmsg.ACLResourcePatternTypeAny)
	want := []string{
		"User:* TOPIC:*:LITERAL DESCRIBE ALLOW",
		"User:alice TOPIC:ord:PREFIXED WRITE ALLOW",
		"User:alice TOPIC:orders:LITERAL READ ALLOW",
		"User:bob GROUP:g:LITERAL READ ALLOW",
		"User:carol TOPIC:t:LITERAL READ ALLOW",
	}
	if !slices.Equal(all, want) {
		t.Errorf("after restart, ACLs\n%s\nwant\n%s", strings.Join(all, "\n"), strings.Join(want, "\n"))
	}
	// MATCH: the ACLs that apply to topic "orders".
	match := describe(kmsg.ACLResourceTypeTopic, kmsg.StringPtr("orders"), kmsg.ACLResourcePatternTypeMatch)
	if len(match) != 3 {
		t.Errorf("MATCH orders: %v, want the literal, the prefixed and the wildcard", match)
	}

	// Enforced after the restart: alice reads orders, bob does not.
	for _, tc := range []struct {
		principal string
		want      int16
	}{{"alice", 0}, {"bob", kerr.TopicAuthorizationFailed.Code}} {
		cl := principalClient(t, seeds, tc.principal)
		f := kmsg.NewPtrFetchRequest()
		ft := kmsg.NewFetchRequestTopic()
		details, err := adm.ListTopics(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		ft.Topic, ft.TopicID = "orders", details["orders"].ID
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		f.Topics, f.MaxBytes, f.SessionEpoch = append(f.Topics, ft), 1<<20, -1
		if got := request[*kmsg.FetchResponse](t, ctx, cl, f).Topics[0].Partitions[0].ErrorCode; got != tc.want {
			t.Errorf("%s fetches orders after restart: %v, want %v", tc.principal, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
		}
	}

	// DeleteAcls removes what its filter matches and answers with it.
	del := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeAny
	f.Principal, f.Operation, f.PermissionType = kmsg.StringPtr("User:alice"), kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	del.Filters = append(del.Filters, f)
	dresp := request[*kmsg.DeleteACLsResponse](t, ctx, admin, del)
	if code := dresp.Results[0].ErrorCode; code != 0 || len(dresp.Results[0].MatchingACLs) != 2 {
		t.Errorf("delete alice's topic ACLs: %v with %d matches, want 2", kerr.ErrorForCode(code), len(dresp.Results[0].MatchingACLs))
	}
	if left := describe(kmsg.ACLResourceTypeAny, nil, kmsg.ACLResourcePatternTypeAny); len(left) != 3 {
		t.Errorf("left after delete: %v, want 3", left)
	}
}

// What a principal may DESCRIBE is all it sees: Metadata's listing of all
// topics, ListGroups, and the authorized operations of KIP-430; a DENY is
// logged with the principal, operation and resource.
func TestAuthorizerFiltersListsAndLogsDenials(t *testing.T) {
	logs := &capturedLogs{}
	c := localstacktest.StartT(t, localstack.Options{
		Logger: slog.New(logs),
		Configure: func(_ int, cfg *agent.Config) {
			cfg.Authorizer = true
			cfg.SuperUsers = []string{"User:admin"}
		},
	})
	agent.SetTestPrincipal(c.Agents[0], func(clientID string) string { return "User:" + clientID })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := principalClient(t, c.Seeds(), "admin")
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "team-a.orders", "team-a.payments", "team-b.orders"); err != nil {
		t.Fatal(err)
	}
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	allow := kmsg.ACLPermissionTypeAllow
	createACLs(t, ctx, admin,
		binding{"User:alice", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "team-a.", pre},
		binding{"User:alice", kmsg.ACLPermissionTypeDeny, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, "team-a.payments", lit},
		binding{"User:alice", allow, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "alice-", pre},
	)
	// Groups to list: one alice may see, one she may not.
	for _, g := range []string{"alice-g", "other-g"} {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = g, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "team-a.orders"
		rt.Partitions = append(rt.Partitions, kmsg.NewOffsetCommitRequestTopicPartition())
		req.Topics = append(req.Topics, rt)
		if code := request[*kmsg.OffsetCommitResponse](t, ctx, admin, req).Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("commit for %s: %v", g, kerr.ErrorForCode(code))
		}
	}

	alice := principalClient(t, c.Seeds(), "alice")
	md := kmsg.NewPtrMetadataRequest()
	md.IncludeTopicAuthorizedOperations = true
	mresp := request[*kmsg.MetadataResponse](t, ctx, alice, md)
	var seen []string
	for _, mt := range mresp.Topics {
		seen = append(seen, *mt.Topic)
		if *mt.Topic == "team-a.orders" && mt.AuthorizedOperations != 1<<3|1<<8 {
			t.Errorf("authorized operations on team-a.orders: %b, want READ and DESCRIBE", mt.AuthorizedOperations)
		}
	}
	if !slices.Equal(seen, []string{"team-a.orders"}) {
		t.Errorf("alice's metadata lists %v, want only team-a.orders (payments DENY, team-b no ACL)", seen)
	}
	lg := request[*kmsg.ListGroupsResponse](t, ctx, alice, kmsg.NewPtrListGroupsRequest())
	var groups []string
	for _, g := range lg.Groups {
		groups = append(groups, g.Group)
	}
	if !slices.Equal(groups, []string{"alice-g"}) {
		t.Errorf("alice lists groups %v, want [alice-g]", groups)
	}
	lg = request[*kmsg.ListGroupsResponse](t, ctx, admin, kmsg.NewPtrListGroupsRequest())
	if len(lg.Groups) != 2 {
		t.Errorf("the super user lists %d groups, want 2", len(lg.Groups))
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	if got := request[*kmsg.DescribeClusterResponse](t, ctx, alice, dc).ErrorCode; got != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("alice describes the cluster: %v", kerr.ErrorForCode(got))
	}

	// The refused DescribeCluster was logged.
	if !logs.has("authorization denied", "principal=User:alice", "operation=DESCRIBE", "resource_type=CLUSTER", "resource=kafka-cluster") {
		t.Errorf("no log line for alice's denied DESCRIBE on the cluster; logged:\n%s", logs.String())
	}
}

// With --allow-everyone-if-no-acl-found, a resource no ACL covers is open,
// and one that an ACL covers is not.
func TestAllowEveryoneIfNoACLFound(t *testing.T) {
	aa := startACLAgent(t, func(cfg *agent.Config) { cfg.AllowEveryoneIfNoACL = true }, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := aa.adm.CreateTopics(ctx, 1, 1, nil, "open", "closed"); err != nil {
		t.Fatal(err)
	}
	createACLs(t, ctx, aa.admin, binding{"User:bob", kmsg.ACLPermissionTypeAllow, kmsg.ACLOperationDescribe,
		kmsg.ACLResourceTypeTopic, "closed", kmsg.ACLResourcePatternTypeLiteral})
	alice := principalClient(t, aa.seeds, "alice")
	for topic, want := range map[string]int16{"open": 0, "closed": kerr.TopicAuthorizationFailed.Code} {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		if got := request[*kmsg.MetadataResponse](t, ctx, alice, req).Topics[0].ErrorCode; got != want {
			t.Errorf("metadata of %s: %v, want %v", topic, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}
}

// capturedLogs is a slog handler that keeps every record as text.
type capturedLogs struct {
	mu    sync.Mutex
	lines []string
}

func (l *capturedLogs) Enabled(context.Context, slog.Level) bool { return true }

func (l *capturedLogs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *capturedLogs) WithAttrs(as []slog.Attr) slog.Handler {
	return &capturedLogsView{l, as}
}

func (l *capturedLogs) WithGroup(string) slog.Handler { return l }

// has reports whether a line holds every part.
func (l *capturedLogs) has(parts ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func (l *capturedLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// capturedLogsView is capturedLogs with attributes added (Logger.With).
type capturedLogsView struct {
	l     *capturedLogs
	attrs []slog.Attr
}

func (v *capturedLogsView) Enabled(context.Context, slog.Level) bool { return true }

func (v *capturedLogsView) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(v.attrs...)
	return v.l.Handle(ctx, r)
}

func (v *capturedLogsView) WithAttrs(as []slog.Attr) slog.Handler {
	return &capturedLogsView{v.l, append(slices.Clone(v.attrs), as...)}
}

func (v *capturedLogsView) WithGroup(string) slog.Handler { return v }
