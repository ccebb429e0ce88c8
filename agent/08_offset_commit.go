package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// OffsetCommit (key 8), versions 2-9.
//
// Behavior: a member of the group's current generation commits offsets
// through the journal, so they survive any restart; the response waits for
// the entry. A commit with generation -1 comes from outside the group
// (admin tools, consumers that assign partitions themselves) and is
// accepted while the group has no members, whatever member id it carries;
// while it has members, UNKNOWN_MEMBER_ID. A generation of a group this
// coordinator does not know is ILLEGAL_GENERATION (the member rejoins).
// Errors: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS
// (between join and sync), FENCED_INSTANCE_ID (a static member replaced by
// a newer instance), OFFSET_METADATA_TOO_LARGE (over 4096 bytes),
// UNKNOWN_TOPIC_OR_PARTITION. Retention times (v2-4) are ignored: offsets
// expire by offsets.retention.minutes once the group is empty. For a
// KIP-848 group the generation field carries the member epoch (v9 names it
// so; older versions are accepted the same way): an older epoch is
// STALE_MEMBER_EPOCH, a newer one FENCED_MEMBER_EPOCH. A streams group's
// member (KIP-1071) is checked the same way by the streams coordinator;
// its offsets are then written like any group's. With the authorizer on,
// the group needs READ (every partition GROUP_AUTHORIZATION_FAILED) and
// each topic READ (its partitions TOPIC_AUTHORIZATION_FAILED, the others
// committed).
func handleOffsetCommit(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetCommitRequest)
	if !c.authorizedGroup(acl.OpRead, r.Group) {
		return reply{resp: offsetCommitFailed(r, r.Topics, kerr.GroupAuthorizationFailed.Code)}
	}
	if known, code := c.a.streams.CheckMember(r.Group, r.MemberID, r.Generation); known {
		if code != 0 {
			return reply{resp: offsetCommitFailed(r, r.Topics, code)}
		}
		// Checked: the groups coordinator writes it as a commit from
		// outside any classic or consumer group.
		checked := *r
		checked.MemberID, checked.Generation, checked.InstanceID = "", -1, nil
		r = &checked
	}
	var denied []kmsg.OffsetCommitRequestTopic
	if c.a.authz.on {
		r.Topics, denied = splitAuthorized(r.Topics, func(t kmsg.OffsetCommitRequestTopic) bool { return c.authorizedTopic(acl.OpRead, t.Topic) })
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := c.a.groups.CommitOffsets(ctx, r)
		if len(denied) > 0 {
			resp.Topics = append(resp.Topics, offsetCommitFailed(r, denied, kerr.TopicAuthorizationFailed.Code).Topics...)
		}
		return resp
	}}
}

// offsetCommitFailed answers code for every partition of topics.
func offsetCommitFailed(r *kmsg.OffsetCommitRequest, topics []kmsg.OffsetCommitRequestTopic, code int16) *kmsg.OffsetCommitResponse {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
