package agent

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Fetch response framed around the cached batches is, byte for byte,
// the frame kmsg encodes with the batches copied in, at every version
// served, whatever partitions have batches and in how many pieces.
func TestFetchFrameIsKmsgs(t *testing.T) {
	piece := func(n int, tag byte) []byte { return bytes.Repeat([]byte{tag}, n) }
	for _, layout := range []struct {
		name   string
		pieces [][][][]byte // per topic, per partition
	}{
		{"no batches", [][][][]byte{{nil, nil}}},
		{"one partition, one piece", [][][][]byte{{{piece(100, 'a')}}}},
		{"pieces of chunks", [][][][]byte{{{piece(10, 'a'), piece(200, 'b')}, nil, {piece(70000, 'c')}}}},
		{"several topics", [][][][]byte{{nil, {piece(5, 'd')}}, {{piece(300, 'e'), piece(1, 'f')}}}},
		{"a topic name like a marker", [][][][]byte{{{piece(20, 'g')}}}},
	} {
		for v := int16(4); v <= 16; v++ {
			t.Run(fmt.Sprintf("%s/v%d", layout.name, v), func(t *testing.T) {
				build := func() *fetchResponse {
					f := &fetchResponse{FetchResponse: kmsg.NewPtrFetchResponse()}
					f.SetVersion(v)
					for ti, parts := range layout.pieces {
						st := kmsg.NewFetchResponseTopic()
						st.Topic = fmt.Sprintf("topic-%d", ti)
						if layout.name == "a topic name like a marker" {
							st.Topic = string(fetchMarkerPrefix[:]) + "\x00\x00\x00\x00"
						}
						st.TopicID = [16]byte{byte(ti + 1)}
						for pi, pp := range parts {
							sp := kmsg.NewFetchResponseTopicPartition()
							sp.Partition, sp.HighWatermark = int32(pi), 1000
							sp.RecordBatches = []byte{}
							st.Partitions = append(st.Partitions, sp)
							f.setBatches(ti, pi, pp)
						}
						f.Topics = append(f.Topics, st)
					}
					return f
				}
				req := &request{key: 1, version: v, correlationID: 42}
				want := appendResponse(nil, req, build()) // kmsg's encoding, batches copied in
				got := bytes.Join(build().appendFrame(nil, req), nil)
				if !bytes.Equal(got, want) {
					t.Fatalf("framed %d bytes, kmsg %d; differ", len(got), len(want))
				}
			})
		}
	}
}
