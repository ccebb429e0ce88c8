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
// OffsetFetch (RequireStable) answers UNSTABLE_OFFSET_COMMIT for them. The
// group must have been added with AddOffsetsToTxn (INVALID_TXN_STATE).
func handleTxnOffsetCommit(c *conn, req *request) reply {
	r := req.body.(*kmsg.TxnOffsetCommitRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		check := func() int16 {
			gen, member := r.Generation, r.MemberID
			if r.Version < 3 {
				gen, member = -1, ""
			}
			return c.a.groups.CheckTxnCommit(ctx, r.Group, member, r.InstanceID, gen)
		}
		return txns.CommitOffsets(ctx, c.a.submit, r, check)
	}}
}
