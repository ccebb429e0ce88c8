package commit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/silt-io/silt/gossip"
)

// Pushes of journal entries.
//
// The committer pushes every entry it writes to the other agents, so they
// apply it without reading the bucket. An entry is pushed as the bytes the
// journal handed to Appended: the entry's JSON, or for an entry carrying
// inline segments its frame (magic, length) and JSON, without the segment
// data. Those are bytes, not JSON: an early version wrapped each head in a
// JSON array of raw messages, which a framed head is not, so every batch
// holding an inline entry failed to encode and was dropped. The body is
// therefore a small binary frame:
//
//	"SJP1"        4 bytes, the format
//	then, for each entry, in ascending seq:
//	  seq          8 bytes, big-endian
//	  n            4 bytes, big-endian
//	  entry        n bytes
//
// A push is only an optimisation: a peer whose queue is full loses entries,
// and finds them in the bucket when the next push shows it a gap.

// pushMagic opens a push body; a new layout gets a new magic.
const pushMagic = "SJP1"

// pushFrame is the size of one entry's frame header: seq and length.
const pushFrame = 12

// Pushed is one journal entry in a push.
type Pushed struct {
	Seq  uint64
	Data []byte // the entry's head, as journal.Options.Appended gives it
}

// AppendPush appends the push body holding entries to dst.
func AppendPush(dst []byte, entries []Pushed) []byte {
	dst = append(dst, pushMagic...)
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint64(dst, e.Seq)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.Data)))
		dst = append(dst, e.Data...)
	}
	return dst
}

// errBadPush wraps every reason a push body is refused.
var errBadPush = errors.New("bad push body")

// DecodePush parses a push body from the network. The entries' Data alias
// body. Every length is checked against the bytes present before it is
// used, so a hostile body costs its own size and nothing more.
func DecodePush(body []byte) ([]Pushed, error) {
	if len(body) < len(pushMagic) || string(body[:len(pushMagic)]) != pushMagic {
		return nil, fmt.Errorf("%w: no %q magic", errBadPush, pushMagic)
	}
	b := body[len(pushMagic):]
	var out []Pushed
	for len(b) > 0 {
		if len(b) < pushFrame {
			return nil, fmt.Errorf("%w: %d trailing bytes after entry %d", errBadPush, len(b), len(out))
		}
		seq := binary.BigEndian.Uint64(b)
		n := binary.BigEndian.Uint32(b[8:])
		b = b[pushFrame:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: entry %d says %d bytes, %d present", errBadPush, seq, n, len(b))
		}
		if seq == 0 || (len(out) > 0 && seq <= out[len(out)-1].Seq) {
			return nil, fmt.Errorf("%w: entry %d out of order", errBadPush, seq)
		}
		out = append(out, Pushed{Seq: seq, Data: b[:n:n]})
		b = b[n:]
	}
	return out, nil
}

// pusher sends the journal entries this agent writes to the other agents.
// Each peer has a goroutine and a queue; entries queued while a push is in
// flight go in the next, in order.
type pusher struct {
	self    string
	log     *slog.Logger
	post    func(ctx context.Context, m gossip.Member, path string, body []byte) error
	metrics *metrics
	mu      struct {
		sync.Mutex
		peers  map[string]*peer
		closed bool
	}
	wg sync.WaitGroup
}

// peer is one agent entries are pushed to.
type peer struct {
	member  gossip.Member
	entries chan Pushed
	stop    chan struct{}
}

// pushQueue is how many entries may wait for one peer; maxPushEntries how
// many go in one push.
const (
	pushQueue      = 256
	maxPushEntries = 64
)

func newPusher(self string, log *slog.Logger, post func(context.Context, gossip.Member, string, []byte) error, m *metrics) *pusher {
	p := &pusher{self: self, log: log, post: post, metrics: m}
	p.mu.peers = map[string]*peer{}
	return p
}

// push queues an entry for every peer. It never blocks: the committer
// calls it while holding the journal's append lock. data is not modified
// by the journal after the call, so it is queued without a copy.
func (p *pusher) push(seq uint64, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pe := range p.mu.peers {
		select {
		case pe.entries <- Pushed{Seq: seq, Data: data}:
		default:
			p.metrics.pushesDropped.Inc()
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
		if m.Name == p.self || m.InternalAddr == "" {
			continue
		}
		live[m.Name] = true
		if old := p.mu.peers[m.Name]; old != nil && old.member.Equal(m) {
			continue
		} else if old != nil {
			close(old.stop)
		}
		pe := &peer{member: m, entries: make(chan Pushed, pushQueue), stop: make(chan struct{})}
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

// close stops every peer goroutine and waits. It is idempotent.
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
	var body []byte
	for {
		var first Pushed
		select {
		case first = <-pe.entries:
		case <-pe.stop:
			return
		}
		batch := []Pushed{first}
	drain:
		for len(batch) < maxPushEntries {
			select {
			case e := <-pe.entries:
				batch = append(batch, e)
			default:
				break drain
			}
		}
		body = AppendPush(body[:0], batch)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		go func() {
			select {
			case <-pe.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := p.post(ctx, pe.member, EntriesPath, body); err != nil {
			p.metrics.pushFailures.Inc()
			p.log.Debug("push journal entries failed", "peer", pe.member.Name, "err", err)
		} else {
			p.metrics.pushesSent.Add(float64(len(batch)))
		}
		cancel()
	}
}
