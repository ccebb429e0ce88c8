package agent

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/gossip"
)

// The cluster, as this agent sees it.
//
// Gossip tells each agent which agents are alive; rendezvous hashing over
// that list names the owner of everything that is owned: each partition
// (the agent Metadata calls its leader, whose cache serves it), each
// consumer group (its coordinator, which keeps membership in memory), and
// two roles, the journal committer and the compactor.
//
// Ownership routes; it never decides. Any agent accepts a produce for any
// partition and serves any fetch, and whoever writes a journal entry wins
// it by put-if-absent, so two agents that disagree about the membership
// for a moment cost a redirect or a retry, not data. The one thing held
// in memory by an owner alone is a group's membership: an agent drops the
// groups it no longer owns, and their members rejoin at the new owner.
//
// Without gossip (Config.Gossip empty) the agent is the whole cluster and
// owns everything.

// compactorKey is the compactor role's key in rendezvous hashing; the
// committer's is commit.CommitterKey.
const compactorKey = "role/compactor"

// cluster is the membership view: gossip, or this agent alone.
type cluster struct {
	self   gossip.Member
	gossip *gossip.Gossip // nil: a single agent
}

// startCluster starts gossip, once the listeners are bound and the
// addresses to advertise known, and waits a little for the first join so
// that the agent does not begin by believing it owns everything.
func (a *Agent) startCluster(ctx context.Context) error {
	a.cluster = &cluster{self: gossip.Member{
		Name: a.cfg.NodeName, NodeID: a.nodeID, KafkaAddr: a.advertised(),
		Listeners: a.advertisedListeners(), InternalAddr: a.internalAdvertised(), Zone: a.cfg.Zone,
	}}
	if a.cfg.Gossip == "" {
		return nil
	}
	gcfg := gossip.DefaultConfig(a.cfg.NodeName)
	gcfg.Self = a.cluster.self
	gcfg.BindAddr, gcfg.AdvertiseAddr = a.cfg.Gossip, a.cfg.GossipAdvertise
	gcfg.Join = a.cfg.Join
	gcfg.SecretKey = gossipKey(a.cfg.ClusterSecret)
	gcfg.Logger = a.log
	g, err := gossip.Start(gcfg)
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", a.cfg.Gossip, err)
	}
	a.cluster.gossip = g
	if len(a.cfg.Join) > 0 {
		wait := time.NewTimer(a.cfg.JoinWait)
		defer wait.Stop()
		select {
		case <-g.Joined():
			for _, why := range g.Refused() {
				g.Leave(context.Background())
				return fmt.Errorf("join the cluster: %s; give this agent another --node-id or --node-name", why)
			}
		case <-wait.C:
			a.log.Warn("no seed answered yet; starting alone and joining in the background", "join", strings.Join(a.cfg.Join, ","))
		case <-ctx.Done():
			g.Leave(context.Background())
			return ctx.Err()
		}
	}
	return nil
}

// internalAdvertised returns the address other agents reach this one's
// HTTP listener (and internal RPC) at.
func (a *Agent) internalAdvertised() string {
	if a.cfg.HTTPAdvertise != "" {
		return a.cfg.HTTPAdvertise
	}
	if a.httpAddr == "" {
		return ""
	}
	_, port, _ := net.SplitHostPort(a.httpAddr)
	return net.JoinHostPort(a.advertiseHost, port)
}

// members returns the live agents, this one included, sorted by name.
func (c *cluster) members() []gossip.Member {
	if c.gossip == nil {
		return []gossip.Member{c.self}
	}
	return c.gossip.Members()
}

// changed returns a channel closed at the next change of membership; nil
// (never ready) for a single agent.
func (c *cluster) changed() <-chan struct{} {
	if c.gossip == nil {
		return nil
	}
	return c.gossip.Changed()
}

// owner returns the agent that owns key among members.
func owner(members []gossip.Member, key string) gossip.Member {
	m, _ := gossip.Owner(members, key) // members always holds this agent
	return m
}

// leave tells the others this agent is going, so they route around it at
// once.
func (c *cluster) leave(ctx context.Context) error {
	if c.gossip == nil {
		return nil
	}
	return c.gossip.Leave(ctx)
}

// clientZone returns the zone a client names in its client.id as
// "silt_zone=NAME" (anywhere, separated by commas, semicolons, spaces or
// ampersands), or "".
func clientZone(clientID string) string {
	_, rest, ok := strings.Cut(clientID, "silt_zone=")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, ",; &"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

func partitionKey(topic string, partition int32) string {
	return "partition/" + topic + "/" + strconv.Itoa(int(partition))
}

// broker turns a member into Metadata's broker entry, with the address it
// advertises on the named listener (its first listener's, for "" or an
// agent without that listener: a cluster whose agents have different
// listeners is misconfigured, and a client then reaches some of them on
// another protocol).
func broker(m gossip.Member, listener string) kmsg.MetadataResponseBroker {
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID = m.NodeID
	addr := m.KafkaAddr
	if a, ok := m.Listeners[listener]; ok {
		addr = a
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return b
	}
	p, _ := strconv.ParseUint(port, 10, 16)
	b.Host, b.Port = host, int32(p)
	if m.Zone != "" {
		rack := m.Zone
		b.Rack = &rack
	}
	return b
}

// brokers lists the agents a client in zone is given, at their addresses
// on the listener the client came in on.
func (a *Agent) brokers(zone, listener string) []kmsg.MetadataResponseBroker {
	var out []kmsg.MetadataResponseBroker
	for _, m := range gossip.InZone(a.cluster.members(), zone) {
		out = append(out, broker(m, listener))
	}
	return out
}

// partitionOwner returns the node id of the agent that serves a partition
// to a client in zone.
func (a *Agent) partitionOwner(members []gossip.Member, topic string, partition int32) int32 {
	return owner(members, partitionKey(topic, partition)).NodeID
}

// groupCoordinator returns the agent that coordinates a group. Groups are
// owned over all agents, whatever a client's zone: a group has one
// coordinator.
func (a *Agent) groupCoordinator(group, listener string) kmsg.MetadataResponseBroker {
	return broker(owner(a.cluster.members(), "group/"+group), listener)
}

// ownsGroup reports whether this agent coordinates the group. An agent
// that is shutting down owns none.
func (a *Agent) ownsGroup(group string) bool {
	return !a.leaving.Load() && owner(a.cluster.members(), "group/"+group).Name == a.cfg.NodeName
}

// txnCoordinator returns the agent that coordinates a transactional id,
// its owner over all agents as for groups, at its address on the named
// listener.
func (a *Agent) txnCoordinator(id, listener string) kmsg.MetadataResponseBroker {
	return broker(owner(a.cluster.members(), "txn/"+id), listener)
}

// ownsTxn reports whether this agent coordinates the transactional id. An
// agent that is shutting down owns none.
func (a *Agent) ownsTxn(id string) bool {
	return !a.leaving.Load() && owner(a.cluster.members(), "txn/"+id).Name == a.cfg.NodeName
}

// controllerID is the node id Metadata and DescribeCluster report as the
// controller: the committer, the agent that writes the cluster's metadata.
func (a *Agent) controllerID() int32 { return a.commit.Committer().NodeID }

// IsCompactor reports whether this agent holds the compactor role.
func (a *Agent) IsCompactor() bool {
	return owner(a.cluster.members(), compactorKey).Name == a.cfg.NodeName
}

// Members returns the live agents as this one sees them.
func (a *Agent) Members() []gossip.Member { return a.cluster.members() }

// GossipAddr returns the address other agents join this one at, or "".
func (a *Agent) GossipAddr() string {
	if a.cluster == nil || a.cluster.gossip == nil {
		return ""
	}
	return a.cluster.gossip.Addr()
}

// watchMembership reacts to membership changes: groups this agent no
// longer owns are dropped (their members rejoin at the new owner), pushes
// go to the new set of agents. (Node-id collisions are refused at join:
// gossip.Refused.)
func (a *Agent) watchMembership() {
	for {
		changed := a.cluster.changed()
		members := a.cluster.members()
		a.metrics.members.Set(float64(len(members)))
		a.commit.SetPeers(members)
		a.groups.MembershipChanged()
		a.shares.MembershipChanged()
		a.streams.MembershipChanged()
		select {
		case <-changed:
		case <-a.ctx.Done():
			return
		}
	}
}
