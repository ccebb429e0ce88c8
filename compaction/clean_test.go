package compaction_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
)

// modelRecord is a record of the compacted-topic model.
type modelRecord struct {
	offset int64
	key    []byte // nil: a null key
	value  []byte // nil: a tombstone
	ts     time.Time
}

// compactModel is what a compacted partition must hold after cleaning the
// records below end at time now: a record stays if its key is null, or it
// is its key's latest (below end), unless it is a tombstone older than
// deleteRetention. Records at or above end all stay.
func compactModel(all []modelRecord, end int64, now time.Time, deleteRetention time.Duration) []modelRecord {
	latest := map[string]int64{}
	for _, r := range all {
		if r.key != nil && r.offset < end {
			latest[string(r.key)] = r.offset
		}
	}
	var out []modelRecord
	for _, r := range all {
		switch {
		case r.offset >= end || r.key == nil:
		case latest[string(r.key)] != r.offset:
			continue
		case r.value == nil && r.ts.Before(now.Add(-deleteRetention)):
			continue
		}
		out = append(out, r)
	}
	return out
}

// A compacted topic cleaned under a random workload of overwrites,
// tombstones (recent and old) and null keys holds exactly what the model
// says, at the original offsets, as a Kafka consumer reads it, and the
// high watermark does not move. Run with groups of one chunk (so whole
// chunks empty out into empty batches) and with merged groups.
func TestCleanCompactedTopicAgainstModel(t *testing.T) {
	for _, target := range []int64{1, 4 << 10} {
		t.Run(fmt.Sprintf("target=%d", target), func(t *testing.T) {
			c := startCluster(t)
			seeds := c.Seeds()
			const topic = "compacted"
			createTopic(t, seeds, topic, 1, map[string]string{
				"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "3600000",
			})
			ctx := testContext(t, 2*time.Minute)
			cl := newClient(t, seeds, kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.ProducerLinger(0))
			rng := rand.New(rand.NewPCG(1, uint64(target)))
			var all []modelRecord
			// A compacted topic refuses records without a key, as Kafka's
			// does; they reach one written to before it was compacted. So
			// each batch of rounds is produced under cleanup.policy=delete.
			adm := kadm.NewClient(cl)
			setPolicy := func(p string) {
				res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "cleanup.policy", Value: kadm.StringPtr(p)}}, topic)
				if err == nil {
					err = res[0].Err
				}
				if err != nil {
					t.Fatalf("cleanup.policy=%s: %v", p, err)
				}
			}
			produce := func(rounds int) {
				setPolicy("delete")
				defer setPolicy("compact")
				for range rounds {
					var recs []*kgo.Record
					for range 1 + rng.IntN(30) {
						r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", rng.IntN(25)), Value: fmt.Appendf(nil, "v%d", rng.Int64())}
						switch x := rng.IntN(20); {
						case x == 0:
							r.Key = nil
						case x < 3:
							r.Value = nil
							r.Timestamp = time.Now().Add(-2 * time.Hour) // an old tombstone
						case x < 5:
							r.Value = nil
						}
						recs = append(recs, r)
					}
					res := cl.ProduceSync(ctx, recs...)
					if err := res.FirstErr(); err != nil {
						t.Fatal(err)
					}
					for _, r := range res {
						all = append(all, modelRecord{offset: r.Record.Offset, key: r.Record.Key, value: r.Record.Value, ts: r.Record.Timestamp})
					}
				}
			}
			var clk skewClock
			tl := newTool(t, c.Bucket, compaction.Options{MergeTarget: target, MergeWindow: 50 * time.Millisecond, Now: clk.Now})
			check := func(phase string, st compaction.Stats) {
				t.Helper()
				var hw, cleaned int64
				tl.log.View(func(s *journal.State) {
					tp := s.Topic(topic)
					hw, cleaned = tp.Partitions[0].NextOffset, s.Progress(tp.ID, 0).Cleaned
				})
				if hw != int64(len(all)) {
					t.Fatalf("%s: high watermark %d, produced %d", phase, hw, len(all))
				}
				want := compactModel(all, cleaned, time.Now(), time.Hour)
				waitFor(t, 10*time.Second, "the agent to see the cleaned chunks", func() bool {
					got := readAll(t, seeds, topic)[0]
					return len(got) == len(want)
				})
				got := readAll(t, seeds, topic)[0]
				for i := range want {
					g := got[i]
					if g.Offset != want[i].offset || !sameBytes(g.Key, want[i].key) || !sameBytes(g.Value, want[i].value) {
						t.Fatalf("%s: record %d: %d %q=%q, want %d %q=%q", phase, i, g.Offset, g.Key, g.Value, want[i].offset, want[i].key, want[i].value)
					}
				}
				t.Logf("%s: %d of %d records kept (cleaned below %d); pass %+v", phase, len(want), len(all), cleaned, st)
			}
			produce(40)
			clk.Advance(100 * time.Millisecond) // past MergeWindow
			st := tl.runOnce(t)
			if st.CleanedRecords == 0 {
				t.Fatalf("first pass dropped nothing: %+v", st)
			}
			check("first clean", st)

			produce(30)
			clk.Advance(100 * time.Millisecond)
			check("second clean", tl.runOnce(t))

			// Cleaning is idempotent: nothing more to drop.
			if st := tl.runOnce(t); st.CleanedRecords != 0 {
				t.Fatalf("third pass dropped %d records", st.CleanedRecords)
			}
		})
	}
}
