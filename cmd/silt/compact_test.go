package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// silt export and silt compact --once work on a bucket beside a running
// agent: the export writes Parquet files, and a pass of the compactor
// merges the topic's small chunks, after which silt cat still prints every
// record.
func TestExportAndCompactCommands(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	seeds := c.Seeds()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic = "cli-orders"
	adm := kadm.NewClient(mustClient(t, seeds))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	prod := mustClient(t, seeds)
	start := time.Now()
	for i := range 20 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strings.Repeat("x", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := runExport(ctx, []string{"--bucket", c.BucketURL, "--topic", topic, "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	files := 0
	for info, err := range c.Bucket.List(ctx, compaction.ExportDir(topic), "") {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(info.Key, "/part-0-0-19.parquet") {
			files++
		}
	}
	if files != 1 {
		t.Fatalf("%d files named part-0-0-19.parquet, want 1", files)
	}
	// One merge window spans every chunk the 20 produces uploaded (however
	// slow the machine), and the chunks are that old when compact runs: the
	// run merges them all into one.
	window := time.Since(start).Round(time.Second) + time.Second
	time.Sleep(window - time.Since(start) + 100*time.Millisecond)
	if err := runCompact(ctx, []string{"--bucket", c.BucketURL, "--once", "--merge-window", window.String(), "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	jl, err := journal.Open(ctx, c.Bucket, journal.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	jl.View(func(s *journal.State) {
		if n := len(s.Partition(topic, 0).Chunks); n != 1 {
			t.Errorf("%d chunks after silt compact --once, want 1", n)
		}
	})
	var out bytes.Buffer
	if err := catTopic(ctx, c.Bucket, slog.New(slog.DiscardHandler), catOptions{topic: topic, partition: -1, format: "raw"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 20 {
		t.Fatalf("cat after compaction printed %d records, want 20", n)
	}
}
