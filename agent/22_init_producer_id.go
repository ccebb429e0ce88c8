package agent

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// InitProducerID (key 22), versions 0-5.
//
// Behavior: gives an idempotent producer a new producer id with epoch 0.
// Ids come from a block the agent reserves through the journal, so a new
// client costs no journal write. A producer that asks to bump the epoch of
// its current id (v3+, after a sequence error) gets a new id instead, which
// is equally valid. With a transactional id, the request goes to the id's
// coordinator (agent/txns): the id's producer id at its next epoch, the
// previous holder fenced and its open transaction aborted (KIP-360 retries
// recognised); transaction.timeout.ms above --transaction-max-timeout is
// INVALID_TRANSACTION_TIMEOUT.
//
// With the authorizer on, as Kafka (KIP-679): an idempotent producer needs
// IDEMPOTENT_WRITE on the cluster or WRITE on some topic
// (CLUSTER_AUTHORIZATION_FAILED); a transactional one WRITE on its
// transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
func handleInitProducerID(c *conn, req *request) reply {
	r := req.body.(*kmsg.InitProducerIDRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		if r.TransactionalID != nil {
			if !c.authorizedTxn(acl.OpWrite, *r.TransactionalID) {
				resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				return resp
			}
			return c.a.txns.InitProducerID(ctx, r)
		}
		if !c.idempotentWriteAllowed() {
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp
		}
		id, code := c.a.pids.next(ctx)
		if code != 0 {
			resp.ErrorCode = code
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
		return resp
	}}
}

// pidBlock is how many producer ids an agent reserves at once.
const pidBlock = 1000

// pidAllocator hands out producer ids from blocks reserved in the journal.
type pidAllocator struct {
	a  *Agent
	mu sync.Mutex // held while a block is reserved, so one reservation serves all waiters
	// next and end bound the current block; guarded by mu.
	nextID, endID int64
}

func newPIDAllocator(a *Agent) *pidAllocator { return &pidAllocator{a: a} }

func (p *pidAllocator) next(ctx context.Context) (int64, int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nextID >= p.endID {
		res, code := p.a.submit(ctx, journal.Command{AllocateProducerIDs: &journal.AllocateProducerIDs{Count: pidBlock}})
		if code != 0 {
			return -1, code
		}
		if res[0].Code != 0 {
			return -1, res[0].Code
		}
		p.nextID, p.endID = res[0].FirstProducerID, res[0].FirstProducerID+pidBlock
	}
	id := p.nextID
	p.nextID++
	return id, 0
}
