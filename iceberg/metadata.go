package iceberg

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/silt-io/silt/objstore"
)

// Metadata is a table metadata file (metadata/vN.metadata.json), format
// version 2, in the JSON of the spec's Appendix C. The schema, partition
// spec and sort order are fixed (schema.go) and kept as raw JSON.
type Metadata struct {
	FormatVersion      int               `json:"format-version"`
	TableUUID          string            `json:"table-uuid"`
	Location           string            `json:"location"`
	LastSequenceNumber int64             `json:"last-sequence-number"`
	LastUpdatedMs      int64             `json:"last-updated-ms"`
	LastColumnID       int               `json:"last-column-id"`
	CurrentSchemaID    int               `json:"current-schema-id"`
	Schemas            []json.RawMessage `json:"schemas"`
	DefaultSpecID      int               `json:"default-spec-id"`
	PartitionSpecs     []json.RawMessage `json:"partition-specs"`
	LastPartitionID    int               `json:"last-partition-id"`
	DefaultSortOrderID int               `json:"default-sort-order-id"`
	SortOrders         []json.RawMessage `json:"sort-orders"`
	Properties         map[string]string `json:"properties"`
	CurrentSnapshotID  int64             `json:"current-snapshot-id"`
	Refs               map[string]Ref    `json:"refs"`
	Snapshots          []Snapshot        `json:"snapshots"`
	SnapshotLog        []SnapshotLog     `json:"snapshot-log"`
	MetadataLog        []MetadataLog     `json:"metadata-log"`
}

// Ref is a named reference to a snapshot; silt writes only the main
// branch.
type Ref struct {
	SnapshotID int64  `json:"snapshot-id"`
	Type       string `json:"type"`
}

// Snapshot is one state of the table.
type Snapshot struct {
	SnapshotID       int64             `json:"snapshot-id"`
	ParentSnapshotID int64             `json:"parent-snapshot-id,omitempty"`
	SequenceNumber   int64             `json:"sequence-number"`
	TimestampMs      int64             `json:"timestamp-ms"`
	ManifestList     string            `json:"manifest-list"`
	Summary          map[string]string `json:"summary"`
	SchemaID         int               `json:"schema-id"`
}

// SnapshotLog records when a snapshot became current.
type SnapshotLog struct {
	TimestampMs int64 `json:"timestamp-ms"`
	SnapshotID  int64 `json:"snapshot-id"`
}

// MetadataLog records a previous metadata file.
type MetadataLog struct {
	TimestampMs  int64  `json:"timestamp-ms"`
	MetadataFile string `json:"metadata-file"`
}

// Current returns the current snapshot, or nil.
func (m *Metadata) Current() *Snapshot {
	return m.Snapshot(m.CurrentSnapshotID)
}

// Snapshot returns the snapshot with that id, or nil.
func (m *Metadata) Snapshot(id int64) *Snapshot {
	for i := range m.Snapshots {
		if m.Snapshots[i].SnapshotID == id {
			return &m.Snapshots[i]
		}
	}
	return nil
}

// Summary properties silt keeps on every snapshot.
const (
	// summaryOffsets lists, per Kafka partition, the offset below which
	// the snapshot holds every exported record: "p:offset,p:offset".
	// It is what makes a commit idempotent (Table.Append).
	summaryOffsets = "silt.offsets"
	// propTopicID is the table property naming the topic id the table
	// holds, so a topic deleted and created again under the same name
	// starts from an empty snapshot.
	propTopicID = "silt.topic-id"
)

// offsets parses a snapshot's summaryOffsets.
func (s *Snapshot) offsets() map[int32]int64 {
	out := map[int32]int64{}
	if s == nil {
		return out
	}
	for kv := range strings.SplitSeq(s.Summary[summaryOffsets], ",") {
		p, o, ok := strings.Cut(kv, ":")
		if !ok {
			continue
		}
		pi, err1 := strconv.ParseInt(p, 10, 32)
		oi, err2 := strconv.ParseInt(o, 10, 64)
		if err1 == nil && err2 == nil {
			out[int32(pi)] = oi
		}
	}
	return out
}

func formatOffsets(m map[int32]int64) string {
	var b strings.Builder
	parts := slices.Sorted(maps.Keys(m))
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", p, m[p])
	}
	return b.String()
}

// metadataDir is the key prefix of a table's metadata.
func metadataDir(topic string) string { return ExportDir(topic) + "metadata/" }

func metadataKey(topic string, version int64) string {
	return fmt.Sprintf("%sv%d.metadata.json", metadataDir(topic), version)
}

func versionHintKey(topic string) string { return metadataDir(topic) + "version-hint.text" }

// maxMetadataBytes and maxManifestBytes bound what is read of a metadata
// file and of a manifest or manifest list from the bucket, so a corrupt
// object cannot exhaust memory. A merged manifest of a million files is
// about 300 MB.
const (
	maxMetadataBytes = 64 << 20
	maxManifestBytes = 1 << 30
)

// LoadMetadata returns the current metadata of a topic's table, its
// version and its raw JSON. The version hint is a hint: versions after it
// are probed until one is missing, since a committer may die between the
// put-if-absent of vN and the hint. A table without metadata is
// objstore.ErrNotFound.
func LoadMetadata(ctx context.Context, b objstore.Reader, topic string) (*Metadata, int64, []byte, error) {
	v, err := latestVersion(ctx, b, topic)
	if err != nil {
		return nil, 0, nil, err
	}
	raw, err := readLimited(ctx, b, metadataKey(topic, v), maxMetadataBytes)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read %s: %w", metadataKey(topic, v), err)
	}
	var md Metadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, 0, nil, fmt.Errorf("decode %s: %w", metadataKey(topic, v), err)
	}
	if md.FormatVersion != 2 {
		return nil, 0, nil, fmt.Errorf("%s: format version %d, want 2", metadataKey(topic, v), md.FormatVersion)
	}
	return &md, v, raw, nil
}

func latestVersion(ctx context.Context, b objstore.Reader, topic string) (int64, error) {
	var v int64
	hint, err := readLimited(ctx, b, versionHintKey(topic), 64)
	switch {
	case err == nil:
		v, err = strconv.ParseInt(strings.TrimSpace(string(hint)), 10, 64)
		if err != nil || v < 1 {
			v = 0 // a bad hint: list instead
		}
	case !errors.Is(err, objstore.ErrNotFound):
		return 0, fmt.Errorf("read version hint: %w", err)
	}
	if v == 0 {
		// No hint: the highest vN listed.
		for info, err := range b.List(ctx, metadataDir(topic), "") {
			if err != nil {
				return 0, fmt.Errorf("list %s: %w", metadataDir(topic), err)
			}
			name := strings.TrimPrefix(info.Key, metadataDir(topic))
			if n, ok := strings.CutSuffix(strings.TrimPrefix(name, "v"), ".metadata.json"); ok && strings.HasPrefix(name, "v") {
				if x, err := strconv.ParseInt(n, 10, 64); err == nil && x > v {
					v = x
				}
			}
		}
		if v == 0 {
			return 0, fmt.Errorf("table %s: %w", topic, objstore.ErrNotFound)
		}
	}
	for {
		_, err := b.Head(ctx, metadataKey(topic, v+1))
		if errors.Is(err, objstore.ErrNotFound) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("probe %s: %w", metadataKey(topic, v+1), err)
		}
		v++
	}
	return v, nil
}

func readLimited(ctx context.Context, b objstore.Reader, key string, limit int64) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, limit)
	}
	return data, nil
}

// newMetadata returns the metadata of a new table, without snapshots.
func newMetadata(location, topicID string, nowMs int64) *Metadata {
	return &Metadata{
		FormatVersion:   2,
		TableUUID:       newUUID(),
		Location:        location,
		LastUpdatedMs:   nowMs,
		LastColumnID:    lastColumnID,
		Schemas:         []json.RawMessage{json.RawMessage(schemaJSON)},
		PartitionSpecs:  []json.RawMessage{json.RawMessage(`{"spec-id":0,"fields":` + specFieldsJSON + `}`)},
		LastPartitionID: specFieldPartition,
		SortOrders:      []json.RawMessage{json.RawMessage(`{"order-id":0,"fields":[]}`)},
		Properties: map[string]string{
			"schema.name-mapping.default":     nameMappingJSON,
			"write.format.default":            "parquet",
			"write.parquet.compression-codec": "zstd",
			propTopicID:                       topicID,
		},
		CurrentSnapshotID: -1,
		Refs:              map[string]Ref{},
		Snapshots:         []Snapshot{},
		SnapshotLog:       []SnapshotLog{},
		MetadataLog:       []MetadataLog{},
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newSnapshotID returns a random positive snapshot id; it doubles as the
// committer's nonce (see Table.commit).
func newSnapshotID() int64 {
	var b [8]byte
	rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:])>>1) | 1
}
