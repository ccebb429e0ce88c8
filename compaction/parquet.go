package compaction

import (
	"bytes"
	"fmt"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/silt-io/silt/iceberg"
)

// ExportRow is one record in the Parquet export. Its columns have the
// names and types of Spark's Kafka source, so a job reading the archive
// and one reading Kafka see the same schema:
//
//	topic           string (UTF8), dictionary encoded
//	partition       int32
//	offset          int64
//	timestamp       timestamp (µs, adjusted to UTC)
//	timestamp_type  int32: 0 CreateTime, 1 LogAppendTime
//	key             binary, optional (null key)
//	value           binary, optional (null: a tombstone)
//	headers         list<struct<key: string, value: binary (optional)>>, optional
//	                (null for a record without headers, as Spark's Kafka source)
type ExportRow struct {
	Topic         string         `parquet:"topic,dict"`
	Partition     int32          `parquet:"partition"`
	Offset        int64          `parquet:"offset,delta"`
	Timestamp     int64          `parquet:"timestamp,delta,timestamp(microsecond:utc)"`
	TimestampType int32          `parquet:"timestamp_type"`
	Key           []byte         `parquet:"key,optional"`
	Value         []byte         `parquet:"value,optional"`
	Headers       []ExportHeader `parquet:"headers,optional,list"`
}

// ExportHeader is one record header in the export.
type ExportHeader struct {
	Key   string `parquet:"key"`
	Value []byte `parquet:"value,optional"`
}

// parquetCodec compresses export pages. The fastest level keeps the export
// above 100 MB/s on one core; archives are read far more than written, but
// the level-3 gain on record values is a few percent.
var parquetCodec = &zstd.Codec{Level: zstd.SpeedFastest}

// parquetFile accumulates one export file in memory.
type parquetFile struct {
	key         string // set when the file is finished
	dir         string // export/<topic>/dt=…/hour=…
	first, last int64
	rows        int64
	// The file's statistics, for its table (iceberg.DataFile).
	minTs, maxTs                    int64
	minTsType, maxTsType            int32
	nullKeys, nullValues, noHeaders int64
	buf                             bytes.Buffer
	w                               *parquet.GenericWriter[ExportRow]
	pending                         []ExportRow
	groupBytes                      int64 // approximate uncompressed bytes in the open row group
	rowGroup                        int64
}

// rowBatch is how many rows are handed to the writer at a time.
const rowBatch = 256

func newParquetFile(dir string, rowGroupBytes int64) *parquetFile {
	f := &parquetFile{dir: dir, first: -1, rowGroup: rowGroupBytes}
	f.w = parquet.NewGenericWriter[ExportRow](&f.buf,
		parquet.Compression(parquetCodec),
		parquet.CreatedBy("silt", "1", ""), // no build id: the same rows give the same bytes
		parquet.PageBufferSize(1<<20),
		parquet.WriteBufferSize(0),
		// Page statistics of 1 KiB byte arrays cost more than they give:
		// nobody filters on value ranges.
		parquet.SkipPageBounds("key"),
		parquet.SkipPageBounds("value"),
	)
	return f
}

// add appends a row; the slices it holds must stay valid and unchanged
// until the file is finished.
func (f *parquetFile) add(r ExportRow, size int64) error {
	if f.first < 0 {
		f.first = r.Offset
		f.minTs, f.maxTs = r.Timestamp, r.Timestamp
		f.minTsType, f.maxTsType = r.TimestampType, r.TimestampType
	}
	f.minTs, f.maxTs = min(f.minTs, r.Timestamp), max(f.maxTs, r.Timestamp)
	f.minTsType, f.maxTsType = min(f.minTsType, r.TimestampType), max(f.maxTsType, r.TimestampType)
	if r.Key == nil {
		f.nullKeys++
	}
	if r.Value == nil {
		f.nullValues++
	}
	if r.Headers == nil {
		f.noHeaders++
	}
	f.last = r.Offset
	f.rows++
	f.pending = append(f.pending, r)
	f.groupBytes += size
	if len(f.pending) >= rowBatch {
		if err := f.flushRows(); err != nil {
			return err
		}
	}
	if f.groupBytes >= f.rowGroup {
		if err := f.flushRows(); err != nil {
			return err
		}
		f.groupBytes = 0
		return f.w.Flush()
	}
	return nil
}

func (f *parquetFile) flushRows() error {
	if len(f.pending) == 0 {
		return nil
	}
	if _, err := f.w.Write(f.pending); err != nil {
		return err
	}
	clear(f.pending)
	f.pending = f.pending[:0]
	return nil
}

// finish closes the file and names it by the offsets it holds.
func (f *parquetFile) finish(partition int32) ([]byte, error) {
	if err := f.flushRows(); err != nil {
		return nil, err
	}
	if err := f.w.Close(); err != nil {
		return nil, err
	}
	f.key = fmt.Sprintf("%s/part-%d-%d-%d.parquet", f.dir, partition, f.first, f.last)
	return f.buf.Bytes(), nil
}

// dataFile describes the finished file, of size bytes, to its table.
func (f *parquetFile) dataFile(partition int32, size int64) iceberg.DataFile {
	return iceberg.DataFile{
		Key: f.key, Size: size, Partition: partition, Hour: iceberg.HourOf(f.minTs / 1000), Records: f.rows,
		FirstOffset: f.first, LastOffset: f.last, MinTimestamp: f.minTs / 1000, MaxTimestamp: f.maxTs / 1000,
		MinTimestampType: f.minTsType, MaxTimestampType: f.maxTsType,
		NullKeys: f.nullKeys, NullValues: f.nullValues, NullHeaders: f.noHeaders,
	}
}

// ExportDir is the key prefix of a topic's export, under the cluster
// prefix.
func ExportDir(topic string) string { return iceberg.ExportDir(topic) }

// hourDir returns the directory of the hour (UTC) holding ts (ms).
func hourDir(topic string, ts int64) string {
	t := time.UnixMilli(ts).UTC()
	return fmt.Sprintf("%sdt=%04d-%02d-%02d/hour=%02d", ExportDir(topic), t.Year(), t.Month(), t.Day(), t.Hour())
}

// hourOf returns the hour (unix ms rounded down) of ts.
func hourOf(ts int64) int64 {
	const hour = 3600 * 1000
	h := ts / hour
	if ts < 0 && ts%hour != 0 {
		h--
	}
	return h * hour
}
