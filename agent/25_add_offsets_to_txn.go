package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddOffsetsToTxn (key 25), versions 0-4.
//
// Behavior: adds a consumer group to the producer's transaction through
// the journal (agent/txns), so the group's TxnOffsetCommits are held in
// the transaction and applied or dropped with it.
func handleAddOffsetsToTxn(c *conn, req *request) reply {
	r := req.body.(*kmsg.AddOffsetsToTxnRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.txns.AddOffsets(ctx, r) }}
}
