package commit

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
)

// CommitterKey is the committer role's key in rendezvous hashing: the
// member gossip.Owner gives for it writes the journal.
const CommitterKey = "role/committer"

// Env is what the commit path needs from its agent. Every field is
// required except Logger and Registerer.
type Env struct {
	// Self is this agent's node name, as gossip knows it.
	Self string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Bucket receives the segments a proposal carried inline when they
	// must be uploaded after all (the committer role moved).
	Bucket objstore.Writer
	// Members returns the live agents, this one included. It is called
	// only after Start.
	Members func() []gossip.Member
	// Solo makes this agent commit its own proposals whatever Members
	// says (agent.Config.SoloCommitter).
	Solo bool
	// CommitTimeout bounds one attempt to commit a batch of proposals,
	// and a proposal another agent sends here.
	CommitTimeout time.Duration
	// Ready reports whether the agent serves; the RPC answers 503 until
	// it does, so nothing reaches a Node that has not started.
	Ready func() bool
	// Registerer receives the metrics; nil means none are exported.
	Registerer prometheus.Registerer
	// RPCKey, if set, signs this agent's internal requests and refuses
	// those not signed with it (rpcauth.go).
	RPCKey []byte
}

// Node is one agent's part in the commit path: its proposer, the journal
// committer it runs when it holds the role (or another agent sends it
// commands), the internal RPC, and the pusher of the entries it writes.
// Create it with New before the journal is open (so the journal's Appended
// callback can reach it), then Start it with the journal.
type Node struct {
	env     Env
	log     *slog.Logger
	metrics *metrics
	client  *http.Client
	pusher  *pusher
	// known is the highest journal entry this agent knows exists.
	known atomic.Uint64

	// Set by Start, before Env.Ready turns true: the RPC handlers read
	// them only after Ready.
	journal  *journal.Log
	local    *journal.Committer
	proposer *Proposer

	closeOnce sync.Once
}

// New returns a Node that has not started. It does no I/O.
func New(env Env) *Node {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	reg := env.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	n := &Node{env: env, log: env.Logger, metrics: newMetrics(reg)}
	n.client = &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute, ResponseHeaderTimeout: env.CommitTimeout + 5*time.Second,
	}}
	n.pusher = newPusher(env.Self, n.log, n.postPush, n.metrics)
	return n
}

// Start runs the committer and the proposer over log, the agent's replayed
// journal.
func (n *Node) Start(log *journal.Log) {
	n.journal = log
	n.local = journal.NewCommitter(log, journal.CommitterOptions{AppendTimeout: n.env.CommitTimeout})
	n.proposer = newProposer(n)
}

// Proposer returns the proposer every journal command of this agent goes
// through. Nil before Start.
func (n *Node) Proposer() *Proposer { return n.proposer }

// Committer returns the agent that commits this agent's proposals: itself
// when Solo, otherwise the owner of CommitterKey among the live members.
// It is the one answer to "who commits" in the agent: the proposer routes
// by it, the writer inlines small segments when it is this agent, Metadata
// reports it as the controller, and a gauge exports it.
func (n *Node) Committer() gossip.Member {
	members := n.env.Members()
	if n.env.Solo {
		for _, m := range members {
			if m.Name == n.env.Self {
				return m
			}
		}
	}
	m, _ := gossip.Owner(members, CommitterKey) // members always holds this agent
	return m
}

// IsCommitter reports whether this agent writes its own proposals into the
// journal (see Committer).
func (n *Node) IsCommitter() bool { return n.Committer().Name == n.env.Self }

// Appended is the journal's Options.Appended: it pushes an entry this
// agent wrote to the others. It never blocks.
func (n *Node) Appended(seq uint64, head []byte) {
	n.metrics.entriesWritten.Inc()
	n.noteSeq(seq)
	n.pusher.push(seq, head)
}

// SetPeers sets the agents entries are pushed to: members other than this
// one.
func (n *Node) SetPeers(members []gossip.Member) { n.pusher.setPeers(members) }

// KnownSeq returns the highest journal entry this agent knows exists
// (applied, written, pushed or committed elsewhere for it), for the lag
// metric.
func (n *Node) KnownSeq() uint64 { return n.known.Load() }

func (n *Node) noteSeq(seq uint64) {
	for {
		cur := n.known.Load()
		if seq <= cur || n.known.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Close stops the proposer (queued proposals fail), the pushes and the
// committer, and waits for their goroutines. It is idempotent.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		if n.proposer != nil {
			n.proposer.close()
		}
		n.pusher.close()
		if n.local != nil {
			n.local.Close()
		}
		n.client.CloseIdleConnections()
	})
}

// submitLocal writes cmds through this agent's committer.
func (n *Node) submitLocal(ctx context.Context, cmds []journal.Command) (uint64, []journal.Result, error) {
	return n.local.Submit(ctx, cmds)
}
