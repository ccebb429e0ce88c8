package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn (key 26), versions 0-5.
//
// Behavior: commits or aborts the producer's transaction in one journal
// entry, which writes the commit or abort marker into every partition of
// the transaction, settles its group offsets and moves it to
// CompleteCommit or CompleteAbort (agent/txns). A retry of a completed
// end answers as the first did. From v5 (KIP-890 part 2) every completion
// bumps the producer's epoch and the response carries the new one. With
// the authorizer on: WRITE on the transactional id.
func handleEndTxn(c *conn, req *request) reply {
	r := req.body.(*kmsg.EndTxnRequest)
	if resp := c.refuseEndTxn(r); resp != nil {
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.txns.EndTxn(ctx, r) }}
}
