package journal

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// Streams groups (KIP-1071): a streams group's coordinator stores the
// group's membership, topology and task assignment here whenever they
// change, under the group's claim (the same claim as the group's offset
// commits), so that the agent that takes the group over resumes it with
// the same member epochs and tasks: its members carry on without losing
// their tasks, as with Kafka's coordinator failover.

// StoreStreamsGroup replaces a streams group's stored state with Meta (nil
// removes it) if Claim is still the group's latest claim
// (NOT_COORDINATOR otherwise) and Version is newer than the stored one (an
// older store is skipped without error: the newer one includes its
// change).
type StoreStreamsGroup struct {
	Group   string            `json:"group"`
	Claim   *GroupClaim       `json:"claim,omitempty"`
	Version int64             `json:"v"`
	Meta    *StreamsGroupMeta `json:"meta,omitempty"`
}

// StreamsGroupMeta is a streams group as its coordinator last stored it.
type StreamsGroupMeta struct {
	// Version increases with every store of the group.
	Version int64 `json:"v"`
	// Time is the entry time of the store (set by Apply).
	Time int64 `json:"time,omitempty"`
	// Epoch is the group epoch; TargetEpoch the epoch of the target
	// assignment; EndpointEpoch counts changes of the Interactive
	// Queries endpoints' partitions.
	Epoch         int32 `json:"epoch"`
	TargetEpoch   int32 `json:"target_epoch"`
	EndpointEpoch int32 `json:"endpoint_epoch,omitempty"`
	// TopologyEpoch and Subtopologies are the topology the group runs.
	TopologyEpoch int32                `json:"topology_epoch"`
	Subtopologies []StreamsSubtopology `json:"subtopologies,omitempty"`
	Members       []StreamsMember      `json:"members,omitempty"`
	// Shutdown is set once a member asked its application to shut down.
	Shutdown bool `json:"shutdown,omitempty"`
	// Standbys is the standby replicas per task the target was computed
	// with.
	Standbys int `json:"standbys,omitempty"`
}

// StreamsSubtopology is one subtopology as the application sent it.
type StreamsSubtopology struct {
	ID                 string         `json:"id"`
	Sources            []string       `json:"sources,omitempty"`
	SourceRegexes      []string       `json:"source_regexes,omitempty"`
	RepartitionSources []StreamsTopic `json:"repartition_sources,omitempty"`
	RepartitionSinks   []string       `json:"repartition_sinks,omitempty"`
	Changelogs         []StreamsTopic `json:"changelogs,omitempty"`
	// Copartition lists groups of topics that must be copartitioned, and
	// CopartitionRegexes the regular expressions of each group.
	Copartition        [][]string `json:"copartition,omitempty"`
	CopartitionRegexes [][]string `json:"copartition_regexes,omitempty"`
}

// StreamsTopic is an internal topic a subtopology asks for.
type StreamsTopic struct {
	Name       string            `json:"name"`
	Partitions int32             `json:"partitions,omitempty"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// StreamsMember is one member of a streams group.
type StreamsMember struct {
	ID               string            `json:"id"`
	ClientID         string            `json:"client_id,omitempty"`
	ClientHost       string            `json:"client_host,omitempty"`
	Process          string            `json:"process"`
	InstanceID       *string           `json:"instance_id,omitempty"`
	Rack             *string           `json:"rack,omitempty"`
	TopologyEpoch    int32             `json:"topology_epoch"`
	RebalanceTimeout int64             `json:"rebalance_timeout_ms,omitempty"`
	EndpointHost     string            `json:"endpoint_host,omitempty"`
	EndpointPort     uint16            `json:"endpoint_port,omitempty"`
	ClientTags       map[string]string `json:"client_tags,omitempty"`
	Epoch            int32             `json:"epoch"`
	PrevEpoch        int32             `json:"prev_epoch"`
	// Current is what the member is given; Revoking what it was told to
	// give up and has not reported gone; Owned what it last reported
	// holding; Target its tasks in the target assignment.
	Current  StreamsTasks `json:"current"`
	Revoking StreamsTasks `json:"revoking,omitzero"`
	Owned    StreamsTasks `json:"owned,omitzero"`
	Target   StreamsTasks `json:"target,omitzero"`
}

// StreamsTasks is a member's tasks of each kind, as subtopology →
// partitions.
type StreamsTasks struct {
	Active  map[string][]int32 `json:"active,omitempty"`
	Standby map[string][]int32 `json:"standby,omitempty"`
	Warmup  map[string][]int32 `json:"warmup,omitempty"`
}

func (s *State) storeStreamsGroup(c *StoreStreamsGroup) Result {
	if c.Group == "" {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	if !s.claimHolds(c.Group, c.Claim) {
		return Result{Code: kerr.NotCoordinator.Code}
	}
	if old := s.StreamsGroups[c.Group]; old != nil && old.Version >= c.Version {
		return Result{}
	}
	if c.Meta == nil {
		delete(s.StreamsGroups, c.Group)
		return Result{}
	}
	m := *c.Meta
	m.Version, m.Time = c.Version, s.Time
	s.StreamsGroups[c.Group] = &m
	return Result{}
}
