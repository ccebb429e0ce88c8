package iceberg

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// The table's schema, partition spec and name mapping, fixed for every
// topic: the columns of the Parquet export (compaction.ExportRow), which
// are Spark's Kafka-source columns. Field ids 1–11 are the columns, 1000
// and 1001 the partition fields.
const (
	fieldTopic         = 1
	fieldPartition     = 2
	fieldOffset        = 3
	fieldTimestamp     = 4
	fieldTimestampType = 5
	fieldKey           = 6
	fieldValue         = 7
	fieldHeaders       = 8
	lastColumnID       = 11

	specFieldHour      = 1000
	specFieldPartition = 1001
)

// schemaJSON is the table schema (id 0) in the JSON of the spec's
// Appendix C.
const schemaJSON = `{"type":"struct","schema-id":0,"fields":[` +
	`{"id":1,"name":"topic","required":true,"type":"string"},` +
	`{"id":2,"name":"partition","required":true,"type":"int"},` +
	`{"id":3,"name":"offset","required":true,"type":"long"},` +
	`{"id":4,"name":"timestamp","required":true,"type":"timestamptz"},` +
	`{"id":5,"name":"timestamp_type","required":true,"type":"int"},` +
	`{"id":6,"name":"key","required":false,"type":"binary"},` +
	`{"id":7,"name":"value","required":false,"type":"binary"},` +
	`{"id":8,"name":"headers","required":false,"type":{"type":"list","element-id":9,"element-required":true,"element":` +
	`{"type":"struct","fields":[{"id":10,"name":"key","required":true,"type":"string"},` +
	`{"id":11,"name":"value","required":false,"type":"binary"}]}}}]}`

// specFieldsJSON is the fields array of partition spec 0: the hour of the
// record time, then the Kafka partition.
const specFieldsJSON = `[{"name":"timestamp_hour","transform":"hour","source-id":4,"field-id":1000},` +
	`{"name":"partition","transform":"identity","source-id":2,"field-id":1001}]`

// nameMappingJSON maps the export's Parquet column names to field ids
// (table property schema.name-mapping.default): the export writes no field
// ids into its Parquet files, which Spark's plain Parquet reader, DuckDB
// and files exported before the tables existed share.
const nameMappingJSON = `[{"field-id":1,"names":["topic"]},{"field-id":2,"names":["partition"]},` +
	`{"field-id":3,"names":["offset"]},{"field-id":4,"names":["timestamp"]},` +
	`{"field-id":5,"names":["timestamp_type"]},{"field-id":6,"names":["key"]},{"field-id":7,"names":["value"]},` +
	`{"field-id":8,"names":["headers"],"fields":[{"field-id":9,"names":["element"],"fields":` +
	`[{"field-id":10,"names":["key"]},{"field-id":11,"names":["value"]}]}]}]`

// The Avro schemas of manifests and manifest lists, written from the
// spec's tables (format v2): every field carries its field-id, optional
// fields are unions with null, and maps with int keys are arrays of
// key/value records marked logicalType map, as the spec's Avro mapping
// says.
var (
	manifestEntrySchema = avro.MustParse(`{"type":"record","name":"manifest_entry","fields":[
	{"name":"status","type":"int","field-id":0},
	{"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1},
	{"name":"sequence_number","type":["null","long"],"default":null,"field-id":3},
	{"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4},
	{"name":"data_file","field-id":2,"type":{"type":"record","name":"r2","fields":[
		{"name":"content","type":"int","field-id":134},
		{"name":"file_path","type":"string","field-id":100},
		{"name":"file_format","type":"string","field-id":101},
		{"name":"partition","field-id":102,"type":{"type":"record","name":"r102","fields":[
			{"name":"timestamp_hour","type":["null","int"],"default":null,"field-id":1000},
			{"name":"partition","type":["null","int"],"default":null,"field-id":1001}]}},
		{"name":"record_count","type":"long","field-id":103},
		{"name":"file_size_in_bytes","type":"long","field-id":104},
		` + intMap("value_counts", 109, "long") + `,
		` + intMap("null_value_counts", 110, "long") + `,
		` + intMap("lower_bounds", 125, "bytes") + `,
		` + intMap("upper_bounds", 128, "bytes") + `,
		{"name":"split_offsets","default":null,"field-id":132,"type":["null",{"type":"array","element-id":133,"items":"long"}]},
		{"name":"sort_order_id","type":["null","int"],"default":null,"field-id":140}]}}]}`)

	manifestFileSchema = avro.MustParse(`{"type":"record","name":"manifest_file","fields":[
	{"name":"manifest_path","type":"string","field-id":500},
	{"name":"manifest_length","type":"long","field-id":501},
	{"name":"partition_spec_id","type":"int","field-id":502},
	{"name":"content","type":"int","field-id":517},
	{"name":"sequence_number","type":"long","field-id":515},
	{"name":"min_sequence_number","type":"long","field-id":516},
	{"name":"added_snapshot_id","type":"long","field-id":503},
	{"name":"added_files_count","type":"int","field-id":504},
	{"name":"existing_files_count","type":"int","field-id":505},
	{"name":"deleted_files_count","type":"int","field-id":506},
	{"name":"added_rows_count","type":"long","field-id":512},
	{"name":"existing_rows_count","type":"long","field-id":513},
	{"name":"deleted_rows_count","type":"long","field-id":514},
	{"name":"partitions","default":null,"field-id":507,"type":["null",{"type":"array","element-id":508,"items":
		{"type":"record","name":"r508","fields":[
			{"name":"contains_null","type":"boolean","field-id":509},
			{"name":"contains_nan","type":["null","boolean"],"default":null,"field-id":518},
			{"name":"lower_bound","type":["null","bytes"],"default":null,"field-id":510},
			{"name":"upper_bound","type":["null","bytes"],"default":null,"field-id":511}]}}]}]}`)
)

// intMap returns the Avro field of an optional map<int, valueType> with
// field id id, whose key and value ids follow the spec's numbering (a map
// with id n has key and value ids fixed by the spec; see mapIDs).
func intMap(name string, id int, valueType string) string {
	k, v := mapIDs[id][0], mapIDs[id][1]
	return fmt.Sprintf(`{"name":%q,"default":null,"field-id":%d,"type":["null",{"type":"array","logicalType":"map","items":`+
		`{"type":"record","name":"k%d_v%d","fields":[{"name":"key","type":"int","field-id":%d},`+
		`{"name":"value","type":%q,"field-id":%d}]}}]}`, name, id, k, v, k, valueType, v)
}

// mapIDs are the key and value field ids of data_file's metric maps.
var mapIDs = map[int][2]int{109: {119, 120}, 110: {121, 122}, 125: {126, 127}, 128: {129, 130}}

// intLong and intBytes are the entries of the spec's map<int, long> and
// map<int, binary>.
type intLong struct {
	Key   int32 `avro:"key"`
	Value int64 `avro:"value"`
}

type intBytes struct {
	Key   int32  `avro:"key"`
	Value []byte `avro:"value"`
}

// manifestEntry is one row of a manifest (manifestEntrySchema).
type manifestEntry struct {
	Status             int32    `avro:"status"` // 0 existing, 1 added, 2 deleted
	SnapshotID         *int64   `avro:"snapshot_id"`
	SequenceNumber     *int64   `avro:"sequence_number"`
	FileSequenceNumber *int64   `avro:"file_sequence_number"`
	DataFile           dataFile `avro:"data_file"`
}

// Manifest entry statuses.
const (
	statusExisting = 0
	statusAdded    = 1
	statusDeleted  = 2
)

type dataFile struct {
	Content         int32          `avro:"content"`
	FilePath        string         `avro:"file_path"`
	FileFormat      string         `avro:"file_format"`
	Partition       partitionTuple `avro:"partition"`
	RecordCount     int64          `avro:"record_count"`
	FileSizeInBytes int64          `avro:"file_size_in_bytes"`
	ValueCounts     []intLong      `avro:"value_counts"`
	NullValueCounts []intLong      `avro:"null_value_counts"`
	LowerBounds     []intBytes     `avro:"lower_bounds"`
	UpperBounds     []intBytes     `avro:"upper_bounds"`
	SplitOffsets    []int64        `avro:"split_offsets"`
	SortOrderID     *int32         `avro:"sort_order_id"`
}

type partitionTuple struct {
	TimestampHour *int32 `avro:"timestamp_hour"`
	Partition     *int32 `avro:"partition"`
}

// manifestFile is one row of a manifest list (manifestFileSchema).
type manifestFile struct {
	ManifestPath       string         `avro:"manifest_path"`
	ManifestLength     int64          `avro:"manifest_length"`
	PartitionSpecID    int32          `avro:"partition_spec_id"`
	Content            int32          `avro:"content"`
	SequenceNumber     int64          `avro:"sequence_number"`
	MinSequenceNumber  int64          `avro:"min_sequence_number"`
	AddedSnapshotID    int64          `avro:"added_snapshot_id"`
	AddedFilesCount    int32          `avro:"added_files_count"`
	ExistingFilesCount int32          `avro:"existing_files_count"`
	DeletedFilesCount  int32          `avro:"deleted_files_count"`
	AddedRowsCount     int64          `avro:"added_rows_count"`
	ExistingRowsCount  int64          `avro:"existing_rows_count"`
	DeletedRowsCount   int64          `avro:"deleted_rows_count"`
	Partitions         []fieldSummary `avro:"partitions"`
}

type fieldSummary struct {
	ContainsNull bool   `avro:"contains_null"`
	ContainsNaN  *bool  `avro:"contains_nan"`
	LowerBound   []byte `avro:"lower_bound"`
	UpperBound   []byte `avro:"upper_bound"`
}
