package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
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
//
// With the authorizer on, as Kafka: the group needs READ (the whole
// response GROUP_AUTHORIZATION_FAILED) and each topic READ (its
// partitions TOPIC_AUTHORIZATION_FAILED).
func handleShareFetch(c *conn, req *request) reply {
	r := req.body.(*kmsg.ShareFetchRequest)
	if !c.authorizedGroup(acl.OpRead, deref(r.GroupID)) {
		resp := r.ResponseKind().(*kmsg.ShareFetchResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	var denied []kmsg.ShareFetchRequestTopic
	if c.a.authz.on {
		unreadable := c.deniedTopicIDs(acl.OpRead, len(r.Topics), func(i int) [16]byte { return r.Topics[i].TopicID })
		r.Topics, denied = splitAuthorized(r.Topics, func(t kmsg.ShareFetchRequestTopic) bool { return !unreadable[t.TopicID] })
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := c.a.shares.Fetch(ctx, r, c.ctx)
		for _, rt := range denied {
			st := kmsg.NewShareFetchResponseTopic()
			st.TopicID = rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewShareFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}
