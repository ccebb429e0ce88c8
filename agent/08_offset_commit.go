package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// OffsetCommit (key 8), versions 2-9.
//
// Behavior: a member of the group's current generation commits offsets
// through the journal, so they survive any restart; the response waits for
// the entry. Generation -1 with no member id commits for a group nobody
// consumes in (admin tools, manually assigned consumers); while the group
// has members that is UNKNOWN_MEMBER_ID. Errors: ILLEGAL_GENERATION,
// UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS (between join and sync),
// FENCED_INSTANCE_ID, OFFSET_METADATA_TOO_LARGE (over 4096 bytes),
// UNKNOWN_TOPIC_OR_PARTITION. Retention times (v2-4) are ignored: offsets
// expire by offsets.retention.minutes once the group is empty. For a
// KIP-848 group the generation field carries the member epoch (v9 names it
// so; older versions are accepted the same way): an older epoch is
// STALE_MEMBER_EPOCH, a newer one FENCED_MEMBER_EPOCH.
func handleOffsetCommit(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetCommitRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	setAll := func(code int16) {
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	var (
		code       int16
		groupClaim *journal.GroupClaim
	)
	switch {
	case r.Group == "":
		code = kerr.InvalidGroupID.Code
	case !a.ownsGroup(r.Group):
		code = kerr.NotCoordinator.Code
	default:
		if g := a.groups.lookup(r.Group); g != nil {
			if !g.do(func() { code = g.checkCommit(r.MemberID, r.InstanceID, r.Generation) }) {
				code = kerr.NotCoordinator.Code
			}
			// The members' commits carry the claim their generation
			// was formed under, never a newer one.
			groupClaim = &g.claim
		} else if r.Generation >= 0 || r.MemberID != "" {
			code = kerr.UnknownMemberID.Code // the coordinator restarted: rejoin
		}
	}
	if code != 0 {
		setAll(code)
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		cmd := &journal.CommitOffsets{Group: r.Group}
		setAll(0)
		type slot struct{ t, p int }
		var slots []slot
		for ti, rt := range r.Topics {
			for pi, rp := range rt.Partitions {
				meta := ""
				if rp.Metadata != nil {
					meta = *rp.Metadata
				}
				if len(meta) > maxOffsetMetadata {
					resp.Topics[ti].Partitions[pi].ErrorCode = kerr.OffsetMetadataTooLarge.Code
					continue
				}
				cmd.Offsets = append(cmd.Offsets, journal.OffsetCommit{
					Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: meta,
				})
				slots = append(slots, slot{ti, pi})
			}
		}
		if len(cmd.Offsets) == 0 {
			return resp
		}
		// A commit with no group in memory (a tool's, generation -1)
		// claims the group as a new coordinator would.
		claim, code := groupClaim, int16(0)
		if claim == nil {
			claim, code = a.claimGroup(ctx, r.Group)
		}
		cmd.Claim = claim
		var res []journal.Result
		if code == 0 {
			res, code = a.submit(ctx, journal.Command{CommitOffsets: cmd})
		}
		for i, s := range slots {
			sp := &resp.Topics[s.t].Partitions[s.p]
			if code != 0 {
				sp.ErrorCode = code
			} else {
				sp.ErrorCode = res[0].Partitions[i]
			}
		}
		return resp
	}}
}
