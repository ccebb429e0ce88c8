package txns

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// Journal is the agent's replayed journal, as the coordinator reads it.
type Journal interface {
	// View calls fn with the state; fn must not keep it or block.
	View(fn func(*journal.State))
}

// Env is everything the coordinator needs of its agent. All fields are
// required but Logger and Clock.
type Env struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// NodeName is the agent's name, written into its claims.
	NodeName string
	Journal  Journal
	// Submit proposes commands to the journal and returns their results
	// once applied here, or a Kafka error code if they could not be
	// committed.
	Submit func(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16)
	// Owns reports whether gossip names this agent the transactional
	// id's coordinator.
	Owns func(txnID string) bool

	Config
}

// Config holds the coordinator's settings.
type Config struct {
	// MaxTimeout is transaction.max.timeout.ms: the longest
	// transaction.timeout.ms a producer may ask for.
	MaxTimeout time.Duration
	// ExpiryInterval is how often Run looks for timed-out transactions
	// (Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms).
	ExpiryInterval time.Duration
	// CommitTimeout bounds one journal write the coordinator makes on its
	// own account (a claim, a timeout's abort).
	CommitTimeout time.Duration
}

// DefaultMaxTimeout is Kafka's transaction.max.timeout.ms, 15 minutes.
const DefaultMaxTimeout = 15 * time.Minute

// Coordinator coordinates the transactional ids this agent owns.
type Coordinator struct {
	env Env
	log *slog.Logger

	mu struct {
		sync.Mutex
		held  map[string]journal.GroupClaim // this agent's claims, by id
		locks map[string]*idLock            // present while in use
	}
}

type idLock struct {
	sync.Mutex
	users int // guarded by Coordinator.mu
}

// New returns a coordinator.
func New(env Env) *Coordinator {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	if env.MaxTimeout <= 0 {
		env.MaxTimeout = DefaultMaxTimeout
	}
	if env.ExpiryInterval <= 0 {
		env.ExpiryInterval = 10 * time.Second
	}
	if env.CommitTimeout <= 0 {
		env.CommitTimeout = 30 * time.Second
	}
	c := &Coordinator{env: env, log: env.Logger}
	c.mu.held = map[string]journal.GroupClaim{}
	c.mu.locks = map[string]*idLock{}
	return c
}

// lock serialises the requests for one transactional id, so that a
// producer's steps are proposed in the order they arrive and an id is
// claimed once; call the returned function to unlock.
func (c *Coordinator) lock(id string) func() {
	c.mu.Lock()
	l := c.mu.locks[id]
	if l == nil {
		l = &idLock{}
		c.mu.locks[id] = l
	}
	l.users++
	c.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		c.mu.Lock()
		if l.users--; l.users == 0 {
			delete(c.mu.locks, id)
		}
		c.mu.Unlock()
	}
}

// claim returns this agent's claim on id, claiming it through the journal
// unless the claim it holds is still the latest. The caller holds id's
// lock.
func (c *Coordinator) claim(ctx context.Context, id string) (journal.GroupClaim, int16) {
	c.mu.Lock()
	held, ok := c.mu.held[id]
	c.mu.Unlock()
	if ok {
		current := false
		c.env.Journal.View(func(s *journal.State) {
			latest, ok := s.TxnClaim(id)
			current = ok && latest == held
		})
		if current {
			return held, 0
		}
	}
	res, code := c.submit(ctx, journal.Command{ClaimTxn: &journal.ClaimTxn{TxnID: id, Coordinator: c.env.NodeName}})
	if code != 0 {
		return journal.GroupClaim{}, code
	}
	c.mu.Lock()
	c.mu.held[id] = *res.Claim
	c.mu.Unlock()
	return *res.Claim, 0
}

// submit proposes one command and returns its result; the code is the
// command's, or, when the journal could not be written,
// COORDINATOR_NOT_AVAILABLE, which every transactional client retries (the
// steps are idempotent against the state: a retried EndTxn that was
// applied answers as the first).
func (c *Coordinator) submit(ctx context.Context, cmd journal.Command) (journal.Result, int16) {
	ctx, cancel := context.WithTimeout(ctx, c.env.CommitTimeout)
	defer cancel()
	res, code := c.env.Submit(ctx, cmd)
	if code != 0 {
		return journal.Result{}, coordinatorCode(code)
	}
	return res[0], res[0].Code
}

// act runs a step for transactional id: it checks that this agent owns
// the id, claims it, and calls propose with the claim.
func (c *Coordinator) act(ctx context.Context, id string, propose func(claim *journal.GroupClaim) int16) int16 {
	if id == "" {
		return kerr.InvalidRequest.Code
	}
	if !c.env.Owns(id) {
		return kerr.NotCoordinator.Code
	}
	defer c.lock(id)()
	claim, code := c.claim(ctx, id)
	if code != 0 {
		return coordinatorCode(code)
	}
	code = propose(&claim)
	if code == kerr.NotCoordinator.Code {
		c.mu.Lock()
		delete(c.mu.held, id)
		c.mu.Unlock()
	}
	return code
}

// coordinatorCode maps a failure to claim or to write the journal to what a
// transactional client retries: NOT_COORDINATOR stays, anything else is
// COORDINATOR_NOT_AVAILABLE.
func coordinatorCode(code int16) int16 {
	if code == kerr.NotCoordinator.Code {
		return code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// Run aborts timed-out transactions every ExpiryInterval until ctx ends.
func (c *Coordinator) Run(ctx context.Context) {
	t := time.NewTicker(c.env.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.AbortExpired(ctx)
		}
	}
}

// AbortExpired aborts, with an epoch bump that fences the producer, every
// transaction of an id this agent owns that has been Ongoing for longer
// than its timeout by the coordinator's clock. It returns how many it
// aborted.
func (c *Coordinator) AbortExpired(ctx context.Context) int {
	now := c.env.Clock.Now().UnixMilli()
	type expired struct {
		id    string
		pid   int64
		epoch int16
	}
	var due []expired
	c.env.Journal.View(func(s *journal.State) {
		for id, t := range s.Txns {
			if t.Status == journal.TxnOngoing && now-t.StartTime >= int64(t.TimeoutMs) {
				due = append(due, expired{id, t.ProducerID, t.Epoch})
			}
		}
	})
	n := 0
	for _, e := range due {
		if ctx.Err() != nil || !c.env.Owns(e.id) {
			continue
		}
		code := c.act(ctx, e.id, func(claim *journal.GroupClaim) int16 {
			_, code := c.submit(ctx, journal.Command{EndTxn: &journal.EndTxn{
				TxnID: e.id, ProducerID: e.pid, Epoch: e.epoch, Timeout: true, Claim: claim,
			}})
			return code
		})
		if code == 0 {
			n++
			c.log.Info("transaction timed out; aborted and fenced its producer", "transactional_id", e.id, "producer_id", e.pid, "epoch", e.epoch)
		} else {
			c.log.Debug("abort timed-out transaction", "transactional_id", e.id, "code", code)
		}
	}
	return n
}
