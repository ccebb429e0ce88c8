package console

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// Source is what the console reads. The agent implements it over its
// replayed journal state, its membership view, its group coordinator and
// its metrics registry; the console's tests implement it over fixed data.
//
// Every method is safe for concurrent use and returns copies the console
// may keep. A method called before the agent is ready returns ErrNotReady.
type Source interface {
	// Cluster returns the live agents as this agent sees them, with the
	// journal position it has applied.
	Cluster() (Cluster, error)
	// Status returns what only this agent knows of itself.
	Status() (AgentStatus, error)
	// Topics returns a summary of every topic, sorted by name.
	Topics() ([]Topic, error)
	// Topic returns one topic with its partitions; ErrUnknownTopic if
	// there is none of that name.
	Topic(name string) (TopicDetail, error)
	// GroupOffsets returns every committed group offset with its
	// partition's log end, from the journal state every agent holds.
	GroupOffsets() ([]GroupOffset, error)
	// LocalGroups returns the groups this agent coordinates, as Kafka's
	// ListGroups answers them.
	LocalGroups() ([]GroupSummary, error)
	// LocalGroup returns the members of a group this agent coordinates;
	// ok is false if it coordinates no group of that name in memory.
	LocalGroup(name string) (g GroupMembers, ok bool, err error)
	// GroupCoordinator returns the agent that coordinates the group.
	GroupCoordinator(name string) (Agent, error)
	// Read returns records of a partition by the same path a Kafka Fetch
	// takes. ErrUnknownTopic, or an *OffsetError when the offset is
	// outside the log.
	Read(ctx context.Context, r ReadRequest) (ReadResult, error)
	// Objects lists the bucket.
	Objects(ctx context.Context) iter.Seq2[Object, error]
	// Storage returns what the journal state says about the bucket:
	// referenced objects, garbage awaiting deletion, compaction progress.
	Storage() (Storage, error)
	// Counters returns this agent's cumulative counters, for rates.
	Counters() (Counters, error)
}

// Errors a Source returns.
var (
	// ErrNotReady: the agent has not replayed the journal yet.
	ErrNotReady = errors.New("the agent is starting: its journal is not replayed yet")
	// ErrUnknownTopic: no topic of that name (or partition of that number).
	ErrUnknownTopic = errors.New("unknown topic or partition")
)

// OffsetError is a read outside a partition's log.
type OffsetError struct {
	Offset, Start, End int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("offset %d is outside the log: the partition holds offsets %d to %d (end %d is the next to be written)",
		e.Offset, e.Start, e.End-1, e.End)
}

// Agent is one live agent.
type Agent struct {
	Name         string `json:"name"`
	NodeID       int32  `json:"node_id"`
	Zone         string `json:"zone,omitempty"`
	KafkaAddr    string `json:"kafka_addr"`
	InternalAddr string `json:"internal_addr"`
	// Committer and Compactor say which roles the agent holds.
	Committer bool `json:"committer"`
	Compactor bool `json:"compactor"`
}

// Cluster is the membership and journal position as one agent sees them.
type Cluster struct {
	ClusterID string `json:"cluster_id"`
	// Self is the name of the agent answering.
	Self    string  `json:"self"`
	Members []Agent `json:"members"`
	// JournalSeq is the last journal entry applied here, written at
	// JournalTime by its writer's clock.
	JournalSeq  uint64    `json:"journal_seq"`
	JournalTime time.Time `json:"journal_time"`
}

// AgentStatus is what only an agent knows of itself: the console on one
// agent asks each of the others for theirs.
type AgentStatus struct {
	Name    string    `json:"name"`
	Started time.Time `json:"started"`
	Ready   bool      `json:"ready"`
	// JournalSeq is the last entry applied; JournalKnown the highest the
	// agent knows exists. The difference is its journal lag.
	JournalSeq   uint64 `json:"journal_seq"`
	JournalKnown uint64 `json:"journal_known"`
	// Compaction says whether the agent runs the compactor when it holds
	// the role.
	Compaction bool `json:"compaction"`
	// CompactorActivity is the work the agent's compactor did last, the
	// newest first: what the bucket page shows of the compactor.
	CompactorActivity []Activity `json:"compactor_activity"`
}

// Activity is one piece of the compactor's work: a partition range
// exported, an object merged, a compacted partition cleaned.
type Activity struct {
	Time time.Time `json:"time"`
	// Stage is "export", "merge" or "clean".
	Stage   string `json:"stage"`
	Topic   string `json:"topic"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
}

// Counters are an agent's cumulative counters; the sampler turns them
// into rates.
type Counters struct {
	ProduceBytes   float64 `json:"produce_bytes"`
	ProduceRecords float64 `json:"produce_records"`
	FetchBytes     float64 `json:"fetch_bytes"`
	FetchRecords   float64 `json:"fetch_records"`
	// Requests counts object-store requests by type (PUT, GET, LIST,
	// HEAD, DELETE) made by this process.
	Requests map[string]float64 `json:"requests"`
	// BucketBytesIn and BucketBytesOut are bytes downloaded and uploaded.
	BucketBytesIn  float64 `json:"bucket_bytes_in"`
	BucketBytesOut float64 `json:"bucket_bytes_out"`
}

// Topic summarises a topic.
type Topic struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	Partitions int    `json:"partitions"`
	// Records counts offsets between each partition's log start and end.
	Records int64 `json:"records"`
	// Bytes is the stored size of the batches (decoded chunks).
	Bytes  int64 `json:"bytes"`
	Chunks int   `json:"chunks"`
	// End sums the partitions' end offsets: records ever written.
	End int64 `json:"end"`
	// RetentionMs and RetentionBytes are the effective retention.ms and
	// retention.bytes (-1: unlimited); CleanupPolicy cleanup.policy.
	RetentionMs    int64  `json:"retention_ms"`
	RetentionBytes int64  `json:"retention_bytes"`
	CleanupPolicy  string `json:"cleanup_policy"`
}

// TopicDetail is a topic with its partitions and the configs set on it.
type TopicDetail struct {
	Topic
	Configs         map[string]string `json:"configs"`
	PartitionDetail []Partition       `json:"partition_detail"`
}

// Partition is one partition's log.
type Partition struct {
	Partition   int32 `json:"partition"`
	StartOffset int64 `json:"start_offset"`
	EndOffset   int64 `json:"end_offset"`
	Bytes       int64 `json:"bytes"`
	Chunks      int   `json:"chunks"`
	// Objects counts the distinct bucket objects holding the chunks.
	Objects int `json:"objects"`
	// Leader is the agent that serves the partition (Metadata's leader).
	Leader   string `json:"leader"`
	LeaderID int32  `json:"leader_id"`
	// Exported is the offset below which records are exported to Parquet;
	// ExportTime when the last export was committed (zero: never).
	Exported   int64     `json:"exported"`
	ExportTime time.Time `json:"export_time,omitzero"`
}

// GroupOffset is one committed offset and its partition's end.
type GroupOffset struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	// End is the partition's log end offset (high watermark); -1 if the
	// partition no longer exists.
	End        int64     `json:"end"`
	Lag        int64     `json:"lag"`
	CommitTime time.Time `json:"commit_time"`
}

// GroupSummary is a group as Kafka's ListGroups reports it.
type GroupSummary struct {
	Name string `json:"name"`
	// State is Kafka's: Empty, Stable, PreparingRebalance… for classic
	// groups; Empty, Assigning, Reconciling, Stable for consumer groups.
	State string `json:"state"`
	// Type is "classic" or "consumer" (KIP-848).
	Type         string `json:"type"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
}

// GroupMembers is a group's membership, known only to its coordinator.
type GroupMembers struct {
	GroupSummary
	// Protocol is the classic group's chosen assignor (range, sticky…) or
	// the consumer group's server-side assignor.
	Protocol string   `json:"protocol"`
	Epoch    int32    `json:"epoch"`
	Members  []Member `json:"members"`
}

// Member is one member of a group.
type Member struct {
	ID         string `json:"id"`
	InstanceID string `json:"instance_id,omitempty"`
	ClientID   string `json:"client_id"`
	ClientHost string `json:"client_host"`
	// Assignment lists the partitions assigned to the member.
	Assignment []TopicPartitions `json:"assignment"`
}

// TopicPartitions names partitions of a topic.
type TopicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// ReadRequest asks for records of one partition, from Offset or, if
// Timestamp is set, from the first record at or after it (ms).
type ReadRequest struct {
	Topic      string
	Partition  int32
	Offset     int64
	Timestamp  *int64
	MaxRecords int
	// MaxBytes bounds the batches read (whole batches, at least one).
	MaxBytes int
}

// ReadResult is what a read found.
type ReadResult struct {
	// StartOffset and EndOffset are the partition's log at the read.
	StartOffset int64 `json:"start_offset"`
	EndOffset   int64 `json:"end_offset"`
	// From is the first offset asked for (the one a timestamp found).
	From    int64    `json:"from"`
	Records []Record `json:"-"`
}

// Record is one record read.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil: a null key
	Value     []byte // nil: a null value (a tombstone)
	Headers   []Header
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Object is one object in the bucket.
type Object struct {
	Key  string
	Size int64
}

// Storage is what the journal state says of the bucket.
type Storage struct {
	// ReferencedObjects counts the objects that chunks point into,
	// segments and journal entries with inline segments alike.
	ReferencedObjects int `json:"referenced_objects"`
	// Garbage counts unreferenced objects the compactor will delete after
	// a grace period.
	Garbage int `json:"garbage"`
	// Compactor is the agent holding the compactor role.
	Compactor string `json:"compactor"`
	// ExportedOffsets sums, over all partitions, the offset below which
	// records are exported to Parquet; LastExport is when the last export
	// was committed.
	ExportedOffsets int64     `json:"exported_offsets"`
	LastExport      time.Time `json:"last_export,omitzero"`
	// CleanedPartitions counts partitions of compacted topics the
	// compactor has cleaned.
	CleanedPartitions int `json:"cleaned_partitions"`
}
