package agent

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/silt-io/silt/gossip"
)

// pusher sends the journal entries this agent writes to the other agents,
// so they apply them without reading the bucket. Each peer has a goroutine
// and a queue; entries queued while a push is in flight go in the next, in
// order. A push is only an optimisation: a peer whose queue is full loses
// entries, and finds them in the bucket when the next push shows it a gap.
type pusher struct {
	a  *Agent
	mu struct {
		sync.Mutex
		peers  map[string]*peer
		closed bool
	}
	wg sync.WaitGroup
}

// peer is one agent entries are pushed to.
type peer struct {
	member  gossip.Member
	entries chan []byte
	stop    chan struct{}
}

// pushQueue is how many entries may wait for one peer.
const pushQueue = 256

func newPusher(a *Agent) *pusher {
	p := &pusher{a: a}
	p.mu.peers = map[string]*peer{}
	return p
}

// push queues an entry for every peer. It never blocks: the committer
// calls it while holding the journal's append lock.
func (p *pusher) push(_ uint64, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pe := range p.mu.peers {
		select {
		case pe.entries <- data:
		default:
			p.a.metrics.pushesDropped.Inc()
		}
	}
}

// setPeers starts pushing to members other than this agent, and stops
// pushing to agents that left.
func (p *pusher) setPeers(members []gossip.Member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return
	}
	live := map[string]bool{}
	for _, m := range members {
		if m.Name == p.a.cfg.NodeName || m.InternalAddr == "" {
			continue
		}
		live[m.Name] = true
		if old := p.mu.peers[m.Name]; old != nil && old.member == m {
			continue
		} else if old != nil {
			close(old.stop)
		}
		pe := &peer{member: m, entries: make(chan []byte, pushQueue), stop: make(chan struct{})}
		p.mu.peers[m.Name] = pe
		p.wg.Go(func() { p.run(pe) })
	}
	for name, pe := range p.mu.peers {
		if !live[name] {
			close(pe.stop)
			delete(p.mu.peers, name)
		}
	}
}

// close stops every peer goroutine and waits.
func (p *pusher) close() {
	p.mu.Lock()
	p.mu.closed = true
	for name, pe := range p.mu.peers {
		close(pe.stop)
		delete(p.mu.peers, name)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// run pushes to one peer until it is stopped.
func (p *pusher) run(pe *peer) {
	for {
		var first []byte
		select {
		case first = <-pe.entries:
		case <-pe.stop:
			return
		}
		batch := []json.RawMessage{first}
	drain:
		for len(batch) < 64 {
			select {
			case e := <-pe.entries:
				batch = append(batch, e)
			default:
				break drain
			}
		}
		body, err := json.Marshal(batch)
		if err != nil {
			// The entries are the committer's own JSON; this does not
			// happen, and the peer would read them from the bucket.
			p.a.log.Error("encode pushed journal entries", "peer", pe.member.Name, "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		go func() {
			select {
			case <-pe.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := p.a.postRPC(ctx, pe.member, entriesPath, body, nil); err != nil {
			p.a.metrics.pushFailures.Inc()
			p.a.log.Debug("push journal entries failed", "peer", pe.member.Name, "err", err)
		}
		cancel()
	}
}
