package journal

import "github.com/twmb/franz-go/pkg/kerr"

// Group metadata: what a consumer group's coordinator must hand on.
//
// Kafka keeps a group's membership in __consumer_offsets (group metadata
// records for the classic protocol; member, epoch and assignment records
// for KIP-848), so a broker that takes over the group's coordination loads
// it and the members carry on: their heartbeats and commits with the
// generation or epoch they hold are accepted, and nobody rejoins. silt
// keeps the same in the journal: a coordinator stores the group's metadata
// at the moments Kafka writes it (a generation completed, a member replaced
// or gone, a KIP-848 member's epoch or assignment changed), never per
// heartbeat, and answers the members that the change concerns only once
// the store is applied. A coordinator that claims the group (ClaimGroup)
// then resumes it from State.GroupMeta, which, having applied its claim,
// holds every store the previous coordinator was acknowledged.
//
// Each store replaces the group's whole metadata: a few hundred bytes a
// member, written once per rebalance, which keeps Apply trivial and replay
// exact. Stores carry the coordinator's claim, so a stale coordinator can
// never overwrite its successor's, and a version, so two stores in flight
// from one coordinator may be applied in either order: the higher wins.

// StoreGroup replaces a group's metadata with Meta (nil removes it) if
// Meta's version is newer than the stored one. Refused with NOT_COORDINATOR
// when Claim is not the group's latest.
type StoreGroup struct {
	Group string      `json:"group"`
	Claim *GroupClaim `json:"claim,omitempty"`
	// Version orders the stores of a group; see GroupMeta.Version. It is
	// set here too so that removing the metadata is ordered like a store.
	Version int64      `json:"v"`
	Meta    *GroupMeta `json:"meta,omitempty"`
}

// GroupMeta is a group's membership as its coordinator last stored it.
// Exactly one of Classic and Consumer is set.
type GroupMeta struct {
	// Version increases with every store of the group; a coordinator that
	// resumes the group continues from the stored version.
	Version int64 `json:"v"`
	// At and Time say where and when the store was applied (set by
	// Apply).
	At       RecordPos          `json:"at,omitzero"`
	Time     int64              `json:"time,omitempty"`
	Classic  *ClassicGroupMeta  `json:"classic,omitempty"`
	Consumer *ConsumerGroupMeta `json:"consumer,omitempty"`
}

// ClassicGroupMeta is a classic group's completed generation: Kafka's
// GroupMetadataValue. A group with members is Stable in it; one without
// is Empty.
type ClassicGroupMeta struct {
	ProtocolType string          `json:"protocol_type,omitempty"`
	Protocol     string          `json:"protocol,omitempty"`
	Generation   int32           `json:"generation"`
	Leader       string          `json:"leader,omitempty"`
	Members      []ClassicMember `json:"members,omitempty"`
}

// ClassicMember is one member of a classic group's generation. Metadata is
// its subscription for the group's protocol, as Kafka stores it.
type ClassicMember struct {
	ID                 string  `json:"id"`
	InstanceID         *string `json:"instance_id,omitempty"`
	ClientID           string  `json:"client_id,omitempty"`
	ClientHost         string  `json:"client_host,omitempty"`
	SessionTimeoutMs   int32   `json:"session_ms"`
	RebalanceTimeoutMs int32   `json:"rebalance_ms"`
	Metadata           []byte  `json:"metadata,omitempty"`
	Assignment         []byte  `json:"assignment,omitempty"`
}

// ConsumerGroupMeta is a KIP-848 group: its epochs, the assignor, and every
// member's epoch, subscription, assignment and target.
type ConsumerGroupMeta struct {
	Epoch           int32            `json:"epoch"`
	AssignmentEpoch int32            `json:"assignment_epoch"`
	Assignor        string           `json:"assignor,omitempty"`
	TopicsSeen      string           `json:"topics_seen,omitempty"`
	Members         []ConsumerMember `json:"members,omitempty"`
}

// ConsumerMember is one member of a KIP-848 group.
type ConsumerMember struct {
	ID                 string            `json:"id"`
	InstanceID         *string           `json:"instance_id,omitempty"`
	RackID             *string           `json:"rack_id,omitempty"`
	ClientID           string            `json:"client_id,omitempty"`
	ClientHost         string            `json:"client_host,omitempty"`
	Epoch              int32             `json:"epoch"`
	PrevEpoch          int32             `json:"prev_epoch"`
	RebalanceTimeoutMs int32             `json:"rebalance_ms"`
	Subscribed         []string          `json:"subscribed,omitempty"`
	Regex              *string           `json:"regex,omitempty"`
	Assignor           string            `json:"assignor,omitempty"`
	Assigned           []TopicPartitions `json:"assigned,omitempty"`
	Target             []TopicPartitions `json:"target,omitempty"`
	Revoking           []TopicPartitions `json:"revoking,omitempty"`
}

// TopicPartitions names some partitions of a topic.
type TopicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"parts"`
}

func (s *State) storeGroup(c *StoreGroup) Result {
	if c.Group == "" || (c.Meta != nil && (c.Meta.Classic == nil) == (c.Meta.Consumer == nil)) {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	if !s.claimHolds(c.Group, c.Claim) {
		return Result{Code: kerr.NotCoordinator.Code}
	}
	if old := s.GroupMeta[c.Group]; old != nil && old.Version >= c.Version {
		return Result{} // a newer store was applied first; it includes this one's change
	}
	if c.Meta == nil {
		delete(s.GroupMeta, c.Group)
		return Result{}
	}
	m := *c.Meta
	m.Version, m.At, m.Time = c.Version, s.nextRecordPos(), s.Time
	s.GroupMeta[c.Group] = &m
	return Result{}
}
