package e2e

import (
	"crypto/rand"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestAdmin drives the admin APIs through kadm, the admin client Kafka
// tools in Go are built on, against one agent in process: each subtest
// specifies one group of APIs and works on topics of its own.
func TestAdmin(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{
		Configure: func(_ int, cfg *agent.Config) { cfg.DefaultPartitions = 2 },
	})
	seeds := c.Seeds()
	admClient := newClient(t, seeds)
	adm := kadm.NewClient(admClient)
	ctx := testContext(t, 2*time.Minute)
	str := func(s string) *string { return &s }

	t.Run("create list describe delete topics", func(t *testing.T) {
		created, err := adm.CreateTopics(ctx, 3, 1, map[string]*string{"retention.ms": str("3600000")}, "adm-a", "adm-b")
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{"adm-a", "adm-b"} {
			r := created[topic]
			if r.Err != nil || r.NumPartitions != 3 || r.ID == (kadm.TopicID{}) {
				t.Errorf("create %s: err %v, %d partitions, id %v; want 3 partitions and an id", topic, r.Err, r.NumPartitions, r.ID)
			}
		}
		// NumPartitions -1 leaves the count to the broker (2 here).
		if r, err := adm.CreateTopic(ctx, -1, -1, nil, "adm-default"); err != nil || r.Err != nil || r.NumPartitions != 2 {
			t.Errorf("create with the default partition count: %v %v, %d partitions; want 2", err, r.Err, r.NumPartitions)
		}
		for topic, want := range map[string]error{"adm-a": kerr.TopicAlreadyExists, "bad/name": kerr.InvalidTopicException} {
			if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); !errors.Is(err, want) {
				t.Errorf("create %s: %v; want %v", topic, err, want)
			}
		}
		if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.config": str("1")}, "adm-bad-config"); !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("create with an unknown config: %v; want %v", err, kerr.InvalidConfig)
		}

		listed, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for topic, parts := range map[string]int{"adm-a": 3, "adm-b": 3, "adm-default": 2} {
			td, ok := listed[topic]
			if !ok || td.Err != nil || len(td.Partitions) != parts || td.ID != created[topic].ID && created[topic].ID != (kadm.TopicID{}) {
				t.Errorf("list: %s = %+v; want %d partitions and the id it was created with", topic, td, parts)
			}
			for p, pd := range td.Partitions {
				if pd.Leader < 0 || pd.Err != nil {
					t.Errorf("list: %s[%d] has leader %d, error %v", topic, p, pd.Leader, pd.Err)
				}
			}
		}
		if _, ok := listed["adm-bad-config"]; ok {
			t.Errorf("list: a topic whose creation failed exists")
		}

		deleted, err := adm.DeleteTopics(ctx, "adm-b")
		if err != nil || deleted["adm-b"].Err != nil {
			t.Fatalf("delete adm-b: %v %v", err, deleted["adm-b"].Err)
		}
		// kadm would list from the client's metadata cache; ask the agent.
		meta, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, admClient)
		if err != nil {
			t.Fatal(err)
		}
		for _, mt := range meta.Topics {
			if *mt.Topic == "adm-b" {
				t.Errorf("adm-b is still listed after its deletion")
			}
		}
		if deleted, err := adm.DeleteTopics(ctx, "adm-b"); err != nil || !errors.Is(deleted["adm-b"].Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("delete adm-b again: %v %v; want %v", err, deleted["adm-b"].Err, kerr.UnknownTopicOrPartition)
		}
	})

	t.Run("create partitions", func(t *testing.T) {
		createTopic(t, adm, "adm-grow", 2, nil)
		if r, err := adm.CreatePartitions(ctx, 3, "adm-grow"); err != nil || r["adm-grow"].Err != nil {
			t.Fatalf("add 3 partitions: %v %v", err, r["adm-grow"].Err)
		}
		if r, err := adm.UpdatePartitions(ctx, 4, "adm-grow"); err != nil || !errors.Is(r["adm-grow"].Err, kerr.InvalidPartitions) {
			t.Errorf("shrink to 4 partitions: %v %v; want %v", err, r["adm-grow"].Err, kerr.InvalidPartitions)
		}
		listed, err := adm.ListTopics(ctx, "adm-grow")
		if err != nil || len(listed["adm-grow"].Partitions) != 5 {
			t.Fatalf("after growing: %v, %d partitions; want 5", err, len(listed["adm-grow"].Partitions))
		}
		// The new partitions take records like the old ones.
		cl := newClient(t, seeds, producerOpts()...)
		acks := produceRecords(t, cl, "adm-grow", 5, 0, 50)
		checkLogMatchesAcks(t, readLog(t, seeds, "adm-grow"), acks)
	})

	t.Run("describe and alter configs", func(t *testing.T) {
		createTopic(t, adm, "adm-config", 1, map[string]*string{"retention.ms": str("3600000")})
		describe := func() map[string]kadm.Config {
			t.Helper()
			rcs, err := adm.DescribeTopicConfigs(ctx, "adm-config")
			if err == nil && len(rcs) == 1 {
				err = rcs[0].Err
			}
			if err != nil {
				t.Fatalf("describe configs: %v", err)
			}
			m := map[string]kadm.Config{}
			for _, c := range rcs[0].Configs {
				m[c.Key] = c
			}
			return m
		}
		check := func(key, value string, source kmsg.ConfigSource) {
			t.Helper()
			c, ok := describe()[key]
			if !ok || c.Value == nil || *c.Value != value || c.Source != source {
				t.Errorf("%s = %v (source %v); want %s (source %v)", key, c.MaybeValue(), c.Source, value, source)
			}
		}
		check("retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
		check("cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)

		alters := []struct{ key, value string }{
			{"retention.ms", "86400000"},
			{"retention.bytes", "1073741824"},
			{"max.message.bytes", "2048"},
			{"cleanup.policy", "compact"},
		}
		var set []kadm.AlterConfig
		for _, a := range alters {
			set = append(set, kadm.AlterConfig{Op: kadm.SetConfig, Name: a.key, Value: str(a.value)})
		}
		if r, err := adm.AlterTopicConfigs(ctx, set, "adm-config"); err != nil || r[0].Err != nil {
			t.Fatalf("alter configs: %v %v", err, r[0].Err)
		}
		for _, a := range alters {
			check(a.key, a.value, kmsg.ConfigSourceDynamicTopicConfig)
		}

		// The new max.message.bytes is enforced, not only stored. The
		// limit is on the batch as sent, compressed or not, so the value
		// is random: it does not compress below the limit.
		cl := newClient(t, seeds, kgo.DefaultProduceTopic("adm-config"))
		value := make([]byte, 4096)
		rand.Read(value)
		big := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr()
		if !errors.Is(big, kerr.MessageTooLarge) {
			t.Errorf("produce 4 KiB to a topic with max.message.bytes 2048: %v; want %v", big, kerr.MessageTooLarge)
		}

		del := []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.bytes"}}
		if r, err := adm.AlterTopicConfigs(ctx, del, "adm-config"); err != nil || r[0].Err != nil {
			t.Fatalf("delete retention.bytes: %v %v", err, r[0].Err)
		}
		check("retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig)

		for _, bad := range []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "no.such.config", Value: str("1")},
			{Op: kadm.SetConfig, Name: "retention.ms", Value: str("soon")},
			{Op: kadm.SetConfig, Name: "cleanup.policy", Value: str("shred")},
		} {
			// The bad config comes with a good one: the request is refused
			// whole, so the good one is not applied either.
			req := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: str("1000")}, bad}
			r, err := adm.AlterTopicConfigs(ctx, req, "adm-config")
			if err != nil || !errors.Is(r[0].Err, kerr.InvalidConfig) {
				t.Errorf("set %s=%s: %v %v; want %v", bad.Name, *bad.Value, err, r[0].Err, kerr.InvalidConfig)
			}
			check("retention.ms", "86400000", kmsg.ConfigSourceDynamicTopicConfig)
		}
	})

	t.Run("delete records", func(t *testing.T) {
		createTopic(t, adm, "adm-trim", 1, nil)
		cl := newClient(t, seeds, producerOpts(kgo.ProducerLinger(0))...)
		// Several produces make several batches, so the new start falls
		// inside the log rather than on its first batch.
		for i := 0; i < 100; i += 10 {
			produceRecords(t, cl, "adm-trim", 1, i, 10)
		}
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "adm-trim", Partition: 0, At: 45})
		deleted, err := adm.DeleteRecords(ctx, os)
		if r, _ := deleted.Lookup("adm-trim", 0); err != nil || r.Err != nil || r.LowWatermark != 45 {
			t.Fatalf("delete records below 45: %v %v, low watermark %d", err, r.Err, r.LowWatermark)
		}
		starts, err := adm.ListStartOffsets(ctx, "adm-trim")
		if o, _ := starts.Lookup("adm-trim", 0); err != nil || o.Offset != 45 {
			t.Errorf("earliest offset after deleting below 45: %v %d", err, o.Offset)
		}
		for offset, want := range map[int64]error{10: kerr.OffsetOutOfRange, 44: kerr.OffsetOutOfRange, 45: nil, 99: nil, 100: nil, 101: kerr.OffsetOutOfRange} {
			if err := fetchError(t, admClient, "adm-trim", offset); err != want {
				t.Errorf("fetch at offset %d: %v; want %v", offset, err, want)
			}
		}
		// A consumer starting at the beginning starts at 45.
		log := readLog(t, seeds, "adm-trim")
		if recs := log[0]; len(recs) != 55 || recs[0].Offset != 45 {
			t.Errorf("read from the start after deleting below 45: %d records from offset %d; want 55 from 45", len(recs), recs[0].Offset)
		}
		os = kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "adm-trim", Partition: 0, At: 500})
		deleted, err = adm.DeleteRecords(ctx, os)
		if r, _ := deleted.Lookup("adm-trim", 0); err != nil || !errors.Is(r.Err, kerr.OffsetOutOfRange) {
			t.Errorf("delete records below 500, past the end: %v %v; want %v", err, r.Err, kerr.OffsetOutOfRange)
		}
	})

	t.Run("list offsets", func(t *testing.T) {
		const topic = "adm-time"
		createTopic(t, adm, topic, 1, nil)
		cl := newClient(t, seeds, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
		lookup := func(listed kadm.ListedOffsets, err error) kadm.ListedOffset {
			t.Helper()
			o, ok := listed.Lookup(topic, 0)
			if err != nil || !ok || o.Err != nil {
				t.Fatalf("list offsets: %v, %v", err, o.Err)
			}
			return o
		}
		type at struct{ millis, offset int64 }
		// Each phase changes the log, then lists: earliest, latest, the
		// record with the largest timestamp (offset -1 when there is
		// none), and for each time the first offset whose timestamp is at
		// or after it, in offset order as Kafka's time index answers (kadm
		// turns "none" into the end offset).
		phases := []struct {
			name         string
			change       func(t *testing.T)
			start, end   int64
			maxAt, maxTS int64
			after        []at
		}{
			{
				name: "empty", change: func(*testing.T) {},
				start: 0, end: 0, maxAt: -1, maxTS: -1,
				after: []at{{0, 0}},
			},
			{
				// Timestamps out of order, as producers may write them: one
				// produce per record but the last three, so most records
				// are chunks of their own and the last three share a batch.
				name: "produced",
				change: func(t *testing.T) {
					stamps := []int64{1000, 2000, 3000, 9000, 4000, 5000, 6000, 9500, 8000}
					var rs []*kgo.Record
					for i, ts := range stamps {
						rs = append(rs, &kgo.Record{Value: []byte{byte(i)}, Timestamp: time.UnixMilli(ts)})
					}
					for _, r := range rs[:6] {
						if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
							t.Fatal(err)
						}
					}
					if err := cl.ProduceSync(ctx, rs[6:]...).FirstErr(); err != nil {
						t.Fatal(err)
					}
				},
				start: 0, end: 9, maxAt: 7, maxTS: 9500,
				// 4500: 9000 at offset 3 comes before 5000 at offset 5.
				after: []at{{0, 0}, {1000, 0}, {2500, 2}, {3000, 2}, {4500, 3}, {9000, 3}, {9001, 7}, {9500, 7}, {9501, 9}},
			},
			{
				name:   "deleted below 7, inside the last batch",
				change: func(t *testing.T) { deleteRecords(t, adm, topic, 7) },
				start:  7, end: 9, maxAt: 7, maxTS: 9500,
				after: []at{{0, 7}, {6500, 7}, {9500, 7}, {9501, 9}},
			},
			{
				name:   "deleted below 8, past the largest timestamp",
				change: func(t *testing.T) { deleteRecords(t, adm, topic, 8) },
				start:  8, end: 9, maxAt: 8, maxTS: 8000,
				after: []at{{0, 8}, {8000, 8}, {8001, 9}},
			},
			{
				// The trimmed batch still says it reaches 9500; the answer
				// for 9000 lies six chunks further on.
				name: "produced after the trim",
				change: func(t *testing.T) {
					for _, ts := range []int64{100, 200, 300, 400, 500, 600, 9700} {
						if err := cl.ProduceSync(ctx, &kgo.Record{Timestamp: time.UnixMilli(ts)}).FirstErr(); err != nil {
							t.Fatal(err)
						}
					}
				},
				start: 8, end: 16, maxAt: 15, maxTS: 9700,
				after: []at{{150, 8}, {8000, 8}, {8001, 15}, {9000, 15}, {9700, 15}, {9701, 16}},
			},
		}
		for _, ph := range phases {
			t.Run(ph.name, func(t *testing.T) {
				ph.change(t)
				if o := lookup(adm.ListStartOffsets(ctx, topic)); o.Offset != ph.start {
					t.Errorf("earliest: %d, want %d", o.Offset, ph.start)
				}
				if o := lookup(adm.ListEndOffsets(ctx, topic)); o.Offset != ph.end {
					t.Errorf("latest: %d, want %d", o.Offset, ph.end)
				}
				if o := lookup(adm.ListMaxTimestampOffsets(ctx, topic)); o.Offset != ph.maxAt || o.Timestamp != ph.maxTS {
					t.Errorf("max timestamp: offset %d at %d, want %d at %d", o.Offset, o.Timestamp, ph.maxAt, ph.maxTS)
				}
				for _, a := range ph.after {
					if o := lookup(adm.ListOffsetsAfterMilli(ctx, a.millis, topic)); o.Offset != a.offset {
						t.Errorf("first offset at or after %dms: %d, want %d", a.millis, o.Offset, a.offset)
					}
				}
			})
		}
	})

	t.Run("describe cluster", func(t *testing.T) {
		req := kmsg.NewPtrDescribeClusterRequest()
		resp, err := req.RequestWith(ctx, admClient)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			t.Fatalf("describe cluster: %v", err)
		}
		meta, err := adm.BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case resp.ClusterID == "" || resp.ClusterID != meta.Cluster:
			t.Errorf("cluster id %q; metadata says %q", resp.ClusterID, meta.Cluster)
		case len(resp.Brokers) != 1:
			t.Errorf("%d brokers, want 1", len(resp.Brokers))
		case resp.ControllerID != resp.Brokers[0].NodeID || resp.Brokers[0].NodeID != c.Agents[0].NodeID():
			t.Errorf("controller %d, broker %d; want both the agent's node id %d", resp.ControllerID, resp.Brokers[0].NodeID, c.Agents[0].NodeID())
		case net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(resp.Brokers[0].Port))) != seeds[0]:
			t.Errorf("broker at %s:%d, want %s", resp.Brokers[0].Host, resp.Brokers[0].Port, seeds[0])
		}
	})
}

// fetchError fetches partition 0 of topic at offset and returns its error,
// or nil. kgo sends the newest version both sides know, which names the
// topic by id.
func fetchError(t testing.TB, cl *kgo.Client, topic string, offset int64) error {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	listed, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil || listed[topic].Err != nil {
		t.Fatalf("metadata of %s: %v %v", topic, err, listed[topic].Err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 100, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, listed[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch %s at %d: %v", topic, offset, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s at %d: %d topics in the response", topic, offset, len(resp.Topics))
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// deleteRecords deletes the records of partition 0 of topic below offset.
func deleteRecords(t testing.TB, adm *kadm.Client, topic string, offset int64) {
	t.Helper()
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: offset})
	deleted, err := adm.DeleteRecords(testContext(t, 10*time.Second), os)
	if r, _ := deleted.Lookup(topic, 0); err != nil || r.Err != nil || r.LowWatermark != offset {
		t.Fatalf("delete records of %s below %d: %v %v, low watermark %d", topic, offset, err, r.Err, r.LowWatermark)
	}
}
