package agent_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/recordbatch"
)

// A produced partition whose bytes are not a record batch is answered with
// Kafka's code for it, and the agent goes on serving the same client.
func TestProduceBadBatchCodes(t *testing.T) {
	ctx, at := startAgent(t, time.Minute)
	if _, err := at.adm.CreateTopic(ctx, 1, 1, nil, "codes"); err != nil {
		t.Fatal(err)
	}
	good, err := recordbatch.Encode(recordbatch.Header{FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, BaseSequence: -1},
		[]recordbatch.Record{{Value: []byte("v"), Timestamp: 1}}, recordbatch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	with := func(at int, v byte) []byte { b := bytes.Clone(good); b[at] = v; return b }
	noise := bytes.Repeat([]byte{0x5a, 0xc3, 0x17, 0xe9}, 32) // Length 0x5ac317e9: far beyond the bytes
	for _, tc := range []struct {
		name    string
		records []byte
		want    int16
	}{
		{"a good batch", good, 0},
		{"noise", noise, kerr.CorruptMessage.Code},
		{"noise with a small length", append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, noise...), kerr.CorruptMessage.Code},
		{"magic 1 (message format v1)", with(16, 1), kerr.InvalidRecord.Code},
		{"magic 0 (message format v0)", with(16, 0), kerr.InvalidRecord.Code},
		{"magic 7: no format", with(16, 7), kerr.CorruptMessage.Code},
		{"bad CRC", with(len(good)-1, good[len(good)-1]^1), kerr.CorruptMessage.Code},
		{"no batch", []byte{}, kerr.InvalidRecord.Code},
		{"a good batch after the bad ones", good, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.Acks, req.TimeoutMillis = 9, -1, 30000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "codes"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = tc.records
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, at.cl)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("response %+v", resp)
			}
			if got := resp.Topics[0].Partitions[0].ErrorCode; got != tc.want {
				t.Errorf("error code %d (%v), want %d (%v)", got, kerr.ErrorForCode(got), tc.want, kerr.ErrorForCode(tc.want))
			}
		})
	}
}
