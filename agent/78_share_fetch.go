package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareFetch (key 78), versions 0-2.
//
// Behavior: at the partition's owner (the leader Metadata names; others
// answer NOT_LEADER_OR_FOLLOWER without a leader hint, so that Kafka's
// share consumer refreshes its metadata: see sharegroups' fetched),
// acquires records of the share session's partitions for the member, up to MaxRecords (500 if unset) and about
// MaxBytes, and returns the batches holding them with the acquired ranges
// and their delivery counts; the records are locked to the member for
// share.record.lock.duration.ms (AcquisitionLockTimeoutMillis, v1+). With
// nothing to acquire it waits up to MaxWaitMillis for new or released
// records. Share sessions: epoch 0 opens one (acknowledgements in it are
// INVALID_REQUEST), later requests carry the next epoch
// (INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_NOT_FOUND otherwise) and
// add or forget partitions, -1 closes it and releases what the member
// holds here, as does the close of the connection that opened it. Piggybacked acknowledgements (GAP, ACCEPT, RELEASE, REJECT;
// RENEW with IsRenewAck, v2) are answered per partition, once durable in
// the journal; INVALID_RECORD_STATE for records the member does not hold.
// BatchSize and ShareAcquireMode (v1-2) are accepted; MaxRecords is
// always a strict limit.
func handleShareFetch(c *conn, req *request) reply {
	r := req.body.(*kmsg.ShareFetchRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.shares.Fetch(ctx, r, c.ctx) }}
}
