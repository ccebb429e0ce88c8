package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestAgentsRunTheCompactor starts two agents with a quick compactor and
// checks that exactly one of them holds the compactor role, and that it
// does the compactor's work through the cluster: a topic with a short
// retention.ms loses its old records (its log start offset moves), and a
// topic with silt.export=parquet appears under export/ in the bucket.
func TestAgentsRunTheCompactor(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{
		Agents:     2,
		Compaction: true,
		Configure:  func(_ int, cfg *agent.Config) { cfg.CompactionInterval = 200 * time.Millisecond },
	})
	for _, a := range c.Agents {
		waitFor(t, 10*time.Second, func() bool { return len(a.Members()) == 2 })
	}
	compactors := 0
	for _, a := range c.Agents {
		if a.IsCompactor() {
			compactors++
		}
	}
	if compactors != 1 {
		t.Fatalf("%d agents hold the compactor role, want 1", compactors)
	}

	adm := newAdmin(t, c.Seeds())
	retentionMs, export, interval := "1000", "parquet", "1000"
	createTopic(t, adm, "short-lived", 1, map[string]*string{"retention.ms": &retentionMs})
	createTopic(t, adm, "archived", 2, map[string]*string{"silt.export": &export, "silt.export.interval.ms": &interval})
	cl := newClient(t, c.Seeds(), producerOpts()...)
	produceRecords(t, cl, "short-lived", 1, 0, 100)
	produceRecords(t, cl, "archived", 2, 0, 1000)
	time.Sleep(1500 * time.Millisecond) // the first records are now past retention.ms
	produceRecords(t, cl, "short-lived", 1, 100, 100)

	ctx := testContext(t, time.Minute)
	waitFor(t, 30*time.Second, func() bool {
		starts, err := adm.ListStartOffsets(ctx, "short-lived")
		if err != nil {
			return false
		}
		o, ok := starts.Lookup("short-lived", 0)
		return ok && o.Offset > 0
	})
	waitFor(t, 30*time.Second, func() bool { return countObjects(t, c, "export/archived/") > 0 })
}

func countObjects(t *testing.T, c *localstack.Cluster, prefix string) int {
	t.Helper()
	n := 0
	for info, err := range c.Bucket.List(context.Background(), prefix, "") {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(info.Key, ".parquet") {
			n++
		}
	}
	return n
}

// A compacted topic configured to clean quickly (small segment.ms, low
// min.cleanable.dirty.ratio) is cleaned within seconds by the agents' own
// compactor at its defaults, as Kafka's cleaner does it in about 15 s, not
// after the merge window for small objects (10 minutes).
func TestCompactedTopicCleanedWithinSeconds(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{Compaction: true})
	adm := newAdmin(t, c.Seeds())
	segmentMs, ratio, policy := "100", "0.01", "compact"
	createTopic(t, adm, "quick-clean", 1, map[string]*string{
		"cleanup.policy": &policy, "segment.ms": &segmentMs, "min.cleanable.dirty.ratio": &ratio,
	})
	cl := newClient(t, c.Seeds(), producerOpts()...)
	ctx := testContext(t, time.Minute)
	for round := range 20 {
		for k := range 5 {
			r := &kgo.Record{Topic: "quick-clean", Key: []byte{'k', byte('0' + k)}, Value: []byte{byte(round)}}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	// Everything is cleaned once the newest chunks are older than
	// segment.ms: the latest record of each key remains.
	for len(readLog(t, c.Seeds(), "quick-clean")[0]) > 5 {
		if time.Since(start) > 40*time.Second {
			t.Fatalf("not cleaned 40s after the last produce")
		}
		time.Sleep(250 * time.Millisecond) // each look reads the log with new clients
	}
	t.Logf("cleaned %v after the last produce", time.Since(start).Round(100*time.Millisecond))
	for _, r := range readLog(t, c.Seeds(), "quick-clean")[0] {
		if r.Value[0] != 19 {
			t.Errorf("offset %d: key %s value %d kept, want only the latest value of each key", r.Offset, r.Key, r.Value[0])
		}
	}
}
