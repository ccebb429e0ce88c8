package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitionsToTxn (key 24), versions 0-5.
//
// Behavior: adds partitions to the producer's transaction through the
// journal (agent/txns), beginning it if it was not open; a produce to a
// partition not added is refused. An unknown partition fails the request
// (UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED), as
// Kafka does. v4+ carries several transactions (Kafka's brokers send it),
// each of which may be VerifyOnly (KIP-890): checked, adding nothing. A
// stale epoch is PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH before).
// With the authorizer on: WRITE on the transactional id and the topics
// (v0-3), CLUSTER_ACTION for v4+ (txn_authorize.go).
func handleAddPartitionsToTxn(c *conn, req *request) reply {
	r := req.body.(*kmsg.AddPartitionsToTxnRequest)
	if resp := c.refuseAddPartitions(r); resp != nil {
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.txns.AddPartitions(ctx, r) }}
}
