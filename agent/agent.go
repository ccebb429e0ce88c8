package agent

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/silt-io/silt/agent/commit"
	"github.com/silt-io/silt/agent/groups"
	"github.com/silt-io/silt/agent/sharegroups"
	"github.com/silt-io/silt/agent/streamsgroups"
	"github.com/silt-io/silt/agent/txns"
	"github.com/silt-io/silt/agent/writer"
	"github.com/silt-io/silt/cache"
	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
)

// Agent is one silt agent. Create it with New, start it with Start, stop it
// with Close.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	bucket objstore.Bucket
	nodeID int32

	journal *journal.Log
	// commit is the commit path (agent/commit): the proposer every journal
	// command goes through, the committer role, the internal RPC and the
	// pushes of written entries. proposer is its proposer, set in Start.
	commit   *commit.Node
	proposer *commit.Proposer
	cluster  *cluster

	cache  *cache.Cache
	writer *writer.Writer // the write path (agent/writer)
	// requests is the budget of bytes of requests read and not yet
	// answered (Config.QueuedRequestBytes, budget.go).
	requests *byteBudget
	pids     *pidAllocator
	groups   *groups.Coordinator
	txns     *txns.Coordinator
	quotas   *quotas
	shares   *sharegroups.Service
	streams  *streamsgroups.Service
	metrics  *metrics
	registry *prometheus.Registry

	// compactorLog keeps the compactor's last work for the console.
	compactorLog compactorLog

	// authz holds the authorizer's settings and ACL index (authorize.go).
	authz *authz
	// testPrincipal, set only by tests (export_test.go), names the
	// principal of a connection by its first request's client id.
	testPrincipal atomic.Pointer[func(clientID string) string]

	// listeners are the Kafka listeners (listener.go); listener is the
	// first one's, whose address Addr returns.
	listeners     []*listener
	listener      net.Listener
	security      *security
	httpServer    *http.Server
	httpAddr      string
	advertiseHost string
	advertisePort int32

	ready atomic.Bool
	// leaving is set when Close begins: the agent gives up what it owns
	// (groups answer NOT_COORDINATOR) before it stops serving.
	leaving atomic.Bool

	// ctx ends when Close begins; background loops and connections watch it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // background loops and connections

	closeOnce sync.Once
	closeErr  error
}

// New returns an agent on bucket. It does no I/O; Start does.
func New(cfg Config, bucket objstore.Bucket) (*Agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Agent{
		cfg:    cfg,
		log:    cfg.Logger.With("node", cfg.NodeName),
		bucket: bucket,
		nodeID: gossip.NodeID(cfg.NodeName),
		quotas: newQuotas(),
		authz:  newAuthz(cfg),
	}
	if cfg.NodeID >= 0 {
		a.nodeID = cfg.NodeID
	}
	a.registry = cfg.Registry
	if a.registry == nil {
		a.registry = prometheus.NewRegistry()
	}
	a.metrics = newMetrics(a.registry)
	a.requests = newByteBudget(cfg.QueuedRequestBytes, a.registry)
	c, err := cache.New(cache.Options{MemoryBytes: max(cfg.CacheBytes, 1), Dir: cfg.CacheDir, Registerer: a.registry})
	if err != nil {
		return nil, fmt.Errorf("agent cache: %w", err)
	}
	a.cache = c
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.commit = commit.New(commit.Env{
		Self: cfg.NodeName, Logger: a.log, Bucket: bucket,
		Members:       func() []gossip.Member { return a.cluster.members() },
		Solo:          cfg.SoloCommitter,
		CommitTimeout: cfg.CommitTimeout,
		Ready:         a.ready.Load,
		Registerer:    a.registry,
		RPCKey:        rpcKey(cfg.ClusterSecret),
	})
	return a, nil
}

// Start replays the journal, opens the Kafka and HTTP listeners and joins
// the cluster. The agent reports ready on /readyz once the state is
// replayed and it has joined.
func (a *Agent) Start(ctx context.Context) error {
	if a.cfg.HTTPListen != "" {
		if err := a.startHTTP(); err != nil {
			return err
		}
	}
	start := time.Now()
	log, err := journal.Open(ctx, a.bucket, journal.Options{WriterID: a.cfg.NodeName, Logger: a.log,
		Appended: a.commit.Appended})
	if err != nil {
		return fmt.Errorf("replay journal from %s: %w", a.bucket.Name(), err)
	}
	a.journal = log
	a.log.Info("journal replayed", "seq", log.Seq(), "took", time.Since(start).Round(time.Millisecond))

	if a.security, err = newSecurity(a.cfg.Security, a.log); err != nil {
		return err
	}
	if err := a.openListeners(); err != nil {
		return err
	}
	if err := a.startCluster(ctx); err != nil {
		return err
	}
	a.commit.Start(log)
	a.proposer = a.commit.Proposer()
	a.pids = newPIDAllocator(a)
	a.groups = groups.New(groups.Env{
		Logger: a.log, NodeName: a.cfg.NodeName, Journal: a.journal, Submit: a.submit, Owns: a.ownsGroup,
		TopicAuthorized: a.groupTopicCheck(), ACLVersion: a.groupACLVersion(),
		Config: groups.Config{
			InitialRebalanceDelay: a.cfg.GroupInitialRebalanceDelay,
			OffsetsRetention:      a.cfg.OffsetsRetention,
			CommitTimeout:         a.cfg.CommitTimeout,
		},
	})
	a.txns = txns.New(txns.Env{
		Logger: a.log, NodeName: a.cfg.NodeName, Journal: a.journal, Submit: a.submit, Owns: a.ownsTxn,
		Config: txns.Config{MaxTimeout: a.cfg.TransactionMaxTimeout, CommitTimeout: a.cfg.CommitTimeout},
	})
	a.shares = sharegroups.New(sharegroups.Env{
		Logger: a.log, NodeName: a.cfg.NodeName, Journal: a.journal, Submit: a.submit,
		OwnsGroup: a.ownsGroup, OwnsPartition: a.ownsPartition, Read: a.shareRead,
		Registerer: a.registry, CommitTimeout: a.cfg.CommitTimeout,
		Claim: a.groups.Claim, CatchUp: func(ctx context.Context) error { _, err := a.journal.CatchUp(ctx); return err },
	})
	a.streams = a.newStreamsGroups()
	a.registerStateMetrics()
	a.registerCostMetrics()
	if err := a.initCluster(ctx); err != nil {
		return err
	}
	a.writer = writer.New(writer.Env{
		Logger: a.log, Bucket: a.bucket, Cache: a.cache,
		Proposer:      writerProposer{a.proposer},
		IsCommitter:   a.commit.IsCommitter,
		FlushInterval: a.cfg.FlushInterval, FlushBytes: a.cfg.FlushBytes,
		InlineSegmentBytes: a.cfg.InlineSegmentBytes, CommitTimeout: a.cfg.CommitTimeout,
		PutBudget:  a.putBudget(),
		Compress:   objstore.PricesOf(a.bucket).PerRequest(),
		Registerer: a.registry,
	})
	for _, l := range a.listeners {
		a.wg.Go(func() { a.acceptLoop(l) })
	}
	a.wg.Go(a.followJournal)
	a.wg.Go(func() { a.groups.Run(a.ctx) })
	a.wg.Go(func() { a.txns.Run(a.ctx) })
	a.wg.Go(a.watchMembership)
	if a.cfg.Compaction {
		a.wg.Go(a.runCompactor)
	}
	a.ready.Store(true)
	a.log.Info("silt agent ready", "kafka", a.Addr(), "advertise", a.advertisedListeners(), "http", a.httpAddr,
		"gossip", a.GossipAddr(), "bucket", a.bucket.Name(), "node_id", a.nodeID)
	return nil
}

// PutBudget returns the PUTs a second the agent's produces may cause before
// the flush interval: Config.PutBudget on a store that charges per request,
// 0 on one that does not (written group-commit style).
func (a *Agent) PutBudget() float64 { return a.putBudget() }

// putBudget returns the write path's budget of PUTs a second: the
// configured one on a store that charges per request, none (group commit)
// on one that does not.
func (a *Agent) putBudget() float64 {
	if !objstore.PricesOf(a.bucket).PerRequest() {
		return 0
	}
	return a.cfg.PutBudget
}

// initCluster writes the first journal entry of a new bucket.
func (a *Agent) initCluster(ctx context.Context) error {
	var id string
	a.journal.View(func(s *journal.State) { id = s.ClusterID })
	if id != "" {
		return nil
	}
	b := make([]byte, 16)
	rand.Read(b)
	_, _, err := a.proposer.Submit(ctx, []journal.Command{{InitCluster: &journal.InitCluster{
		ClusterID: base64.RawURLEncoding.EncodeToString(b),
	}}})
	if err != nil {
		return fmt.Errorf("initialise cluster: %w", err)
	}
	return nil
}

func (a *Agent) advertised() string {
	return net.JoinHostPort(a.advertiseHost, strconv.Itoa(int(a.advertisePort)))
}

// Addr returns the address the Kafka listener is bound to.
func (a *Agent) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// HTTPAddr returns the address of the HTTP listener, or "".
func (a *Agent) HTTPAddr() string { return a.httpAddr }

// NodeName returns the agent's name in the cluster.
func (a *Agent) NodeName() string { return a.cfg.NodeName }

// NodeID returns the agent's Kafka node id.
func (a *Agent) NodeID() int32 { return a.nodeID }

// Journal returns the agent's replayed journal, for tools and tests.
func (a *Agent) Journal() *journal.Log { return a.journal }

// followJournal applies entries that other writers (other agents, tools)
// put in the bucket, so fetches see their records.
func (a *Agent) followJournal() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		if _, err := a.journal.CatchUp(ctx); err != nil && a.ctx.Err() == nil {
			a.log.Warn("journal catch-up failed", "err", err)
		}
		cancel()
	}
}

// catchUpJournal applies the entries in the bucket this agent has not
// applied yet, for reads that must see every acknowledged write.
func (a *Agent) catchUpJournal() {
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	if _, err := a.journal.CatchUp(ctx); err != nil && a.ctx.Err() == nil {
		a.log.Warn("journal catch-up failed", "err", err)
	}
}

// Close shuts the agent down gracefully: it leaves the cluster, so the
// others route around it at once, stops accepting connections, cuts,
// uploads and commits what is buffered, answers the clients waiting for
// it, and closes everything. It is idempotent.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.ready.Store(false)
		a.leaving.Store(true)
		if a.cluster != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := a.cluster.leave(ctx); err != nil {
				a.log.Warn("leave the cluster", "err", err)
			}
			cancel()
		}
		// The groups go first: once the others have seen this agent
		// leave, a group's members must not go on committing here while
		// its new coordinator starts a new generation.
		if a.groups != nil {
			a.groups.Close() // members waiting in joins are told NOT_COORDINATOR
		}
		if a.streams != nil {
			a.streams.Close()
		}
		if a.shares != nil {
			a.shares.Close() // writes of share state in flight land first
		}
		a.closeListeners()
		if a.writer != nil {
			a.writer.Close() // flushes and commits what is buffered
		}
		a.commit.Close() // proposals still queued fail; pushes stop
		a.cancel()       // wakes long polls; connections finish their replies
		if a.httpServer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			a.httpServer.Shutdown(ctx)
			cancel()
		}
		a.wg.Wait()
		a.cache.Close()
		a.log.Info("silt agent stopped")
	})
	return a.closeErr
}

// writerProposer hands the writer's commits to the commit path's proposer.
type writerProposer struct{ p *commit.Proposer }

func (w writerProposer) Propose(ctx context.Context, cmds []journal.Command) writer.Pending {
	return w.p.Propose(ctx, cmds)
}
