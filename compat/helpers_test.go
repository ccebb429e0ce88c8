package compat

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// startCluster starts a one-agent cluster for the test. delay is the
// group's initial rebalance delay: long enough that the members a test
// starts together land in one generation, as they would on Kafka (whose
// default is 3 s).
func startCluster(t *testing.T, delay time.Duration) *localstack.Cluster {
	t.Helper()
	return localstacktest.StartT(t, localstack.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.GroupInitialRebalanceDelay = delay
	}})
}

// testContext returns a context that ends after d or when the test ends.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newAdmin returns a kadm client of the cluster, closed when the test ends.
// franz-go is the reference client the others are checked with.
func newAdmin(t testing.TB, c *localstack.Cluster) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates a topic and fails the test if that fails.
func createTopic(t testing.TB, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(testContext(t, 30*time.Second), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// endOffsets returns the high watermark of each of topic's partitions.
func endOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	listed, err := adm.ListEndOffsets(testContext(t, 30*time.Second), topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends
}

// committedOffsets returns the group's committed offset of each of topic's
// partitions that has one.
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resps, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return nil, err
	}
	got := map[int32]int64{}
	resps.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			got[o.Partition] = o.At
		}
	})
	return got, nil
}

// waitCommitted waits up to 15 s for the group's committed offsets of topic
// to be want (the partitions' ends), and fails the test if they are not.
// Clients commit asynchronously, so a first mismatch is no failure.
func waitCommitted(t testing.TB, adm *kadm.Client, group, topic string, want map[int32]int64) {
	t.Helper()
	ctx := testContext(t, 15*time.Second)
	var got map[int32]int64
	var err error
	for {
		got, err = committedOffsets(ctx, adm, group, topic)
		if err == nil && maps.Equal(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s: committed offsets of %s are %v (err %v), want the partition ends %v", group, topic, got, err, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// record is a record as a producer was told it was stored, or as a
// consumer read it.
type record struct {
	partition int32
	offset    int64
	key       string
	value     string
}

// testKey and testValue are the key and value of test record i.
func testKey(i int) string   { return fmt.Sprintf("key-%06d", i) }
func testValue(i int) string { return fmt.Sprintf("value-%06d-%s", i, strings.Repeat("x", i%50)) }

// ledger collects the records that producers were acknowledged or that
// consumers read, in the order they were added, with who added them. It is
// safe for concurrent use.
type ledger struct {
	mu      sync.Mutex
	recs    []record
	members []string // members[i] added recs[i]
	changed chan struct{}
}

func newLedger() *ledger { return &ledger{changed: make(chan struct{}, 1)} }

func (l *ledger) add(member string, r record) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.members = append(l.members, member)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

// byPartition describes the records by partition: how many, the lowest
// and highest offsets, and who added them.
func (l *ledger) byPartition() string {
	type span struct {
		n      int
		lo, hi int64
		adders []string
	}
	recs, members := l.records()
	spans := map[int32]*span{}
	for i, r := range recs {
		s := spans[r.partition]
		if s == nil {
			s = &span{lo: r.offset, hi: r.offset}
			spans[r.partition] = s
		}
		s.n++
		s.lo, s.hi = min(s.lo, r.offset), max(s.hi, r.offset)
		if !slices.Contains(s.adders, members[i]) {
			s.adders = append(s.adders, members[i])
		}
	}
	var b strings.Builder
	for _, p := range slices.Sorted(maps.Keys(spans)) {
		s := spans[p]
		fmt.Fprintf(&b, "[%d: %d records, offsets %d..%d, from %s] ", p, s.n, s.lo, s.hi, strings.Join(s.adders, ","))
	}
	return b.String()
}

// records returns a copy of the records and who added each.
func (l *ledger) records() ([]record, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs), slices.Clone(l.members)
}

// waitFor waits until the ledger holds at least n records, then a little
// longer, so a duplicate delivered just after the last record is seen. It
// fails the test if ctx ends first.
func (l *ledger) waitFor(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for l.len() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("consumed %d of %d records: %v; by partition: %s", l.len(), n, ctx.Err(), l.byPartition())
		case <-l.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond)
}

// checkProduced checks that n records were acknowledged at offsets 0, 1, 2…
// of each partition, as nothing else wrote to the topic, and that the
// partitions' ends say so. It returns the records by key.
func checkProduced(t testing.TB, acked *ledger, n int, ends map[int32]int64) map[string]record {
	t.Helper()
	recs, _ := acked.records()
	if len(recs) != n {
		t.Fatalf("%d records acknowledged, want %d", len(recs), n)
	}
	byKey := make(map[string]record, n)
	offsets := map[int32][]int64{}
	for _, r := range recs {
		if _, dup := byKey[r.key]; dup {
			t.Fatalf("record %s acknowledged twice", r.key)
		}
		byKey[r.key] = r
		offsets[r.partition] = append(offsets[r.partition], r.offset)
	}
	for p, offs := range offsets {
		slices.Sort(offs)
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("partition %d: acknowledged offsets %v, want 0..%d", p, offs, len(offs)-1)
			}
		}
		if ends[p] != int64(len(offs)) {
			t.Errorf("partition %d: end offset %d, but %d records were acknowledged", p, ends[p], len(offs))
		}
	}
	return byKey
}

// checkConsumedOnce checks that the consumers read every produced record
// exactly once, where it was acknowledged and intact, each partition in
// offset order, and nothing else. It returns the partitions each member
// read from.
func checkConsumedOnce(t testing.TB, produced map[string]record, consumed *ledger) map[string][]int32 {
	t.Helper()
	recs, members := consumed.records()
	seen := map[string]int{}
	next := map[int32]int64{} // per partition, the offset expected next
	parts := map[string][]int32{}
	errs := 0
	fail := func(format string, args ...any) {
		if errs++; errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	for i, r := range recs {
		if !slices.Contains(parts[members[i]], r.partition) {
			parts[members[i]] = append(parts[members[i]], r.partition)
		}
		want, ok := produced[r.key]
		switch {
		case !ok:
			fail("%s consumed a record never produced: %+v", members[i], r)
			continue
		case want != r:
			fail("%s consumed %+v, produced %+v", members[i], r, want)
		}
		if seen[r.key]++; seen[r.key] > 1 {
			fail("%s consumed %s (partition %d offset %d) again", members[i], r.key, r.partition, r.offset)
			continue
		}
		if r.offset != next[r.partition] {
			fail("%s consumed partition %d offset %d, expected offset %d next", members[i], r.partition, r.offset, next[r.partition])
		}
		next[r.partition] = r.offset + 1
	}
	for k := range produced {
		if seen[k] == 0 {
			fail("record %s never consumed", k)
		}
	}
	if errs > 10 {
		t.Errorf("… and %d more errors", errs-10)
	}
	for _, ps := range parts {
		slices.Sort(ps)
	}
	return parts
}

// checkMembersShared checks that each of the group's members read from at
// least one partition and that no two read the same one: the group split
// the topic between them.
func checkMembersShared(t testing.TB, parts map[string][]int32, members []string) {
	t.Helper()
	owner := map[int32]string{}
	for _, m := range members {
		if len(parts[m]) == 0 {
			t.Errorf("member %s consumed nothing; partitions read by member: %v", m, parts)
		}
		for _, p := range parts[m] {
			if o, ok := owner[p]; ok {
				t.Errorf("partition %d read by both %s and %s", p, o, m)
			}
			owner[p] = m
		}
	}
}
