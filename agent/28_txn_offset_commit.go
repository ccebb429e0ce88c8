package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/txns"
)

// TxnOffsetCommit (key 28), versions 0-5.
//
// Behavior: the group's coordinator checks the member and generation (v3+)
// as for OffsetCommit, then the offsets are held in the producer's
// transaction through the journal: visible to OffsetFetch when the
// transaction commits, dropped when it aborts. Until then a stable
// OffsetFetch (RequireStable) answers UNSTABLE_OFFSET_COMMIT for them.
// Before v5 the group must have been added with AddOffsetsToTxn
// (INVALID_TXN_STATE); from v5 (transaction version 2) the commit adds it.
// With the authorizer on: WRITE on the transactional id, READ on the group
// and on each topic (the others are committed, as Kafka does).
func handleTxnOffsetCommit(c *conn, req *request) reply {
	r := req.body.(*kmsg.TxnOffsetCommitRequest)
	all, code, refused := c.txnCommitRefusals(r)
	if all {
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		resp.Topics = txnCommitRefused(refused, code)
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		if len(r.Topics) == 0 {
			resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
			resp.Topics = txnCommitRefused(refused, code)
			return resp
		}
		check := func() int16 {
			gen, member := r.Generation, r.MemberID
			if r.Version < 3 {
				gen, member = -1, ""
			}
			return c.a.groups.CheckTxnCommit(ctx, r.Group, member, r.InstanceID, gen)
		}
		resp := txns.CommitOffsets(ctx, c.a.submit, r, check)
		resp.Topics = append(resp.Topics, txnCommitRefused(refused, code)...)
		return resp
	}}
}
