package iceberg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"sync"

	"github.com/hamba/avro/v2"
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
		ocf.WithCodec(ocf.Null),                          // see checkFraming
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
		ocf.WithCodec(ocf.Null), // see checkFraming
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

// decodeAll reads every record of an Avro container file (a manifest or
// a manifest list). The file comes from the bucket, so a corrupt one must
// give an error: hamba/avro's container decoder allocates each block at
// the size its header claims (gigabytes, from a few corrupt bytes) and
// panics on a negative one, and its array decoder allocates items ahead
// of reading them, so the framing is checked first (checkFraming), every
// allocation is bounded by the file's size (decodeConfig), and a panic is
// still turned into an error.
func decodeAll[T any](data []byte, schema avro.Schema, what string) (out []T, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("decode %s: malformed Avro container: %v", what, r)
		}
	}()
	want, err := ocf.FullSchemaMarshaler(schema)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	if err := checkFraming(data, want); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	dec, err := ocf.NewDecoder(bytes.NewReader(data), ocf.WithDecoderConfig(decodeConfig(len(data))))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
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

// decodeConfigs are hamba/avro configurations that bound every array and
// byte string a decoder allocates to 2^i: its array decoder grows a slice to
// the item count a block header claims before reading an item, so a few
// corrupt bytes could claim billions. No count can exceed the file's
// length, every item taking a byte at least.
var decodeConfigs [40]struct {
	once sync.Once
	api  avro.API
}

// decodeConfig returns the configuration bounding allocations to the
// power of two at or above n.
func decodeConfig(n int) avro.API {
	i := min(bits.Len(uint(n)), len(decodeConfigs)-1)
	c := &decodeConfigs[i]
	c.once.Do(func() {
		c.api = avro.Config{MaxSliceAllocSize: 1 << i, MaxByteSliceSize: 1 << i}.Freeze()
	})
	return c.api
}

// checkFraming checks that every length in an Avro container file's
// framing (the spec's "Object Container Files": the header's metadata map,
// then blocks of a record count, a byte size, the bytes and the 16-byte
// sync marker) lies within data, that its blocks are not compressed, and
// that its schema is the one silt writes (the tables have no other
// writer), so the library never builds a decoder for a schema from the
// bucket. It decodes no records: the library does. Manifests are written
// uncompressed (the null codec, which every reader takes) so that reading
// one back never inflates more than the bytes read.
func checkFraming(data, schema []byte) error {
	errBad := errors.New("malformed Avro container framing")
	if len(data) < 4 || string(data[:4]) != "Obj\x01" {
		return errBad
	}
	pos := 4
	long := func() (int64, bool) {
		u, n := binary.Uvarint(data[pos:])
		if n <= 0 {
			return 0, false
		}
		pos += n
		return int64(u>>1) ^ -int64(u&1), true // zigzag
	}
	skip := func(n int64) bool {
		if n < 0 || n > int64(len(data)-pos) {
			return false
		}
		pos += int(n)
		return true
	}
	// The metadata map: blocks of count entries (a negative count is
	// followed by the block's size), ended by a zero count.
	for {
		count, ok := long()
		if !ok {
			return errBad
		}
		if count == 0 {
			break
		}
		if count < 0 {
			if size, ok := long(); !ok || size < 0 {
				return errBad
			}
			count = -count
		}
		for range count {
			k, ok := long()
			if !ok || !skip(k) {
				return errBad
			}
			key := string(data[pos-int(k) : pos])
			v, ok := long()
			if !ok || !skip(v) {
				return errBad
			}
			val := data[pos-int(v) : pos]
			if key == "avro.codec" && string(val) != "null" {
				return fmt.Errorf("Avro container compressed with %q: silt writes its manifests uncompressed, and a compressed block could inflate without bound", val)
			}
			if key == "avro.schema" && !bytes.Equal(val, schema) {
				return errors.New("Avro container of another schema than silt writes")
			}
		}
	}
	if !skip(16) { // sync
		return errBad
	}
	for pos < len(data) {
		count, ok := long()
		if !ok || count < 0 {
			return errBad
		}
		size, ok := long()
		if !ok || !skip(size) || !skip(16) {
			return errBad
		}
	}
	return nil
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
