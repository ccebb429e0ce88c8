package e2e

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/recordbatch"
)

// rawConn is a hand-driven Kafka connection: requests framed byte by byte,
// so a test can send what no client library would.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	corr int32
}

// dialRaw opens a raw connection to addr, closed when the test ends.
func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c, r: bufio.NewReader(c)}
}

// write sends bytes as they are.
func (c *rawConn) write(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// frame encodes req as a request frame at req's version: size, header (v1,
// or v2 with tagged fields for flexible versions) and body.
func frame(req kmsg.Request, corr int32) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	client := "silt-e2e"
	b = binary.BigEndian.AppendUint16(b, uint16(len(client)))
	b = append(b, client...)
	if req.IsFlexible() {
		b = append(b, 0) // no header tags
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// send writes req as one frame and returns its correlation id.
func (c *rawConn) send(req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	c.write(frame(req, c.corr))
	return c.corr
}

// roundTrip sends req and reads its response, failing the test if the
// agent does not answer it within 10s.
func (c *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	corr := c.send(req)
	resp := req.ResponseKind()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		c.t.Fatalf("%s: read response: %v", kmsg.NameForKey(req.Key()), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("%s: read response: %v", kmsg.NameForKey(req.Key()), err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		c.t.Fatalf("%s: response correlation id %d, want %d", kmsg.NameForKey(req.Key()), got, corr)
	}
	body = body[4:]
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		body = body[1:] // no header tags are sent
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("%s: decode response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// expectClosed checks that the agent closes the connection within 5s
// without sending anything.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c.r)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.t.Errorf("connection still open after 5s (%d bytes read)", len(b))
	case err != nil && !errors.Is(err, syscall.ECONNRESET):
		c.t.Errorf("reading until the agent closes: %v", err)
	case len(b) > 0:
		c.t.Errorf("agent answered %d bytes before closing: %x", len(b), b)
	}
}

// encodeBatch returns a valid v2 record batch of n small records, as a
// producer without idempotence sends it.
func encodeBatch(t testing.TB, n, valueSize int) []byte {
	t.Helper()
	records := make([]recordbatch.Record, n)
	ts := baseTime.UnixMilli()
	for i := range records {
		records[i] = recordbatch.Record{
			Timestamp: ts + int64(i),
			Key:       fmt.Appendf(nil, "k%d", i),
			Value:     make([]byte, valueSize),
		}
	}
	first, maxTS := recordbatch.TimestampBounds(records)
	b, err := recordbatch.Encode(recordbatch.Header{
		FirstTimestamp: first, MaxTimestamp: maxTS, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
	}, records, recordbatch.CodecNone)
	if err != nil {
		t.Fatalf("encode batch: %v", err)
	}
	return b
}

// produceRequest returns a produce request (v9, flexible) of one batch to
// one partition, acks=all.
func produceRequest(topic string, partition int32, batch []byte, timeout time.Duration) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = int32(timeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// partitionCode returns the error code of the one partition of a produce
// response.
func partitionCode(t testing.TB, resp kmsg.Response) int16 {
	t.Helper()
	r := resp.(*kmsg.ProduceResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response has %d topics; want one topic with one partition", len(r.Topics))
	}
	return r.Topics[0].Partitions[0].ErrorCode
}
