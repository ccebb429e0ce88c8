package agent

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// Authorization, as a Kafka broker with an authorizer does it
// (Config.Authorizer; internal/acl has the semantics).
//
// The ACLs are journal state (journal/acls.go). The agent keeps an
// acl.Index of them, rebuilt when the journal's ACL version moves past the
// one it was built from; a check reads that version (an atomic, not the
// journal's lock) and otherwise touches nothing shared. Handlers ask
// c.authorized(op, resource type, name) before they act, in the order
// Kafka's KafkaApis does, and answer the *_AUTHORIZATION_FAILED code Kafka
// gives; the checks that only filter what is listed (Metadata's topics,
// ListGroups' groups, authorized operations) use c.permitted, which does
// not log. With the authorizer off every check passes and nothing is
// logged: the agent serves as it did before ACLs existed.

// authz is the agent's authorizer state.
type authz struct {
	on           bool
	superUsers   map[string]bool
	allowIfNoACL bool

	// mu is held while rebuilding, so one rebuild runs at a time.
	mu sync.Mutex
	// cur is the authorizer for the latest ACL version seen.
	cur atomic.Pointer[builtAuthorizer]

	// denyLog limits DENY logging to denyLogBurst lines a second; the
	// rest are counted and reported with the next line.
	denyWindow     atomic.Int64 // unix second of the current window
	denyLogged     atomic.Int32 // lines logged in the window
	denySuppressed atomic.Int64 // lines not logged since the last one
}

// builtAuthorizer is an authorizer and the ACL version it was built from.
type builtAuthorizer struct {
	version uint64
	acl.Authorizer
}

// denyLogBurst is how many DENY lines an agent logs a second.
const denyLogBurst = 20

func newAuthz(cfg Config) *authz {
	z := &authz{on: cfg.Authorizer, superUsers: map[string]bool{}, allowIfNoACL: cfg.AllowEveryoneIfNoACL}
	for _, u := range cfg.SuperUsers {
		z.superUsers[u] = true
	}
	z.cur.Store(&builtAuthorizer{Authorizer: acl.Authorizer{
		Index: acl.NewIndex(nil), SuperUsers: z.superUsers, AllowIfNoACL: z.allowIfNoACL}})
	return z
}

// authorizer returns the authorizer for the journal's current ACLs,
// rebuilding its index if they changed.
func (a *Agent) authorizer() *acl.Authorizer {
	z := a.authz
	cur := z.cur.Load()
	version := a.journal.ACLVersion()
	if version == cur.version {
		return &cur.Authorizer
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if cur = z.cur.Load(); cur.version >= version {
		return &cur.Authorizer
	}
	var bindings []acl.Binding
	a.journal.View(func(s *journal.State) { version, bindings = s.ACLVersion, s.ACLBindings() })
	next := &builtAuthorizer{version: version, Authorizer: acl.Authorizer{
		Index: acl.NewIndex(bindings), SuperUsers: z.superUsers, AllowIfNoACL: z.allowIfNoACL}}
	z.cur.Store(next)
	a.log.Debug("ACL index rebuilt", "acls", len(bindings), "version", version)
	return &next.Authorizer
}

// request is who the connection's client is, as ACLs match it.
func (c *conn) aclRequest() acl.Request {
	return acl.Request{Principal: c.principal, Host: c.clientHost}
}

// authorized reports whether the client may perform op on the resource,
// logging a DENY. With the authorizer off it is always true.
func (c *conn) authorized(op acl.Operation, t acl.ResourceType, name string) bool {
	if !c.a.authz.on {
		return true
	}
	if c.a.authorizer().Authorize(c.aclRequest(), op, t, name) {
		return true
	}
	c.a.logDeny(c, op, t, name)
	return false
}

// permitted is authorized without the log line, for checks that filter
// what a response lists (Kafka's logIfDenied=false).
func (c *conn) permitted(op acl.Operation, t acl.ResourceType, name string) bool {
	return !c.a.authz.on || c.a.authorizer().Authorize(c.aclRequest(), op, t, name)
}

// authorizedCluster checks op on the cluster resource.
func (c *conn) authorizedCluster(op acl.Operation) bool {
	return c.authorized(op, acl.ResourceCluster, acl.ClusterName)
}

// authorizedTopic, authorizedGroup and authorizedTxn check op on a topic,
// a group or a transactional id.
func (c *conn) authorizedTopic(op acl.Operation, topic string) bool {
	return c.authorized(op, acl.ResourceTopic, topic)
}

func (c *conn) authorizedGroup(op acl.Operation, group string) bool {
	return c.authorized(op, acl.ResourceGroup, group)
}

func (c *conn) authorizedTxn(op acl.Operation, id string) bool {
	return c.authorized(op, acl.ResourceTransactionalID, id)
}

// topicCheck returns a check of op on topics that decides (and logs) each
// topic once, for a handler that may look at a topic several times (a
// fetch that waits and reads again); nil with the authorizer off. It is
// for one request, used by one goroutine at a time.
func (c *conn) topicCheck(op acl.Operation) func(topic string) bool {
	if !c.a.authz.on {
		return nil
	}
	seen := map[string]bool{}
	return func(topic string) bool {
		ok, done := seen[topic]
		if !done {
			ok = c.authorizedTopic(op, topic)
			seen[topic] = ok
		}
		return ok
	}
}

// mayCreateTopic reports whether the client may have topic created by
// auto-creation: CREATE on the cluster or on the topic, as Kafka's
// Metadata asks. Not logged: a refusal answers UNKNOWN_TOPIC_OR_PARTITION.
func (c *conn) mayCreateTopic(topic string) bool {
	return c.permitted(acl.OpCreate, acl.ResourceCluster, acl.ClusterName) || c.permitted(acl.OpCreate, acl.ResourceTopic, topic)
}

// authorizedOps is KIP-430's bit field for a resource: every operation of
// supported (a bit field) the client may perform; all of supported with
// the authorizer off, as a Kafka broker without one reports.
func (c *conn) authorizedOps(t acl.ResourceType, name string, supported int32) int32 {
	if !c.a.authz.on {
		return supported
	}
	var ops []acl.Operation
	for op := acl.OpRead; op <= acl.OpDescribeTokens; op++ {
		if supported&(1<<op) != 0 {
			ops = append(ops, op)
		}
	}
	return c.a.authorizer().Operations(c.aclRequest(), t, name, ops)
}

// logDeny logs a refused check with who asked for what, at most
// denyLogBurst lines a second.
func (a *Agent) logDeny(c *conn, op acl.Operation, t acl.ResourceType, name string) {
	z := a.authz
	now := time.Now().Unix()
	if w := z.denyWindow.Load(); w != now && z.denyWindow.CompareAndSwap(w, now) {
		z.denyLogged.Store(0)
	}
	if z.denyLogged.Add(1) > denyLogBurst {
		z.denySuppressed.Add(1)
		return
	}
	a.log.Info("authorization denied", "principal", c.principal, "host", c.clientHost,
		"operation", op.String(), "resource_type", t.String(), "resource", name,
		"suppressed_since_last", z.denySuppressed.Swap(0))
}

// testAssumePrincipal gives the connection the principal a test's hook
// names for its first request's client id (export_test.go). Nothing but a
// test sets the hook: in production a principal comes only from
// authentication.
func (c *conn) testAssumePrincipal(req *request) {
	if fn := c.a.testPrincipal.Load(); fn != nil && !c.testPrincipalSet {
		c.principal, c.testPrincipalSet = (*fn)(req.clientID), true
	}
}

// groupHeartbeatRefusal is the code (and message) a KIP-848 consumer or
// share group heartbeat is refused with, as Kafka checks it: READ on the
// group, then DESCRIBE on every subscribed topic name; 0 when it may go on.
func (c *conn) groupHeartbeatRefusal(group string, topics []string) (int16, *string) {
	if !c.authorizedGroup(acl.OpRead, group) {
		return kerr.GroupAuthorizationFailed.Code, nil
	}
	var denied []string
	for _, t := range topics {
		if !c.authorizedTopic(acl.OpDescribe, t) {
			denied = append(denied, t)
		}
	}
	if len(denied) > 0 {
		msg := "topic authorization failed for topics " + strings.Join(denied, ", ")
		return kerr.TopicAuthorizationFailed.Code, &msg
	}
	return 0, nil
}

// deniedTopicIDs returns the ids, of the n given by id(i), of topics that
// exist and the client may not perform op on; unknown ids are left to the
// handler. The names are read first: no check runs under the state lock.
func (c *conn) deniedTopicIDs(op acl.Operation, n int, id func(i int) [16]byte) map[[16]byte]bool {
	names := make(map[[16]byte]string, n)
	c.a.journal.View(func(s *journal.State) {
		for i := range n {
			if t := s.TopicByID(journal.TopicID(id(i))); t != nil {
				names[id(i)] = t.Name
			}
		}
	})
	denied := map[[16]byte]bool{}
	for tid, name := range names {
		if !c.authorizedTopic(op, name) {
			denied[tid] = true
		}
	}
	return denied
}

// idempotentWriteAllowed is Kafka's check for an idempotent producer's
// InitProducerId (KIP-679): IDEMPOTENT_WRITE on the cluster, or WRITE on
// at least one topic.
func (c *conn) idempotentWriteAllowed() bool {
	if !c.a.authz.on || c.permitted(acl.OpIdempotentWrite, acl.ResourceCluster, acl.ClusterName) {
		return true
	}
	if c.a.authorizer().AnyAllowed(c.aclRequest(), acl.OpWrite, acl.ResourceTopic) {
		return true
	}
	c.a.logDeny(c, acl.OpIdempotentWrite, acl.ResourceCluster, acl.ClusterName)
	return false
}

// configRefusal is the code a config resource is refused with when the
// client may not perform op (DESCRIBE_CONFIGS or ALTER_CONFIGS) on it, as
// Kafka checks it: a topic on the topic, the broker on the cluster, a
// group on the group; 0 when it may (other types are the handler's to
// refuse).
func (c *conn) configRefusal(t kmsg.ConfigResourceType, name string, op acl.Operation) int16 {
	switch t {
	case kmsg.ConfigResourceTypeTopic:
		if !c.authorizedTopic(op, name) {
			return kerr.TopicAuthorizationFailed.Code
		}
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if !c.authorizedCluster(op) {
			return kerr.ClusterAuthorizationFailed.Code
		}
	case kmsg.ConfigResourceTypeGroupConfig:
		if !c.authorizedGroup(op, name) {
			return kerr.GroupAuthorizationFailed.Code
		}
	}
	return 0
}

// splitAuthorized splits items into those allowed and the others, each in
// their order: a handler passes the first on and answers the others with
// an authorization error.
func splitAuthorized[T any](items []T, allowed func(T) bool) (kept, denied []T) {
	for _, it := range items {
		if allowed(it) {
			kept = append(kept, it)
		} else {
			denied = append(denied, it)
		}
	}
	return kept, denied
}

// groupTopicCheck is the check the group coordinator makes of each topic a
// member's regex matches: DESCRIBE, not logged (a topic left out of a
// regex is no refusal). nil with the authorizer off.
func (a *Agent) groupTopicCheck() func(principal, host, topic string) bool {
	if !a.authz.on {
		return nil
	}
	return func(principal, host, topic string) bool {
		return a.authorizer().Authorize(acl.Request{Principal: principal, Host: host}, acl.OpDescribe, acl.ResourceTopic, topic)
	}
}

// groupACLVersion is the journal's ACL version for the group coordinator;
// nil with the authorizer off.
func (a *Agent) groupACLVersion() func() uint64 {
	if !a.authz.on {
		return nil
	}
	return func() uint64 { return a.journal.ACLVersion() }
}
