package e2e

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// startStrictAgent starts an agent in process that does not create topics
// on use, with topic "good" (2 partitions) and topic "small"
// (max.message.bytes 1024), and returns its address and a kgo client that
// produces to and consumes from "good".
func startStrictAgent(t *testing.T) (string, *kgo.Client) {
	t.Helper()
	c := localstacktest.StartT(t, localstack.Options{
		Configure: func(_ int, cfg *agent.Config) { cfg.AutoCreateTopics = false },
	})
	seeds := c.Seeds()
	adm := newAdmin(t, seeds)
	createTopic(t, adm, "good", 2, nil)
	small := "1024"
	createTopic(t, adm, "small", 1, map[string]*string{"max.message.bytes": &small})
	cl := newClient(t, seeds, kgo.DefaultProduceTopic("good"), kgo.ConsumeTopics("good"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	return seeds[0], cl
}

// checkServing produces one record with cl and consumes it back: the agent
// still does its job for well-behaved clients.
func checkServing(t *testing.T, cl *kgo.Client, value string) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("a good client cannot produce any more: %v", err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("a good client did not get its record %q back: %v", value, err)
		}
		found := false
		fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == value })
		if found {
			return
		}
	}
}

// TestMalformedFrames sends what no Kafka client would: each case's bytes
// on a connection of its own. The agent closes that connection without an
// answer, while another connection opened before it and a kgo client
// carry on as if nothing happened.
func TestMalformedFrames(t *testing.T) {
	t.Parallel()
	addr, cl := startStrictAgent(t)
	bystander := dialRaw(t, addr)
	bystander.roundTrip(kmsg.NewPtrApiVersionsRequest())

	header := func(key, version int16, corr int32) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		return binary.BigEndian.AppendUint32(b, uint32(corr))
	}
	sized := func(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }
	metadata := frame(metadataRequest("good"), 1)

	cases := []struct {
		name  string
		bytes []byte
		// closeWrite: the client then closes its side, so the agent reads
		// an early end of stream.
		closeWrite bool
	}{
		{name: "frame of 200 MiB", bytes: append(binary.BigEndian.AppendUint32(nil, 200<<20), make([]byte, 64)...)},
		{name: "negative frame size", bytes: append(binary.BigEndian.AppendUint32(nil, 0xffffffff), make([]byte, 64)...)},
		{name: "garbage: an HTTP request", bytes: []byte("GET / HTTP/1.1\r\nHost: silt\r\n\r\n")},
		{name: "garbage: a small frame of 0xff", bytes: sized([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
		{name: "header shorter than key, version and correlation id", bytes: sized([]byte{0, 18, 0, 3, 0, 0})},
		{name: "header without client id", bytes: sized(header(kmsg.ApiVersions.Int16(), 3, 1))},
		{name: "client id longer than the frame", bytes: sized(append(header(kmsg.ApiVersions.Int16(), 3, 1), 0, 100, 'x'))},
		{name: "body cut short", bytes: sized(metadata[4 : len(metadata)-3])},
		{name: "unknown API key", bytes: sized(append(header(9999, 0, 1), 0, 0))},
		{name: "unsupported version", bytes: sized(append(header(kmsg.Produce.Int16(), 99, 1), 0, 0))},
		{name: "frame cut short by the client", bytes: metadata[:len(metadata)-5], closeWrite: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.write(tc.bytes)
			if tc.closeWrite {
				c.conn.(*net.TCPConn).CloseWrite()
			}
			c.expectClosed()
			bystander.roundTrip(kmsg.NewPtrApiVersionsRequest())
			checkServing(t, cl, "after: "+tc.name)
		})
	}
}

// TestProduceErrors sends produce requests that a broker must refuse, over
// one raw connection, and checks each partition's error code: the refusal
// is per partition (a good partition in the same request is appended), the
// connection stays open, and the agent keeps serving everyone.
func TestProduceErrors(t *testing.T) {
	t.Parallel()
	addr, cl := startStrictAgent(t)
	c := dialRaw(t, addr)

	good := func() []byte { return encodeBatch(t, 3, 10) }
	corrupt := func() []byte {
		b := good()
		b[len(b)-1] ^= 0x55 // inside the last record: the CRC no longer matches
		return b
	}
	type part struct {
		partition int32
		batch     []byte
		want      error // nil: appended
	}
	cases := []struct {
		name  string
		topic string
		parts []part
	}{
		{"corrupt CRC beside a good partition", "good", []part{
			{0, corrupt(), kerr.CorruptMessage},
			{1, good(), nil},
		}},
		{"batch over the topic's max.message.bytes", "small", []part{{0, encodeBatch(t, 1, 4096), kerr.MessageTooLarge}}},
		{"batch within the topic's max.message.bytes", "small", []part{{0, encodeBatch(t, 1, 100), nil}}},
		{"unknown topic, auto-creation off", "no-such-topic", []part{{0, good(), kerr.UnknownTopicOrPartition}}},
		{"unknown partition", "good", []part{{7, good(), kerr.UnknownTopicOrPartition}}},
		{"invalid topic name", "bad/name", []part{{0, good(), kerr.InvalidTopicException}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := produceRequest(tc.topic, 0, nil, 10*time.Second)
			req.Topics[0].Partitions = nil
			for _, p := range tc.parts {
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Partition, rp.Records = p.partition, p.batch
				req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
			}
			resp := c.roundTrip(req).(*kmsg.ProduceResponse)
			got := map[int32]kmsg.ProduceResponseTopicPartition{}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					got[rp.Partition] = rp
				}
			}
			for _, p := range tc.parts {
				rp, ok := got[p.partition]
				switch err := kerr.ErrorForCode(rp.ErrorCode); {
				case !ok:
					t.Errorf("partition %d missing from the response", p.partition)
				case err != p.want:
					t.Errorf("partition %d: %v, want %v", p.partition, err, p.want)
				case p.want == nil && rp.BaseOffset < 0:
					t.Errorf("partition %d: appended at offset %d", p.partition, rp.BaseOffset)
				}
			}
			c.roundTrip(kmsg.NewPtrApiVersionsRequest()) // the connection is still open
		})
	}

	t.Run("metadata of unknown and invalid topics", func(t *testing.T) {
		for topic, want := range map[string]error{
			"no-such-topic": kerr.UnknownTopicOrPartition,
			"bad/name":      kerr.InvalidTopicException,
			"good":          nil,
		} {
			resp := c.roundTrip(metadataRequest(topic)).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 {
				t.Errorf("metadata of %q: %d topics in the response", topic, len(resp.Topics))
				continue
			}
			if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != want {
				t.Errorf("metadata of %q: %v, want %v", topic, err, want)
			}
		}
	})
	checkServing(t, cl, "after the refused produces")
}
