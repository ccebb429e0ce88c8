package iceberg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/hamba/avro/v2/ocf"
)

// DataFile is one exported Parquet file as the table records it: where it
// is, what it holds, and the column statistics engines prune with.
type DataFile struct {
	// Key is the object's key under the cluster prefix
	// (export/<topic>/dt=…/hour=…/part-….parquet).
	Key       string
	Size      int64
	Partition int32
	// Hour is the record-time hour the file holds, hours since the epoch
	// (Iceberg's hour transform).
	Hour    int32
	Records int64
	// FirstOffset, LastOffset, MinTimestamp and MaxTimestamp (ms) bound
	// the file's records.
	FirstOffset, LastOffset    int64
	MinTimestamp, MaxTimestamp int64
	// MinTimestampType and MaxTimestampType bound timestamp_type.
	MinTimestampType, MaxTimestampType int32
	// NullKeys, NullValues and NullHeaders count records with a null key,
	// value (tombstones) and headers.
	NullKeys, NullValues, NullHeaders int64
	// RowGroupOffsets are the byte offsets of the file's row groups
	// (split_offsets), if known.
	RowGroupOffsets []int64
}

// HourOf returns Iceberg's hour transform of a time in ms since the epoch.
func HourOf(ms int64) int32 {
	const hour = 3600 * 1000
	h := ms / hour
	if ms < 0 && ms%hour != 0 {
		h--
	}
	return int32(h)
}

// le32 and le64 are the spec's single-value serialization (Appendix D) of
// int and long (and timestamptz, in µs).
func le32(v int32) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// entryOf returns the manifest entry of a data file added by a snapshot.
// Sequence numbers are left null, to be inherited from the manifest list.
func entryOf(topic, location string, f DataFile, snapshotID int64) manifestEntry {
	n := f.Records
	counts := func(vals ...int64) []intLong {
		out := make([]intLong, 0, len(vals))
		for i, v := range vals {
			out = append(out, intLong{Key: int32(i + 1), Value: v})
		}
		return out
	}
	hour, part := f.Hour, f.Partition
	return manifestEntry{
		Status:     statusAdded,
		SnapshotID: &snapshotID,
		DataFile: dataFile{
			FilePath:        location + "/" + trimExportDir(topic, f.Key),
			FileFormat:      "PARQUET",
			Partition:       partitionTuple{TimestampHour: &hour, Partition: &part},
			RecordCount:     n,
			FileSizeInBytes: f.Size,
			// value_counts for the seven top-level columns, nulls included;
			// the headers' leaves are inside a list and left out.
			ValueCounts:     counts(n, n, n, n, n, n, n),
			NullValueCounts: counts(0, 0, 0, 0, 0, f.NullKeys, f.NullValues),
			LowerBounds: []intBytes{
				{fieldTopic, []byte(topic)}, {fieldPartition, le32(f.Partition)}, {fieldOffset, le64(f.FirstOffset)},
				{fieldTimestamp, le64(f.MinTimestamp * 1000)}, {fieldTimestampType, le32(f.MinTimestampType)},
			},
			UpperBounds: []intBytes{
				{fieldTopic, []byte(topic)}, {fieldPartition, le32(f.Partition)}, {fieldOffset, le64(f.LastOffset)},
				{fieldTimestamp, le64(f.MaxTimestamp * 1000)}, {fieldTimestampType, le32(f.MaxTimestampType)},
			},
			SplitOffsets: f.RowGroupOffsets,
		},
	}
}

// trimExportDir returns a data file's key relative to the table's location
// (export/<topic>/).
func trimExportDir(topic, key string) string {
	return key[len(ExportDir(topic)):]
}

// ExportDir is the key prefix of a topic's export and table, under the
// cluster prefix.
func ExportDir(topic string) string { return "export/" + topic + "/" }

// encodeManifest writes a manifest holding entries, in the Avro container
// format with the key/value metadata the spec requires.
func encodeManifest(entries []manifestEntry) ([]byte, error) {
	var buf bytes.Buffer
	enc, err := ocf.NewEncoderWithSchema(manifestEntrySchema, &buf,
		ocf.WithCodec(ocf.Deflate),
		ocf.WithSchemaMarshaler(ocf.FullSchemaMarshaler), // keep the field ids
		ocf.WithMetadata(map[string][]byte{
			"schema":            []byte(schemaJSON),
			"schema-id":         []byte("0"),
			"partition-spec":    []byte(specFieldsJSON),
			"partition-spec-id": []byte("0"),
			"format-version":    []byte("2"),
			"content":           []byte("data"),
		}))
	if err != nil {
		return nil, fmt.Errorf("manifest encoder: %w", err)
	}
	for i := range entries {
		if err := enc.Encode(&entries[i]); err != nil {
			return nil, fmt.Errorf("encode manifest entry %s: %w", entries[i].DataFile.FilePath, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("close manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeManifestList writes a snapshot's manifest list.
func encodeManifestList(snapshotID, parentID, seq int64, files []manifestFile) ([]byte, error) {
	parent := "null"
	if parentID > 0 {
		parent = strconv.FormatInt(parentID, 10)
	}
	var buf bytes.Buffer
	enc, err := ocf.NewEncoderWithSchema(manifestFileSchema, &buf,
		ocf.WithCodec(ocf.Deflate),
		ocf.WithSchemaMarshaler(ocf.FullSchemaMarshaler),
		ocf.WithMetadata(map[string][]byte{
			"snapshot-id":        []byte(strconv.FormatInt(snapshotID, 10)),
			"parent-snapshot-id": []byte(parent),
			"sequence-number":    []byte(strconv.FormatInt(seq, 10)),
			"format-version":     []byte("2"),
		}))
	if err != nil {
		return nil, fmt.Errorf("manifest list encoder: %w", err)
	}
	for i := range files {
		if err := enc.Encode(&files[i]); err != nil {
			return nil, fmt.Errorf("encode manifest list entry: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("close manifest list: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeAll reads every record of an Avro container file whose schema must
// be want's (a manifest or a manifest list this package wrote).
func decodeAll[T any](r io.Reader, what string) ([]T, error) {
	dec, err := ocf.NewDecoder(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	var out []T
	for dec.HasNext() {
		var v T
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := dec.Error(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

// summarize returns the manifest list row of a manifest holding entries,
// with the partition field summaries engines prune manifests by.
func summarize(path string, length, snapshotID, seq int64, entries []manifestEntry) manifestFile {
	mf := manifestFile{ManifestPath: path, ManifestLength: length, AddedSnapshotID: snapshotID,
		SequenceNumber: seq, MinSequenceNumber: math.MaxInt64}
	hourLo, hourHi := int32(math.MaxInt32), int32(math.MinInt32)
	partLo, partHi := int32(math.MaxInt32), int32(math.MinInt32)
	for _, e := range entries {
		n := e.DataFile.RecordCount
		switch e.Status {
		case statusAdded:
			mf.AddedFilesCount++
			mf.AddedRowsCount += n
		case statusExisting:
			mf.ExistingFilesCount++
			mf.ExistingRowsCount += n
		case statusDeleted:
			mf.DeletedFilesCount++
			mf.DeletedRowsCount += n
			continue
		}
		s := seq
		if e.SequenceNumber != nil {
			s = *e.SequenceNumber
		}
		mf.MinSequenceNumber = min(mf.MinSequenceNumber, s)
		if p := e.DataFile.Partition; p.TimestampHour != nil && p.Partition != nil {
			hourLo, hourHi = min(hourLo, *p.TimestampHour), max(hourHi, *p.TimestampHour)
			partLo, partHi = min(partLo, *p.Partition), max(partHi, *p.Partition)
		}
	}
	if mf.MinSequenceNumber == math.MaxInt64 {
		mf.MinSequenceNumber = seq
	}
	f := false
	mf.Partitions = []fieldSummary{{ContainsNaN: &f}, {ContainsNaN: &f}}
	if hourLo <= hourHi {
		mf.Partitions[0].LowerBound, mf.Partitions[0].UpperBound = le32(hourLo), le32(hourHi)
		mf.Partitions[1].LowerBound, mf.Partitions[1].UpperBound = le32(partLo), le32(partHi)
	}
	return mf
}
