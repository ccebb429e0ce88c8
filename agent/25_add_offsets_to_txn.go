package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddOffsetsToTxn (key 25), versions 0-4.
//
// Behavior: adds a consumer group to the producer's transaction through
// the journal (agent/txns), so the group's TxnOffsetCommits are held in
// the transaction and applied or dropped with it. With the authorizer on:
// WRITE on the transactional id, READ on the group (txn_authorize.go).
func handleAddOffsetsToTxn(c *conn, req *request) reply {
	r := req.body.(*kmsg.AddOffsetsToTxnRequest)
	if resp := c.refuseAddOffsets(r); resp != nil {
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.txns.AddOffsets(ctx, r) }}
}
