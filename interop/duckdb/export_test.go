package duckdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// record i of the test: partition i%3, offset i/3; every 10th a tombstone,
// every 7th without a key, timestamps one second apart over two hours.
var base = time.Date(2025, 6, 1, 11, 30, 0, 0, time.UTC)

func testRecord(topic string, i int) *kgo.Record {
	r := &kgo.Record{
		Topic:     topic,
		Partition: int32(i % 3),
		Key:       []byte("key-" + strconv.Itoa(i)),
		Value:     []byte(fmt.Sprintf(`{"order":%d,"amount":%d}`, i, i*3%101)),
		Timestamp: base.Add(time.Duration(i) * time.Second),
		Headers:   []kgo.RecordHeader{{Key: "source", Value: []byte("test")}},
	}
	if i%10 == 9 {
		r.Value = nil
	}
	if i%7 == 6 {
		r.Key = nil
	}
	return r
}

// DuckDB reads the Parquet export with the types of Spark's Kafka source,
// and finds every produced record: counts and offset ranges per partition,
// and a sample of keys and values.
func TestDuckDBReadsExport(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const topic, n = "orders", 7200
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, map[string]*string{"silt.export": ptr("parquet")}, topic); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 500 {
		var recs []*kgo.Record
		for j := i; j < min(i+500, n); j++ {
			recs = append(recs, testRecord(topic, j))
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	jl, err := journal.Open(ctx, c.Bucket, journal.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cm := journal.NewCommitter(jl, journal.CommitterOptions{})
	defer cm.Close()
	comp := compaction.New(c.Bucket, jl, compaction.CommitterProposer(cm), compaction.Options{Logger: logger, ExportMaxBytes: 64 << 10})
	st, err := comp.ExportNow(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exported %d records in %d files", st.ExportedRecords, st.ExportedFiles)

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files := filepath.Join(c.BucketURL, "export", topic, "*", "*", "*.parquet")
	src := fmt.Sprintf("read_parquet('%s', hive_partitioning = true)", files)

	// The schema: Spark's Kafka source's columns, then the hive keys.
	rows, err := db.QueryContext(ctx, "DESCRIBE SELECT * FROM "+src)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		types[name] = typ
	}
	rows.Close()
	for col, want := range map[string]string{
		"topic": "VARCHAR", "partition": "INTEGER", "offset": "BIGINT", "timestamp": "TIMESTAMP WITH TIME ZONE",
		"timestamp_type": "INTEGER", "key": "BLOB", "value": "BLOB", "headers": `STRUCT("key" VARCHAR, "value" BLOB)[]`,
	} {
		if types[col] != want {
			t.Errorf("column %s: type %q, want %q", col, types[col], want)
		}
	}

	// Counts and offset ranges per partition.
	rows, err = db.QueryContext(ctx, `SELECT partition, count(*), count(DISTINCT "offset"), min("offset"), max("offset"),
		count(*) FILTER (WHERE value IS NULL) FROM `+src+` GROUP BY partition ORDER BY partition`)
	if err != nil {
		t.Fatal(err)
	}
	parts := 0
	for rows.Next() {
		var p int32
		var count, distinct, lo, hi, tombstones int64
		if err := rows.Scan(&p, &count, &distinct, &lo, &hi, &tombstones); err != nil {
			t.Fatal(err)
		}
		parts++
		if count != n/3 || distinct != n/3 || lo != 0 || hi != n/3-1 {
			t.Errorf("partition %d: %d rows, %d distinct offsets from %d to %d; want %d from 0 to %d", p, count, distinct, lo, hi, n/3, n/3-1)
		}
		if tombstones != n/30 {
			t.Errorf("partition %d: %d null values, want %d", p, tombstones, n/30)
		}
	}
	rows.Close()
	if parts != 3 {
		t.Fatalf("%d partitions in the export, want 3", parts)
	}

	// A sample of records, by partition and offset.
	for _, i := range []int{0, 1, 6, 9, 100, 1234, 3599, 3600, 5000, n - 1} {
		want := testRecord(topic, i)
		var key, value []byte
		var ts time.Time
		var hour string
		err := db.QueryRowContext(ctx, `SELECT key, value, "timestamp", hour FROM `+src+` WHERE partition = ? AND "offset" = ?`,
			want.Partition, int64(i/3)).Scan(&key, &value, &ts, &hour)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if string(key) != string(want.Key) || (key == nil) != (want.Key == nil) ||
			string(value) != string(want.Value) || (value == nil) != (want.Value == nil) {
			t.Errorf("record %d: key %q value %q, want %q %q", i, key, value, want.Key, want.Value)
		}
		if !ts.Equal(want.Timestamp) || hour != fmt.Sprintf("%02d", want.Timestamp.UTC().Hour()) {
			t.Errorf("record %d: timestamp %v in hour=%s, want %v", i, ts, hour, want.Timestamp)
		}
	}
}

func ptr(s string) *string { return &s }
