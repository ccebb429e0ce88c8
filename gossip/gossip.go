// Package gossip tells each agent which agents are alive, and so which of
// them owns what. It wraps hashicorp/memberlist: every agent gossips its
// metadata (Kafka address, internal address, zone, Kafka node id), and
// ownership of a partition, a group, the journal committer or the compactor
// is decided by rendezvous hashing over the live members. Two agents with
// one node id are refused at join (see alive).
//
// Gossip routes; it never decides. Two agents with different views of the
// membership may both believe they own something for a moment; everything
// that must be decided exactly once is decided by a conditional write to
// the bucket, so a split view costs latency (a retry, a redirect), never
// correctness.
package gossip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/silt-io/silt/internal/backoff"
)

// Member is one live agent as gossip knows it.
type Member struct {
	// Name is the agent's node name, unique in the cluster.
	Name string `json:"-"`
	// NodeID is the Kafka node id: NodeID(Name) unless the agent was
	// given one (silt agent --node-id). It travels in the metadata; a
	// member whose metadata lacks it (an older agent) has NodeID(Name).
	NodeID int32 `json:"node_id"`
	// KafkaAddr is the host:port clients reach the agent at: its first
	// listener's advertised address.
	KafkaAddr string `json:"kafka"`
	// Listeners maps each of the agent's listener names (PLAINTEXT, SSL,
	// SASL_SSL…) to the host:port it advertises there, so that an agent
	// answers a client with the addresses of the listener the client came
	// in on. Empty for an agent with one listener that predates them.
	Listeners map[string]string `json:"l,omitempty"`
	// InternalAddr is the host:port of the agent's internal HTTP API.
	InternalAddr string `json:"internal"`
	// Zone is the agent's availability zone, or "".
	Zone string `json:"zone,omitempty"`
}

// Equal reports whether two members are the same agent with the same
// metadata (Member holds a map, so == does not compile).
func (m Member) Equal(o Member) bool {
	return m.Name == o.Name && m.NodeID == o.NodeID && m.KafkaAddr == o.KafkaAddr &&
		m.InternalAddr == o.InternalAddr && m.Zone == o.Zone && maps.Equal(m.Listeners, o.Listeners)
}

// NodeID returns the Kafka node id of a node name: a stable 31-bit hash, so
// an agent keeps its id across restarts without storing it anywhere.
func NodeID(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32() & 0x7fffffff)
}

// Config configures a Gossip. Start from DefaultConfig.
type Config struct {
	// Self is this agent; Name is required, and NodeID is used as given
	// (DefaultConfig sets NodeID(Name)).
	Self Member
	// BindAddr is the gossip listen address; default ":7946".
	BindAddr string
	// AdvertiseAddr is the host:port other agents reach this one's gossip
	// at; default the bind address (a wildcard host means the host's
	// private address, as memberlist chooses).
	AdvertiseAddr string
	// Join lists host:port seeds. A name that resolves to several
	// addresses (a Kubernetes headless Service) joins them all. Joining is
	// retried in the background until it succeeds.
	Join []string
	// ProbeInterval, ProbeTimeout and SuspicionMult tune failure
	// detection; the defaults notice a killed agent in about two seconds
	// on a LAN or loopback.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	SuspicionMult int
	// SecretKey, if set (16, 24 or 32 bytes), encrypts and authenticates
	// all gossip with memberlist's keyring (AES-GCM): a process without
	// the key can neither join nor read the cluster's messages, and the
	// cluster ignores unencrypted ones.
	SecretKey []byte
	// Transport replaces memberlist's network transport (tests use
	// memberlist.MockNetwork to run many members in one process).
	Transport memberlist.Transport
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults for a member named name.
func DefaultConfig(name string) Config {
	return Config{
		Self:          Member{Name: name, NodeID: NodeID(name)},
		BindAddr:      ":7946",
		ProbeInterval: 500 * time.Millisecond, // memberlist's LAN default is 1s
		ProbeTimeout:  250 * time.Millisecond, // LAN default 500ms; loopback and LAN answer in well under that
		SuspicionMult: 2,                      // LAN default 4: a suspect is declared dead after about 1s here
	}
}

// Gossip is this agent's membership in the cluster.
type Gossip struct {
	cfg  Config
	log  *slog.Logger
	ml   *memberlist.Memberlist
	self Member

	mu struct {
		sync.Mutex
		members map[string]Member
		changed chan struct{} // closed on every change, then replaced
		// refused maps the names of agents refused for taking a node id
		// already in use to why (see alive).
		refused map[string]string
	}

	joined chan struct{} // closed once a seed answered (at once without seeds)
	// quiet silences memberlist's logging once Leave returns: memberlist
	// does not wait for all its goroutines to end, and those left must
	// not write to a logger its owner has finished with.
	quiet   atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Once
}

// Start joins (or founds) the cluster. It returns once the local member is
// running; joining the seeds goes on in the background.
func Start(cfg Config) (*Gossip, error) {
	if cfg.Self.Name == "" {
		return nil, errors.New("gossip: no node name")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Gossip{cfg: cfg, log: cfg.Logger.With("component", "gossip"), stop: make(chan struct{}), joined: make(chan struct{})}
	g.self = cfg.Self
	g.mu.members = map[string]Member{}
	g.mu.refused = map[string]string{}
	g.mu.changed = make(chan struct{})

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Self.Name
	mc.Delegate = delegate{g}
	mc.Events = events{g}
	mc.Alive = alive{g}
	mc.Logger = log.New(slogWriter{l: g.log, quiet: &g.quiet}, "", 0)
	if cfg.ProbeInterval > 0 {
		mc.ProbeInterval = cfg.ProbeInterval
	}
	if cfg.ProbeTimeout > 0 {
		mc.ProbeTimeout = cfg.ProbeTimeout
	}
	if cfg.SuspicionMult > 0 {
		mc.SuspicionMult = cfg.SuspicionMult
	}
	mc.GossipInterval = 100 * time.Millisecond
	if len(cfg.SecretKey) > 0 {
		mc.SecretKey = cfg.SecretKey // verify incoming and outgoing: memberlist's defaults
	}
	if cfg.Transport != nil {
		mc.Transport = cfg.Transport
	} else {
		host, port, err := splitHostPort(cfg.BindAddr, 7946)
		if err != nil {
			return nil, fmt.Errorf("gossip bind address %q: %w", cfg.BindAddr, err)
		}
		mc.BindAddr, mc.BindPort = host, port
		mc.AdvertisePort = port
		if cfg.AdvertiseAddr != "" {
			ahost, aport, err := splitHostPort(cfg.AdvertiseAddr, port)
			if err != nil {
				return nil, fmt.Errorf("gossip advertise address %q: %w", cfg.AdvertiseAddr, err)
			}
			mc.AdvertiseAddr, mc.AdvertisePort = ahost, aport
		}
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	g.ml = ml
	if len(cfg.Join) > 0 {
		g.wg.Go(g.joinLoop)
	} else {
		close(g.joined)
	}
	return g, nil
}

func splitHostPort(addr string, defPort int) (string, int, error) {
	if !strings.Contains(addr, ":") {
		addr += ":" + strconv.Itoa(defPort)
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// joinLoop joins the seeds, retrying with backoff (jittered, so agents
// started together do not knock on the seeds in step) until one answers, and
// then joins them again every rejoinInterval. Rejoining is cheap (a
// push-pull with members already known) and heals a cluster that formed
// in pieces: agents started at the same moment may each have found only
// themselves behind a DNS name.
func (g *Gossip) joinLoop() {
	retry := backoff.New(200*time.Millisecond, 5*time.Second)
	joined := false
	for {
		n, err := g.ml.Join(g.cfg.Join)
		switch {
		case n > 0 && !joined:
			g.log.Info("joined the cluster", "contacted", n, "members", g.ml.NumMembers())
			close(g.joined)
			joined = true
		case n == 0 && !joined:
			g.log.Warn("cannot join the cluster yet; retrying", "seeds", strings.Join(g.cfg.Join, ","), "err", err)
		}
		wait := rejoinInterval
		if !joined {
			wait = retry.Next()
		}
		select {
		case <-g.stop:
			return
		case <-time.After(wait):
		}
	}
}

// rejoinInterval is how often the seeds are joined again after the first
// success.
const rejoinInterval = 30 * time.Second

// Joined returns a channel closed once joining has succeeded: a seed
// answered, or there were no seeds. An agent waits a little for it before
// taking on work, so that it does not briefly believe it owns everything.
func (g *Gossip) Joined() <-chan struct{} { return g.joined }

// Self returns this agent.
func (g *Gossip) Self() Member { return g.self }

// Addr returns the gossip address other agents reach this one at.
func (g *Gossip) Addr() string {
	n := g.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Members returns the live members, this one included, sorted by name.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.mu.members)+1)
	out = append(out, g.self)
	for _, m := range g.mu.members {
		if m.Name != g.self.Name {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Changed returns a channel closed at the next change of membership.
func (g *Gossip) Changed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.changed
}

func (g *Gossip) update(fn func(map[string]Member)) {
	g.mu.Lock()
	fn(g.mu.members)
	close(g.mu.changed)
	g.mu.changed = make(chan struct{})
	g.mu.Unlock()
}

// Leave tells the others this agent is going, so they stop routing to it
// at once instead of after failure detection, and stops gossiping. It is
// idempotent.
func (g *Gossip) Leave(ctx context.Context) error {
	var err error
	g.closeMu.Do(func() {
		close(g.stop)
		timeout := 2 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		err = g.ml.Leave(timeout)
		if serr := g.ml.Shutdown(); err == nil {
			err = serr
		}
		g.wg.Wait()
		g.quiet.Store(true)
	})
	return err
}

// delegate gives memberlist this member's metadata. memberlist calls it
// from its own goroutines; it only reads immutable fields.
type delegate struct{ g *Gossip }

func (d delegate) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(d.g.self)
	if len(b) > limit {
		d.g.log.Error("gossip metadata too large", "bytes", len(b), "limit", limit)
		return nil
	}
	return b
}
func (delegate) NotifyMsg([]byte)                {}
func (delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (delegate) LocalState(bool) []byte          { return nil }
func (delegate) MergeRemoteState([]byte, bool)   {}

// events keeps the member map. memberlist calls it in order from one
// goroutine; it must not block, and it does not.
type events struct{ g *Gossip }

func (e events) member(n *memberlist.Node) (Member, bool) {
	var m Member
	if err := json.Unmarshal(n.Meta, &m); err != nil {
		e.g.log.Warn("ignoring a member with unreadable metadata", "member", n.Name, "err", err)
		return Member{}, false
	}
	m.Name = n.Name
	var id struct {
		NodeID *int32 `json:"node_id"`
	}
	if json.Unmarshal(n.Meta, &id); id.NodeID == nil {
		m.NodeID = NodeID(n.Name)
	}
	return m, true
}

// alive refuses, at join, an agent whose node id another live agent (this
// one included) already has: clients would take the two for one broker.
// memberlist then leaves it out of the membership, and the refused agent,
// which refuses the others in turn, fails to start (see Refused). memberlist
// calls NotifyAlive from its own goroutines; it must not block.
type alive struct{ g *Gossip }

func (d alive) NotifyAlive(n *memberlist.Node) error {
	if n.Name == d.g.self.Name {
		return nil
	}
	m, ok := events(d).member(n)
	if !ok {
		return nil // events leaves it out
	}
	taken := ""
	if m.NodeID == d.g.self.NodeID {
		taken = d.g.self.Name
	}
	d.g.mu.Lock()
	defer d.g.mu.Unlock()
	for _, o := range d.g.mu.members {
		if o.NodeID == m.NodeID && o.Name != m.Name && taken == "" {
			taken = o.Name
		}
	}
	if taken == "" {
		delete(d.g.mu.refused, m.Name)
		return nil
	}
	why := fmt.Sprintf("node id %d of agent %s is already used by agent %s", m.NodeID, m.Name, taken)
	if _, logged := d.g.mu.refused[m.Name]; !logged && !d.g.quiet.Load() {
		d.g.log.Error("refusing an agent: two agents may not have the same node id (--node-id, --node-name)", "why", why)
	}
	d.g.mu.refused[m.Name] = why
	return errors.New(why)
}

// Refused returns why agents were refused membership for a node id
// collision, by agent name. An agent that finds the cluster refused or was
// refused by it at join does not start.
func (g *Gossip) Refused() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.mu.refused)
}

func (e events) NotifyJoin(n *memberlist.Node) {
	if m, ok := e.member(n); ok {
		e.g.update(func(ms map[string]Member) { ms[m.Name] = m })
		e.g.logInfo("member joined", "member", m.Name, "kafka", m.KafkaAddr, "zone", m.Zone)
	}
}

func (e events) NotifyUpdate(n *memberlist.Node) { e.NotifyJoin(n) }

func (e events) NotifyLeave(n *memberlist.Node) {
	e.g.update(func(ms map[string]Member) { delete(ms, n.Name) })
	e.g.logInfo("member left or failed", "member", n.Name)
}

// logInfo logs from memberlist's goroutines, unless Leave has returned.
func (g *Gossip) logInfo(msg string, args ...any) {
	if !g.quiet.Load() {
		g.log.Info(msg, args...)
	}
}

// slogWriter turns memberlist's log lines into slog records.
type slogWriter struct {
	l     *slog.Logger
	quiet *atomic.Bool
}

func (w slogWriter) Write(p []byte) (int, error) {
	if w.quiet.Load() {
		return len(p), nil
	}
	line := strings.TrimSpace(string(p))
	switch {
	case strings.Contains(line, "[ERR]"):
		w.l.Error(line)
	case strings.Contains(line, "[WARN]"):
		w.l.Warn(line)
	default:
		w.l.Debug(line)
	}
	return len(p), nil
}
