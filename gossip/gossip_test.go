package gossip

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// start starts a member on loopback with a system-chosen port.
func start(t *testing.T, name string, join ...string) *Gossip {
	t.Helper()
	return startWith(t, name, NodeID(name), join...)
}

// startWith starts a member with an explicit node id.
func startWith(t *testing.T, name string, id int32, join ...string) *Gossip {
	t.Helper()
	cfg := DefaultConfig(name)
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Self.KafkaAddr = "127.0.0.1:9" + name[len(name)-1:]
	cfg.Self.Zone = "zone-" + name[len(name)-1:]
	cfg.Self.NodeID = id
	cfg.Join = join
	g, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Leave(context.Background()) })
	return g
}

// waitMembers waits until g sees exactly the named members.
func waitMembers(t *testing.T, g *Gossip, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(within)
	for {
		if n := len(g.Members()); n == want {
			return time.Since(start)
		}
		select {
		case <-g.Changed():
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s sees %d members after %v, want %d", g.Self().Name, len(g.Members()), within, want)
		}
	}
}

func TestMembershipJoinLeaveAndFailure(t *testing.T) {
	a := start(t, "agent-1")
	b := start(t, "agent-2", a.Addr())
	c := start(t, "agent-3", a.Addr())
	for _, g := range []*Gossip{a, b, c} {
		waitMembers(t, g, 3, 10*time.Second)
	}
	// Metadata travels with membership.
	for _, m := range a.Members() {
		if m.KafkaAddr == "" || m.Zone == "" || m.NodeID != NodeID(m.Name) {
			t.Errorf("member %+v lacks its metadata", m)
		}
	}

	// A graceful leave is seen at once.
	if err := c.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, a, 2, 5*time.Second)

	// A member that stops without leaving (a killed agent) is noticed by
	// failure detection, within about three seconds.
	d := start(t, "agent-4", a.Addr())
	for _, g := range []*Gossip{a, b, d} {
		waitMembers(t, g, 3, 10*time.Second)
	}
	d.kill()
	took := waitMembers(t, b, 2, 10*time.Second)
	t.Logf("a killed member was noticed after %v", took.Round(10*time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("noticing a killed member took %v; want about 3s", took)
	}
}

// kill stops a member without a leave message, as kill -9 would.
func (g *Gossip) kill() {
	g.closeMu.Do(func() {
		close(g.stop)
		g.ml.Shutdown()
		g.wg.Wait()
	})
}

// Join retries until a seed answers: agents may start in any order.
func TestJoinRetriesUntilSeedIsUp(t *testing.T) {
	// Reserve an address for the seed, start the joiner first.
	probe := start(t, "probe-0")
	addr := probe.Addr()
	probe.Leave(context.Background())

	late := DefaultConfig("late-1")
	late.BindAddr = "127.0.0.1:0"
	late.Join = []string{addr}
	g, err := Start(late)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Leave(context.Background())
	time.Sleep(300 * time.Millisecond)

	seed := DefaultConfig("seed-1")
	seed.BindAddr = addr
	s, err := Start(seed)
	if err != nil {
		t.Fatalf("restart the seed on %s: %v", addr, err)
	}
	defer s.Leave(context.Background())
	waitMembers(t, g, 2, 15*time.Second)
}

func TestOwnerIsStableAndBalanced(t *testing.T) {
	members := []Member{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	counts := map[string]int{}
	owners := map[string]string{}
	const keys = 3000
	for i := range keys {
		k := fmt.Sprintf("orders/%d", i)
		o, ok := Owner(members, k)
		if !ok {
			t.Fatal("no owner")
		}
		// Order of the member list does not matter.
		o2, _ := Owner([]Member{members[2], members[0], members[1]}, k)
		if o2.Name != o.Name {
			t.Fatalf("owner of %s depends on member order", k)
		}
		counts[o.Name]++
		owners[k] = o.Name
	}
	for name, n := range counts {
		if n < keys/5 {
			t.Errorf("%s owns %d of %d keys: unbalanced", name, n, keys)
		}
	}
	// Removing a member moves only its keys.
	moved := 0
	for k, before := range owners {
		after, _ := Owner(members[:2], k)
		if before != "c" && after.Name != before {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d keys moved between surviving members", moved)
	}
	if _, ok := Owner(nil, "x"); ok {
		t.Error("an empty cluster has an owner")
	}
}

func TestInZone(t *testing.T) {
	ms := []Member{{Name: "a", Zone: "z1"}, {Name: "b", Zone: "z2"}, {Name: "c", Zone: "z1"}}
	for _, tc := range []struct {
		zone string
		want int
	}{{"", 3}, {"z1", 2}, {"z2", 1}, {"z3", 3}} {
		if got := len(InZone(ms, tc.zone)); got != tc.want {
			t.Errorf("InZone(%q) has %d members, want %d", tc.zone, got, tc.want)
		}
	}
}

func TestNodeIDStableAnd31Bits(t *testing.T) {
	if NodeID("agent-1") != NodeID("agent-1") || NodeID("agent-1") == NodeID("agent-2") {
		t.Fatal("node ids are not a stable function of the name")
	}
	for i := range 1000 {
		if id := NodeID(fmt.Sprint(i)); id < 0 {
			t.Fatalf("negative node id %d", id)
		}
	}
}

// Two agents may not have one node id: the second is refused at join, by
// the cluster and by itself, and an agent given an explicit id is known
// by it.
func TestNodeIDCollisionRefusedAtJoin(t *testing.T) {
	a := startWith(t, "first-1", 7)
	b := startWith(t, "second-2", 8, a.Addr())
	waitMembers(t, a, 2, 10*time.Second)
	for _, m := range a.Members() {
		if want := map[string]int32{"first-1": 7, "second-2": 8}[m.Name]; m.NodeID != want {
			t.Errorf("%s has node id %d, want %d", m.Name, m.NodeID, want)
		}
	}
	if len(a.Refused()) != 0 || len(b.Refused()) != 0 {
		t.Fatalf("distinct ids refused: %v %v", a.Refused(), b.Refused())
	}

	c := startWith(t, "third-3", 7, a.Addr())
	select {
	case <-c.Joined():
	case <-time.After(10 * time.Second):
		t.Fatal("the colliding agent never reached a seed")
	}
	if _, ok := c.Refused()["first-1"]; !ok {
		t.Errorf("the joining agent did not find its node id taken: %v", c.Refused())
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Refused()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the seed did not refuse the colliding agent: %v", a.Refused())
		}
		<-time.After(20 * time.Millisecond)
	}
	for _, g := range []*Gossip{a, b} {
		for _, m := range g.Members() {
			if m.Name == "third-3" {
				t.Errorf("%s let the colliding agent in", g.Self().Name)
			}
		}
	}
}
