package compaction_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/objstore"
)

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startCluster starts one in-process agent on a file bucket. Its own
// compactor is off (localstack's default): the tests run the compactor under
// test themselves. configure adjusts the agent more.
func startCluster(t *testing.T, configure ...func(*agent.Config)) *localstack.Cluster {
	return localstacktest.StartT(t, localstack.Options{Configure: func(_ int, cfg *agent.Config) {
		for _, f := range configure {
			f(cfg)
		}
	}})
}

func newClient(t testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, seeds []string, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, seeds))
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := adm.CreateTopic(testContext(t, 30*time.Second), partitions, 1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// tool is a compactor run as `silt compact` runs it: its own journal Log
// and Committer on the cluster's bucket, beside the agents.
type tool struct {
	log       *journal.Log
	committer *journal.Committer
	c         *compaction.Compactor
}

// skewClock is the wall clock moved forward by Advance. Journal entries
// carry their writers' real times, and the compactor compares them with its
// clock (merge windows, grace periods), so a test steps past a window by
// advancing the compactor's clock instead of sleeping through it.
type skewClock struct{ skew atomic.Int64 }

func (c *skewClock) Now() time.Time          { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *skewClock) Advance(d time.Duration) { c.skew.Add(int64(d)) }

func newTool(t testing.TB, bucket objstore.Bucket, opts compaction.Options) *tool {
	t.Helper()
	ctx := testContext(t, time.Minute)
	l, err := journal.Open(ctx, bucket, journal.Options{WriterID: "compactor", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cm := journal.NewCommitter(l, journal.CommitterOptions{})
	t.Cleanup(func() { cm.Close() })
	if opts.Logger == nil {
		opts.Logger = localstacktest.TestLogger(t)
	}
	return &tool{log: l, committer: cm, c: compaction.New(bucket, l, compaction.CommitterProposer(cm), opts)}
}

func (tl *tool) runOnce(t testing.TB) compaction.Stats {
	t.Helper()
	st, err := tl.c.RunOnce(testContext(t, 2*time.Minute))
	if err != nil {
		t.Fatalf("compaction pass: %v", err)
	}
	return st
}

// record is what a test remembers of an acknowledged record.
type record struct {
	partition int32
	offset    int64
	value     string
}

// producer produces numbered records and remembers where each landed.
type producer struct {
	cl    *kgo.Client
	topic string
	mu    sync.Mutex
	acked map[string]record // by value
	err   error
}

func newProducer(t testing.TB, seeds []string, topic string) *producer {
	return &producer{cl: newClient(t, seeds, kgo.ProducerLinger(2*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression())), topic: topic, acked: map[string]record{}}
}

// produce sends records first..first+n-1 with the given timestamp (zero:
// now) and size, and waits for them.
func (p *producer) produce(ctx context.Context, first, n, size int, ts time.Time) error {
	var wg sync.WaitGroup
	for i := first; i < first+n; i++ {
		v := fmt.Sprintf("%08d|", i)
		for len(v) < size {
			v += strconv.Itoa(i % 10)
		}
		r := &kgo.Record{Topic: p.topic, Key: []byte("k" + strconv.Itoa(i%97)), Value: []byte(v), Timestamp: ts}
		wg.Add(1)
		p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				if p.err == nil {
					p.err = err
				}
				return
			}
			p.acked[string(r.Value)] = record{r.Partition, r.Offset, string(r.Value)}
		})
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// byOffset returns the acknowledged records per partition, by offset.
func (p *producer) byOffset() map[int32]map[int64]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int32]map[int64]string{}
	for _, r := range p.acked {
		if out[r.partition] == nil {
			out[r.partition] = map[int64]string{}
		}
		out[r.partition][r.offset] = r.value
	}
	return out
}

// readAll reads every partition of topic from its log start to its high
// watermark as they are now, and returns the records by partition.
func readAll(t testing.TB, seeds []string, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	adm := kadm.NewClient(newClient(t, seeds))
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	out := map[int32][]*kgo.Record{}
	ends.Each(func(o kadm.ListedOffset) {
		s := starts[topic][o.Partition].Offset
		if o.Offset > s {
			want[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().At(s)
		}
	})
	if len(want) == 0 {
		return out
	}
	cl := newClient(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}), kgo.FetchMaxWait(200*time.Millisecond))
	for len(want) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		fs := cl.PollFetches(pctx)
		stalled := pctx.Err() != nil
		cancel()
		if stalled {
			t.Fatalf("read %s stalled; still to read: %v", topic, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("read %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			hw, ok := want[r.Partition]
			if !ok || r.Offset >= hw {
				return
			}
			out[r.Partition] = append(out[r.Partition], r)
			if r.Offset == hw-1 {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

// checkContiguous fails the test unless each partition's records run
// from its first offset without a hole or a repeat, and each record has
// the value it was acknowledged with.
func checkContiguous(t testing.TB, got map[int32][]*kgo.Record, acked map[int32]map[int64]string) {
	t.Helper()
	for p, recs := range got {
		for i, r := range recs {
			if i > 0 && r.Offset != recs[i-1].Offset+1 {
				t.Fatalf("partition %d: offset %d follows %d", p, r.Offset, recs[i-1].Offset)
			}
			if v, ok := acked[p][r.Offset]; ok && v != string(r.Value) {
				t.Fatalf("partition %d offset %d: value %q, acknowledged %q", p, r.Offset, r.Value, v)
			}
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// chunkCount returns the number of chunks of a partition in the state of l.
func chunkCount(t testing.TB, l *journal.Log, topic string, partition int32) int {
	t.Helper()
	if _, err := l.CatchUp(testContext(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	n := -1
	l.View(func(s *journal.State) {
		if p := s.Partition(topic, partition); p != nil {
			n = len(p.Chunks)
		}
	})
	return n
}
