package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/silt-io/silt/agent/txns"
	"github.com/silt-io/silt/internal/acl"
)

// Config is an agent's configuration. Start from DefaultConfig, which holds
// every default in one place.
type Config struct {
	// NodeName identifies the agent in the cluster and the journal; its
	// 31-bit hash is the Kafka node id unless NodeID is set. Default: the
	// host name.
	NodeName string
	// NodeID is the agent's Kafka node id (Kafka's broker.id / node.id),
	// for scripts and tools that expect brokers numbered 0, 1, 2…; -1
	// derives it from NodeName. An agent whose node id another live agent
	// has is refused at join and does not start. Default -1.
	NodeID int32
	// Listen is the Kafka listeners: a comma list of PROTOCOL://host:port,
	// PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL, which
	// also names the listener (so each protocol at most once); a bare
	// host:port is PLAINTEXT. See listener.go. Default "localhost:9092".
	Listen string
	// Advertise is what clients are given in Metadata, FindCoordinator and
	// DescribeCluster: the same form as Listen, one per listener, matched
	// by name; a bare host:port is the first listener's. A listener left
	// out advertises its listen address (with the bound port, if it used
	// port 0).
	Advertise string
	// Security configures TLS and SASL on the listeners that use them
	// (security.go).
	Security Security
	// HTTPListen serves /metrics, /healthz and /readyz, and the internal
	// RPC agents of one cluster use (commit proposals, pushed journal
	// entries); empty disables it, which a clustered agent cannot do.
	// Default "localhost:9644".
	HTTPListen string
	// HTTPAdvertise is the host:port other agents reach HTTPListen at.
	// Default: the advertised Kafka host with the HTTP port.
	HTTPAdvertise string
	// Gossip is the memberlist bind address; empty runs a single agent
	// without gossip, which is then the whole cluster, and opens no port
	// beyond the Kafka and HTTP listeners. Default "" (silt agent sets
	// ":7946" when --join is given without --gossip).
	Gossip string
	// GossipAdvertise is the host:port other agents reach the gossip
	// listener at; default as memberlist chooses from Gossip.
	GossipAdvertise string
	// ClusterSecret, if set, closes the cluster's interior: gossip is
	// encrypted and authenticated with a key derived from it, and the
	// internal RPC (commit proposals, pushed entries) signed with another
	// (cluster_secret.go). Every agent of a cluster needs the same secret.
	// /healthz, /readyz and /metrics stay open. At least 16 bytes.
	ClusterSecret []byte
	// Join lists host:port seeds of running agents; a DNS name that
	// resolves to several addresses joins them all. Retried until it
	// succeeds.
	Join []string
	// Zone is the agent's availability zone. Clients that name a zone in
	// their client.id (silt_zone=NAME) are given agents of their zone.
	Zone string
	// Compaction runs the compactor on the agent holding the compactor role
	// (merging, retention, compacted topics, Parquet export, garbage).
	// Default true.
	Compaction bool
	// CompactionInterval is the pause between two compactor passes;
	// default (0) the compaction package's, 30s.
	CompactionInterval time.Duration
	// ExportAll exports every topic to Parquet, as if silt.export=parquet
	// were set on each.
	ExportAll bool
	// SoloCommitter makes the agent write its own journal entries whatever
	// gossip says. Two agents that both do are what a split view of the
	// membership looks like; it costs retries, never correctness, and
	// tests use this to show it.
	SoloCommitter bool
	// JoinWait is how long Start waits for the first join to succeed
	// before taking on work as if alone. Default 10s.
	JoinWait time.Duration
	// FlushInterval is the longest a produced batch waits in the buffer
	// before its segment is cut. Default 250ms.
	FlushInterval time.Duration
	// PutBudget is the object-store PUTs a second the agent's produces may
	// cause before FlushInterval, on a store that charges per request (s3,
	// minio; see objstore.Prices): segments are cut once producers go
	// idle, as often as the budget allows. A store without a per-request
	// price (a directory, memory) ignores it and is written group-commit
	// style, as soon as the previous write is done. Full segments and the
	// interval are not held back by it. Default 8, about $105 a month at
	// S3's list prices: what the fixed 250ms interval cost at most before
	// (4 segments and 4 journal entries a second).
	PutBudget float64
	// FlushBytes cuts a segment early once this much is buffered.
	// Default 8 MiB.
	FlushBytes int
	// InlineSegmentBytes is the largest segment the committer writes
	// inside its journal entry instead of as an object of its own, saving a
	// PUT per flush; 0 turns it off. Default 4 MiB.
	InlineSegmentBytes int
	// CacheBytes is the memory budget of the chunk cache. Default 1 GiB.
	CacheBytes int64
	// QueuedRequestBytes bounds the bytes of requests read and not yet
	// answered, across all connections (Kafka's queued.max.request.bytes):
	// a connection whose next request does not fit waits before reading
	// it. A request larger than the budget waits until it has all of it.
	// Default 64 MiB: eight producers' largest requests at Kafka's
	// max.request.size of 8 MiB, with the cache and the write path inside
	// the memory limit (MemoryLimit).
	QueuedRequestBytes int64
	// CacheDir, if set, adds a disk tier to the chunk cache.
	CacheDir string
	// AutoCreateTopics creates unknown topics on produce and metadata
	// requests, as Kafka's auto.create.topics.enable. Default true.
	AutoCreateTopics bool
	// Authorizer turns on authorization with Kafka's ACLs (Kafka's
	// authorizer.class.name): every request is checked against the ACLs
	// in the journal, and CreateAcls, DescribeAcls and DeleteAcls manage
	// them. Off, every client may do everything and the ACL APIs answer
	// SECURITY_DISABLED, as a Kafka broker without an authorizer. Default
	// false.
	Authorizer bool
	// SuperUsers are principals ("User:admin") the authorizer grants
	// everything (Kafka's super.users). Default none.
	SuperUsers []string
	// AllowEveryoneIfNoACL grants a request on a resource that no ACL
	// covers (Kafka's allow.everyone.if.no.acl.found). Default false.
	AllowEveryoneIfNoACL bool
	// DefaultPartitions is the partition count of auto-created topics and
	// of CreateTopics requests that leave it to the broker. Default 1.
	DefaultPartitions int32
	// MessageMaxBytes is the broker-wide default of max.message.bytes
	// (Kafka's message.max.bytes). Default 1048588.
	MessageMaxBytes int32
	// CommitTimeout bounds how long a produce waits for its segment to be
	// uploaded and committed (it is also bounded by the request's timeout).
	// Default 30s.
	CommitTimeout time.Duration
	// GroupInitialRebalanceDelay is how long a consumer group that was
	// empty waits for more members before its first generation (Kafka's
	// group.initial.rebalance.delay.ms). Default 3s.
	GroupInitialRebalanceDelay time.Duration
	// OffsetsRetention is how long a group without members keeps its
	// committed offsets (Kafka's offsets.retention.minutes). Default 7 days.
	OffsetsRetention time.Duration
	// TransactionMaxTimeout is the longest transaction.timeout.ms a
	// transactional producer may ask for (Kafka's
	// transaction.max.timeout.ms). Default 15 minutes.
	TransactionMaxTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registry receives the agent's Prometheus metrics and is served on
	// HTTPListen; nil means a new registry. Pass the one the bucket's
	// objstore.Metrics are registered with to serve those too.
	Registry *prometheus.Registry
}

// DefaultConfig returns the configuration `silt agent` runs with when given
// no flags.
func DefaultConfig() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "silt"
	}
	return Config{
		NodeName:           host,
		NodeID:             -1,
		Listen:             "localhost:9092",
		HTTPListen:         "localhost:9644",
		Security:           DefaultSecurity(),
		JoinWait:           10 * time.Second,
		Compaction:         true,
		FlushInterval:      250 * time.Millisecond,
		PutBudget:          8,
		FlushBytes:         8 << 20,
		InlineSegmentBytes: 4 << 20,
		CacheBytes:         1 << 30,
		QueuedRequestBytes: 64 << 20,
		AutoCreateTopics:   true,
		DefaultPartitions:  1,
		MessageMaxBytes:    1048588,
		CommitTimeout:      30 * time.Second,

		GroupInitialRebalanceDelay: 3 * time.Second,
		OffsetsRetention:           7 * 24 * time.Hour,
		TransactionMaxTimeout:      txns.DefaultMaxTimeout,
	}
}

// memoryOverhead is what the agent needs beyond its budgets: connections'
// buffers, the journal state, goroutine stacks, the runtime. With the
// defaults the limit is the cache + 256 MiB less the 32 MiB of a process
// that Go's limit does not see (the binary's text and data, the kernel's
// share), so the agent's RSS stays within its cache + 256 MiB.
const memoryOverhead = 32 << 20

// MemoryLimit is the Go soft memory limit (debug.SetMemoryLimit) the
// agent's budgets add up to: the chunk cache, the queued request bytes
// (which hold the produced batches until they are answered), twice the
// write path's buffer (max(4·FlushBytes, 64 MiB); a cut segment is in
// memory as its chunks and as the object built from them) and 32 MiB of
// overhead. `silt agent` sets it unless GOMEMLIMIT is set: the garbage
// collector then runs more often near the limit, where the default (a
// heap twice the live data) would take a 1 GiB cache to 2 GiB and more.
// It is soft: live data over it is kept, at a cost in GC time.
func (c *Config) MemoryLimit() int64 {
	return c.CacheBytes + c.QueuedRequestBytes + 2*max(4*int64(c.FlushBytes), 64<<20) + memoryOverhead
}

// validate reports the first invalid field. It changes nothing.
func (c *Config) validate() error {
	switch {
	case c.NodeName == "":
		return errors.New("node name is empty")
	case c.NodeID < -1:
		return fmt.Errorf("node id %d: must be -1 (from the node name) or 0 and above", c.NodeID)
	case c.Listen == "":
		return errors.New("listen address is empty")
	case c.FlushInterval <= 0:
		return fmt.Errorf("flush interval %v: must be positive", c.FlushInterval)
	case c.PutBudget < 0:
		return fmt.Errorf("put budget %v: must not be negative", c.PutBudget)
	case c.FlushBytes <= 0:
		return fmt.Errorf("flush bytes %d: must be positive", c.FlushBytes)
	case c.QueuedRequestBytes <= 0:
		return fmt.Errorf("queued request bytes %d: must be positive", c.QueuedRequestBytes)
	case c.CacheBytes < 0:
		return fmt.Errorf("cache size %d: must not be negative", c.CacheBytes)
	case c.DefaultPartitions < 1:
		return fmt.Errorf("default partitions %d: must be at least 1", c.DefaultPartitions)
	case c.MessageMaxBytes < 1:
		return fmt.Errorf("message max bytes %d: must be positive", c.MessageMaxBytes)
	case c.TransactionMaxTimeout <= 0:
		return fmt.Errorf("transaction max timeout %v: must be positive", c.TransactionMaxTimeout)
	case c.OffsetsRetention <= 0:
		return fmt.Errorf("offsets retention %v: must be positive", c.OffsetsRetention)
	case c.CommitTimeout <= 0:
		return fmt.Errorf("commit timeout %v: must be positive", c.CommitTimeout)
	case c.Gossip != "" && c.HTTPListen == "":
		return errors.New("a clustered agent (gossip on) needs the HTTP listener: agents commit through each other's internal RPC")
	case c.Gossip == "" && len(c.Join) > 0:
		return errors.New("join given with gossip off")
	case len(c.ClusterSecret) > 0 && len(c.ClusterSecret) < 16:
		return fmt.Errorf("cluster secret of %d bytes: at least 16", len(c.ClusterSecret))
	}
	specs, err := parseListeners(c.Listen)
	if err != nil {
		return err
	}
	for _, u := range c.SuperUsers {
		if err := acl.ValidPrincipal(u); err != nil {
			return fmt.Errorf("super user: %w", err)
		}
	}
	if _, err := advertisedFor(specs, c.Advertise); err != nil {
		return err
	}
	return c.Security.validate(specs)
}
