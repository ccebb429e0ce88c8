package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareAcknowledge (key 79), versions 0-2.
//
// Behavior: acknowledgements in the member's share session, as in
// ShareFetch: the session's epoch must follow (0 is
// INVALID_SHARE_SESSION_EPOCH), -1 also closes the session and releases
// what the member still holds here. Each partition's outcome is answered
// once the acknowledgements are durable in the journal, so an
// acknowledged record is never delivered again, whichever agent owns the
// share-partition next. IsRenewAck (v2) allows RENEW, which extends the
// locks.
func handleShareAcknowledge(c *conn, req *request) reply {
	r := req.body.(*kmsg.ShareAcknowledgeRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.shares.Acknowledge(ctx, r) }}
}
