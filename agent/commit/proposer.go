package commit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/silt-io/silt/internal/backoff"
	"github.com/silt-io/silt/journal"
)

// Proposer sends this agent's journal commands to the committer.
type Proposer struct {
	n      *Node
	queue  chan *Proposal
	prefix string // node name and boot nonce: IDs never repeat across restarts
	next   atomic.Uint64

	closeOnce sync.Once
	done      chan struct{}
	closeCtx  context.Context // ends when done is closed, for retry waits
	closeAll  context.CancelFunc
	wg        sync.WaitGroup
}

// Proposal is one caller's commands on their way to the journal.
type Proposal struct {
	ctx     context.Context
	cmds    []journal.Command
	reply   chan struct{} // closed when seq, results and err are set
	seq     uint64
	results []journal.Result
	err     error
}

func newProposer(n *Node) *Proposer {
	nonce := make([]byte, 4)
	rand.Read(nonce)
	p := &Proposer{n: n, queue: make(chan *Proposal, 1024), done: make(chan struct{}),
		prefix: n.env.Self + "/" + hex.EncodeToString(nonce) + "/"}
	p.closeCtx, p.closeAll = context.WithCancel(context.Background())
	p.wg.Go(p.run)
	return p
}

// ErrClosed fails proposals the agent will not send: it is shutting down.
var ErrClosed = errors.New("agent is shutting down: journal command not sent")

// Propose queues cmds and returns at once; Wait gives the outcome.
// Proposals reach the journal in the order Propose is called.
func (p *Proposer) Propose(ctx context.Context, cmds []journal.Command) *Proposal {
	pr := &Proposal{ctx: ctx, reply: make(chan struct{})}
	pr.cmds = make([]journal.Command, len(cmds))
	for i, c := range cmds {
		c.ID = p.prefix + strconv.FormatUint(p.next.Add(1), 36)
		pr.cmds[i] = c
	}
	select {
	case p.queue <- pr:
	case <-p.done:
		pr.finish(0, nil, ErrClosed)
	case <-ctx.Done():
		pr.finish(0, nil, ctx.Err())
	}
	return pr
}

// Submit proposes cmds and waits for their outcome.
func (p *Proposer) Submit(ctx context.Context, cmds []journal.Command) (uint64, []journal.Result, error) {
	return p.Propose(ctx, cmds).Wait(ctx)
}

// Wait returns the entry holding the proposal and each command's result.
// An error means the commands may or may not have been written.
func (pr *Proposal) Wait(ctx context.Context) (uint64, []journal.Result, error) {
	select {
	case <-pr.reply:
		return pr.seq, pr.results, pr.err
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

func (pr *Proposal) finish(seq uint64, results []journal.Result, err error) {
	pr.seq, pr.results, pr.err = seq, results, err
	close(pr.reply)
}

// close stops the proposer after the batch in flight; queued proposals
// fail. It waits.
func (p *Proposer) close() {
	p.closeOnce.Do(func() { close(p.done); p.closeAll() })
	p.wg.Wait()
	for {
		select {
		case pr := <-p.queue:
			pr.finish(0, nil, ErrClosed)
		default:
			return
		}
	}
}

// maxBatchCommands bounds the commands sent in one batch.
const maxBatchCommands = 4096

func (p *Proposer) run() {
	for {
		var first *Proposal
		select {
		case first = <-p.queue:
		case <-p.done:
			return
		}
		batch := []*Proposal{first}
		n := len(first.cmds)
	drain:
		for n < maxBatchCommands {
			select {
			case pr := <-p.queue:
				batch = append(batch, pr)
				n += len(pr.cmds)
			default:
				break drain
			}
		}
		p.send(batch)
	}
}

// send delivers one batch, retrying with the same proposal IDs until it
// is committed or every caller has given up.
func (p *Proposer) send(batch []*Proposal) {
	retry := backoff.New(20*time.Millisecond, time.Second)
	for attempt := 1; ; attempt++ {
		live := batch[:0]
		for _, pr := range batch {
			if err := pr.ctx.Err(); err != nil {
				pr.finish(0, nil, err)
				continue
			}
			live = append(live, pr)
		}
		batch = live
		if len(batch) == 0 {
			return
		}
		var cmds []journal.Command
		for _, pr := range batch {
			cmds = append(cmds, pr.cmds...)
		}
		ctx, cancel := p.batchContext(batch)
		committer := p.n.Committer()
		start := time.Now()
		var (
			seq     uint64
			results []journal.Result
			err     error
		)
		if committer.Name == p.n.env.Self {
			seq, results, err = p.n.submitLocal(ctx, cmds)
		} else if err = p.uploadInline(ctx, cmds); err == nil {
			seq, results, err = p.n.proposeRemote(ctx, committer, cmds)
			if err == nil {
				// Reply only once this agent has applied the entry, so a
				// client that reads here next sees what it wrote.
				p.n.noteSeq(seq)
				err = p.n.journal.WaitFor(ctx, seq)
			}
		}
		cancel()
		p.n.metrics.proposeDuration.Observe(time.Since(start).Seconds())
		if err == nil && len(results) != len(cmds) {
			err = fmt.Errorf("committer %s returned %d results for %d commands", committer.Name, len(results), len(cmds))
		}
		if err == nil {
			p.n.metrics.proposals.Add(float64(len(batch)))
			i := 0
			for _, pr := range batch {
				pr.finish(seq, results[i:i+len(pr.cmds)], nil)
				i += len(pr.cmds)
			}
			return
		}
		if p.closing() && attempt > 1 {
			for _, pr := range batch {
				pr.finish(0, nil, fmt.Errorf("%w (last error: %w)", ErrClosed, err))
			}
			return
		}
		p.n.metrics.proposeRetries.Inc()
		p.n.log.Warn("journal commit failed; resending", "committer", committer.Name, "attempt", attempt, "err", err)
		retry.Wait(p.closeCtx) // on close, the next attempt is the last
	}
}

// uploadInline puts the inline segments of cmds in objects of their own,
// at the keys they name, and proposes them as ordinary segments: the
// writer proposed them inline while this agent was the committer, and the
// role has moved. A segment key is random, so repeating the upload is
// harmless.
func (p *Proposer) uploadInline(ctx context.Context, cmds []journal.Command) error {
	for _, c := range cmds {
		cs := c.CommitSegment
		if cs == nil || !cs.Inline {
			continue
		}
		if _, err := p.n.env.Bucket.Put(ctx, cs.Object, bytes.Join(cs.Data, nil)); err != nil {
			return fmt.Errorf("upload segment %s proposed inline: %w", cs.Object, err)
		}
		cs.Inline, cs.Data = false, nil
	}
	return nil
}

func (p *Proposer) closing() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// batchContext returns a context that ends when the last of the batch's
// callers gives up, and no later than the commit timeout.
func (p *Proposer) batchContext(batch []*Proposal) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(p.n.env.CommitTimeout)
	latest := time.Time{}
	for _, pr := range batch {
		d, ok := pr.ctx.Deadline()
		if !ok {
			latest = deadline
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	if latest.After(deadline) {
		latest = deadline
	}
	return context.WithDeadline(context.Background(), latest)
}
