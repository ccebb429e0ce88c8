package compaction_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
)

// The Parquet export carries committed records only: an aborted
// transaction's records are left out, and an open transaction holds the
// export back at the last stable offset until it ends.
func TestExportCarriesCommittedRecordsOnly(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "export-txn"
	createTopic(t, seeds, topic, 1, map[string]string{"silt.export": "parquet"})
	ctx := testContext(t, time.Minute)
	p := newClient(t, seeds, kgo.TransactionalID("export-txn"), kgo.DefaultProduceTopic(topic))
	begin := func(values ...string) {
		t.Helper()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := func(commit bool) {
		t.Helper()
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	begin("c1", "c2")
	end(true)
	begin("a1", "a2")
	end(false)
	begin("c3")
	end(true)
	begin("open1")

	tl := newTool(t, c.Bucket, compaction.Options{MergeWindow: time.Hour})
	if _, err := tl.c.ExportNow(ctx, topic); err != nil {
		t.Fatal(err)
	}
	values := func() []string {
		var out []string
		for _, r := range readExport(t, c.Bucket, topic) {
			out = append(out, string(r.Value))
		}
		return out
	}
	if got := values(); len(got) != 3 || got[0] != "c1" || got[1] != "c2" || got[2] != "c3" {
		t.Errorf("exported %q, want the committed c1 c2 c3", got)
	}
	var exported, lso, hwm int64
	tl.log.View(func(s *journal.State) {
		id := s.Topic(topic).ID
		exported, lso, hwm = s.Progress(id, 0).Exported, s.Partition(topic, 0).LastStable(), s.Partition(topic, 0).NextOffset
	})
	if exported != lso || lso >= hwm {
		t.Errorf("exported to %d, last stable offset %d, high watermark %d: want the export at the LSO, below the open transaction", exported, lso, hwm)
	}

	end(true)
	if _, err := tl.c.ExportNow(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if got := values(); len(got) != 4 || got[3] != "open1" {
		t.Errorf("after the commit, exported %q, want c1 c2 c3 open1", got)
	}
}
