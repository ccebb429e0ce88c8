package sharegroups

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Acknowledge serves ShareAcknowledge: acknowledgements in the member's
// share session (epoch as in ShareFetch; -1 also closes the session and
// releases what the member still holds here), answered once durable.
func (s *Service) Acknowledge(ctx context.Context, r *kmsg.ShareAcknowledgeRequest) *kmsg.ShareAcknowledgeResponse {
	resp := r.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	group, member := deref(r.GroupID), deref(r.MemberID)
	if resp.ErrorCode = s.checkIDs(group, member); resp.ErrorCode != 0 {
		return resp
	}
	set := s.settings(group)
	resp.AcquisitionLockTimeoutMillis = int32(set.lockDuration / time.Millisecond)
	k := sessionKey{group, member}
	ss, code := s.checkSession(k, r.ShareSessionEpoch)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	acks := s.applyAcks(ctx, group, member, ackAcks(r.Topics), set, r.Version >= 2 && r.IsRenewAck)
	if r.ShareSessionEpoch == -1 {
		if parts, ok := s.closeSession(k); ok {
			s.releaseSession(ctx, group, member, parts, set)
		}
	} else {
		s.bumpSession(ss)
	}
	settle(ctx, acks)
	index := map[[16]byte]int{}
	for _, a := range acks {
		i, ok := index[a.id]
		if !ok {
			t := kmsg.NewShareAcknowledgeResponseTopic()
			t.TopicID = a.id
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
			index[a.id] = i
		}
		p := kmsg.NewShareAcknowledgeResponseTopicPartition()
		p.Partition, p.ErrorCode = a.partition, a.code
		p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = -1, -1
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp
}
