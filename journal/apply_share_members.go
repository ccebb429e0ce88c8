package journal

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// Share groups' membership: a share group's coordinator stores the group's
// members, their epochs, subscriptions and assignments here whenever they
// change, under the group's claim, so that the agent that takes the group
// over resumes it and its members go on at their epochs, as Kafka's share
// group coordinator resumes a group from __consumer_offsets. (The
// share-partitions' state is apply_share.go's.)

// StoreShareGroup replaces a share group's stored membership with Meta
// (nil removes it) if Claim is still the group's latest claim
// (NOT_COORDINATOR otherwise) and Version is newer than the stored one (an
// older store is skipped: the newer one includes its change).
type StoreShareGroup struct {
	Group   string          `json:"group"`
	Claim   *GroupClaim     `json:"claim,omitempty"`
	Version int64           `json:"v"`
	Meta    *ShareGroupMeta `json:"meta,omitempty"`
}

// ShareGroupMeta is a share group's membership as its coordinator last
// stored it.
type ShareGroupMeta struct {
	Version int64         `json:"v"`
	Time    int64         `json:"time,omitempty"` // entry time of the store
	Epoch   int32         `json:"epoch"`
	Members []ShareMember `json:"members,omitempty"`
	// TopicsSeen fingerprints the subscribed topics' partitions the
	// assignment was computed for, so a successor sees what changed since.
	TopicsSeen string `json:"topics_seen,omitempty"`
}

// ShareMember is one member of a share group.
type ShareMember struct {
	ID         string            `json:"id"`
	ClientID   string            `json:"client_id,omitempty"`
	ClientHost string            `json:"client_host,omitempty"`
	Rack       *string           `json:"rack,omitempty"`
	Epoch      int32             `json:"epoch"`
	PrevEpoch  int32             `json:"prev_epoch"`
	Subscribed []string          `json:"subscribed,omitempty"`
	Assigned   []TopicPartitions `json:"assigned,omitempty"`
}

func (s *State) storeShareGroup(c *StoreShareGroup) Result {
	if c.Group == "" {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	if !s.claimHolds(c.Group, c.Claim) {
		return Result{Code: kerr.NotCoordinator.Code}
	}
	if old := s.ShareGroupMembers[c.Group]; old != nil && old.Version >= c.Version {
		return Result{}
	}
	if c.Meta == nil {
		delete(s.ShareGroupMembers, c.Group)
		return Result{}
	}
	m := *c.Meta
	m.Version, m.Time = c.Version, s.Time
	s.ShareGroupMembers[c.Group] = &m
	return Result{}
}
