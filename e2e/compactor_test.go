package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

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
