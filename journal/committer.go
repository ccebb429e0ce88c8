package journal

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by Submit after the Committer is closed.
var ErrClosed = errors.New("journal committer closed")

// CommitterOptions configures a Committer. The zero value works.
type CommitterOptions struct {
	// MaxCommands bounds the commands written in one entry; default 4096.
	MaxCommands int
	// AppendTimeout bounds one entry's write, retries included; default 30s.
	// While the bucket is down, proposals fail after it.
	AppendTimeout time.Duration
}

// Committer writes proposals from many goroutines as few entries as
// possible (group commit). While one entry is being written, proposals
// queue; the next entry takes all of them. Proposals are written in the
// order they were submitted, so one caller's proposals keep their order.
type Committer struct {
	log   *Log
	opts  CommitterOptions
	queue chan *proposal

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

type proposal struct {
	ctx   context.Context
	cmds  []Command
	reply chan proposalResult
}

type proposalResult struct {
	seq     uint64
	results []Result
	err     error
}

// NewCommitter starts a committer for log. Close stops it.
func NewCommitter(log *Log, opts CommitterOptions) *Committer {
	if opts.MaxCommands <= 0 {
		opts.MaxCommands = 4096
	}
	if opts.AppendTimeout <= 0 {
		opts.AppendTimeout = 30 * time.Second
	}
	c := &Committer{log: log, opts: opts, queue: make(chan *proposal, 1024), done: make(chan struct{})}
	c.wg.Go(c.run)
	return c
}

// Submit proposes cmds and waits until they are applied, returning the
// entry that holds them and each command's result. An error means the
// commands may or may not have been written.
func (c *Committer) Submit(ctx context.Context, cmds []Command) (uint64, []Result, error) {
	return c.Propose(ctx, cmds).Wait(ctx)
}

// Pending is a proposal on its way into the journal.
type Pending struct {
	c   *Committer
	p   *proposal
	err error // set if the proposal was never queued
}

// Propose queues cmds without waiting for them to be written. Proposals
// are written in the order Propose is called, so a caller that must keep
// its commands in order proposes them from one goroutine and waits for the
// outcomes wherever it likes. ctx bounds the wait for room in the queue;
// if ctx is done before the entry is written, the commands are left out.
func (c *Committer) Propose(ctx context.Context, cmds []Command) *Pending {
	p := &proposal{ctx: ctx, cmds: cmds, reply: make(chan proposalResult, 1)}
	select {
	case <-c.done:
		return &Pending{err: ErrClosed}
	default:
	}
	select {
	case c.queue <- p:
		return &Pending{c: c, p: p}
	case <-c.done:
		return &Pending{err: ErrClosed}
	case <-ctx.Done():
		return &Pending{err: ctx.Err()}
	}
}

// Wait returns the proposal's entry and results, once it is applied.
func (pd *Pending) Wait(ctx context.Context) (uint64, []Result, error) {
	if pd.err != nil {
		return 0, nil, pd.err
	}
	c, p := pd.c, pd.p
	select {
	case r := <-p.reply:
		return r.seq, r.results, r.err
	case <-c.done:
		// The run loop answers what it has taken; what it has not is
		// failed by Close, which drains the queue.
		select {
		case r := <-p.reply:
			return r.seq, r.results, r.err
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(c.opts.AppendTimeout):
			return 0, nil, ErrClosed
		}
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// Close stops the committer after the entry being written; queued
// proposals fail with ErrClosed. It is idempotent and waits.
func (c *Committer) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	c.wg.Wait()
	for {
		select {
		case p := <-c.queue:
			p.reply <- proposalResult{err: ErrClosed}
		default:
			return nil
		}
	}
}

func (c *Committer) run() {
	var snapshotting sync.WaitGroup
	defer snapshotting.Wait()
	snapshotBusy := false
	var snapshotMu sync.Mutex
	for {
		var first *proposal
		select {
		case first = <-c.queue:
		case <-c.done:
			return
		}
		batch := []*proposal{first}
		n := len(first.cmds)
	drain:
		for n < c.opts.MaxCommands {
			select {
			case p := <-c.queue:
				batch = append(batch, p)
				n += len(p.cmds)
			default:
				break drain
			}
		}
		c.write(batch)

		snapshotMu.Lock()
		if !snapshotBusy {
			snapshotBusy = true
			snapshotting.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				if err := c.log.MaybeSnapshot(ctx); err != nil {
					c.log.opts.Logger.Warn("journal snapshot failed", "err", err)
				}
				snapshotMu.Lock()
				snapshotBusy = false
				snapshotMu.Unlock()
			})
		}
		snapshotMu.Unlock()
	}
}

// write appends one entry holding the live proposals of batch. A proposal
// whose caller has gone is left out: nobody would learn its outcome.
func (c *Committer) write(batch []*proposal) {
	var cmds []Command
	live := batch[:0]
	for _, p := range batch {
		if p.ctx.Err() != nil {
			p.reply <- proposalResult{err: p.ctx.Err()}
			continue
		}
		live = append(live, p)
		cmds = append(cmds, p.cmds...)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.AppendTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	seq, results, err := c.log.Append(ctx, cmds)
	i := 0
	for _, p := range live {
		r := proposalResult{seq: seq, err: err}
		if err == nil {
			r.results = results[i : i+len(p.cmds)]
		}
		i += len(p.cmds)
		p.reply <- r
	}
}
