package e2e

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/localstack/localstacktest"
)

// rebalances notes the rebalances members take part in once armed: their
// JoinGroups and the assignment changes they see.
type rebalances struct {
	mu     sync.Mutex
	armed  bool
	events []string
}

func (r *rebalances) arm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = true
}

func (r *rebalances) hooks(member int) []kgo.Opt {
	note := func(what string) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.armed {
				r.events = append(r.events, fmt.Sprintf("%s member-%d %v at %s", what, member, ps, time.Now().Format("15:04:05.000")))
			}
		}
	}
	return []kgo.Opt{
		kgo.WithHooks(joinCounter{r, member}),
		kgo.InstanceID(fmt.Sprintf("static-%d", member)),
		kgo.OnPartitionsAssigned(note("assigned")),
		kgo.OnPartitionsRevoked(note("revoked")),
		kgo.OnPartitionsLost(note("lost")),
	}
}

// joinCounter notes every JoinGroup a member sends once armed: a member
// that rejoins is in a rebalance, whatever its assignment turns out to be.
type joinCounter struct {
	r      *rebalances
	member int
}

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (j joinCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	if key != int16(kmsg.JoinGroup) {
		return
	}
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	if j.r.armed {
		j.r.events = append(j.r.events, fmt.Sprintf("JoinGroup from member-%d at %s", j.member, time.Now().Format("15:04:05.000")))
	}
}

func (r *rebalances) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// Static members (KIP-345) see no rebalance when their group's coordinator
// is killed: the agent that takes the group over resumes it from the
// journal, so the members' next heartbeats are simply accepted there, as
// on Kafka when a broker fails. Every record is processed once. (A client
// that gives up its own session meanwhile is the one exception, below.)
func TestStaticMembersKeepTheirPartitionsWhenTheCoordinatorDies(t *testing.T) {
	c := startProcCluster(t, "static", clusterBucket{url: t.TempDir()}, 3)
	const topic, partitions = "static", 6
	var rb rebalances
	load := startLoadWith(t, c.seeds, topic, partitions, rb.hooks)
	load.waitAcked(2000)
	waitFor(t, 60*time.Second, func() bool { return load.group.consuming(1000, 3, 100, partitions) })
	rb.arm()

	coordinator := groupCoordinator(t, c, topic+"-group")
	t.Logf("kill -9 %s, the group's coordinator", coordinator.NodeName())
	coordinator.Kill()
	c.remove(coordinator)
	c.waitMembers(len(c.procs))
	load.waitAcked(3000)
	load.finish()
	ev := rb.seen()
	clientLost := slices.ContainsFunc(ev, func(e string) bool { return strings.HasPrefix(e, "lost ") })
	switch {
	case clientLost:
		// kgo gives up a session whose heartbeats cannot reach the
		// coordinator for a second or so (the dead agent's port refuses
		// them until gossip names the new coordinator), and rejoins: a
		// follower is then given its generation back, a leader's rejoin
		// rebalances the group, both as on Kafka. That is the client's
		// doing; what the agents must do is checked by finish (nothing
		// processed twice).
		t.Logf("a member's client gave up its session and rejoined: %v", ev)
	case len(ev) > 0:
		t.Errorf("the members rebalanced after the coordinator was killed:\n%v", ev)
	}
}

// groupCoordinator returns the agent that coordinates group.
func groupCoordinator(t *testing.T, c *procCluster, group string) *localstacktest.Process {
	t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	resp, err := req.RequestWith(testContext(t, 10*time.Second), newClient(t, c.seeds))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("find coordinator: %v (code %d)", err, resp.ErrorCode)
	}
	for _, p := range c.procs {
		if _, port, _ := net.SplitHostPort(p.Addr()); port == strconv.Itoa(int(resp.Port)) {
			return p
		}
	}
	t.Fatalf("no agent at the coordinator's address %s:%d", resp.Host, resp.Port)
	return nil
}
