package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/writer"
	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/recordbatch"
)

// Produce (key 0), versions 3-12.
//
// Behavior: every batch is validated as Kafka does (magic 2, CRC-32C,
// lengths, record count; MESSAGE_TOO_LARGE over the topic's
// max.message.bytes; CORRUPT_MESSAGE for bytes that are no batch,
// INVALID_RECORD for an older message format or no batch at all), then as
// the topic's configs ask (appendPolicy: compacted topics refuse keyless
// records, timestamp bounds, broker-side compression.type, LogAppendTime),
// and appended to the agent's buffer in request order.
// acks=0 is not answered; acks=1 and acks=all are answered once the
// segment holding the batches is in the bucket and committed in the
// journal. A bucket or journal failure answers KAFKA_STORAGE_ERROR or
// REQUEST_TIMED_OUT (both retriable), never success. Unknown topics are
// created when auto-creation is on, in the reply's wait, so the
// connection's reader never waits for the journal; the requests that follow
// on the connection append in their waits too until that one has appended,
// which keeps the connection's batches in order. Transactional batches
// (with the request's transactional id) are stored as any others; the
// journal accepts them only into a partition the producer's Ongoing
// transaction holds, at its current epoch (INVALID_TXN_STATE,
// INVALID_PRODUCER_EPOCH otherwise; journal/apply_txn.go), and they stay
// above the partition's last stable offset until the transaction ends.
// With the authorizer on, a transactional produce needs WRITE on its
// transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every
// partition), each topic needs WRITE (TOPIC_AUTHORIZATION_FAILED for its
// partitions), and a missing one is created only with CREATE on the
// cluster or the topic.
// An agent that is shutting down answers NOT_LEADER_OR_FOLLOWER, so the
// client retries on another agent. From v12 (a transaction-version-2
// client; KIP-890 part 2) a transactional batch adds its partition to the
// transaction itself, in the entry that commits it, instead of after an
// AddPartitionsToTxn.
func handleProduce(c *conn, req *request) reply {
	r := req.body.(*kmsg.ProduceRequest)
	p := &produce{c: c, r: r, resp: r.ResponseKind().(*kmsg.ProduceResponse)}
	a := c.a
	create := a.cfg.AutoCreateTopics && r.TransactionID == nil
	// Once a request on this connection has left appends to its wait, the
	// requests after it do too until it has made them: waits run in
	// request order, so the connection's batches reach the buffer in the
	// order they were sent.
	deferAll := c.deferredProduces.Load() > 0
	txnWritable := r.TransactionID == nil || c.authorizedTxn(acl.OpWrite, *r.TransactionID)
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		writable := c.authorizedTopic(acl.OpWrite, rt.Topic)
		info, topicCode, toCreate := a.peekTopic(rt.Topic, create && writable && c.mayCreateTopic(rt.Topic))
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			at := produceIndex{len(p.resp.Topics), len(st.Partitions)}
			switch {
			case r.TransactionID != nil && !txnWritable:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			case !writable:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case topicCode != 0:
				sp.ErrorCode = topicCode
			case toCreate || deferAll:
				// Creating the topic waits for the journal: not on the
				// connection's reader, but in the reply's wait.
				p.later = append(p.later, at)
			default:
				p.append(&sp, at, info)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		p.resp.Topics = append(p.resp.Topics, st)
	}
	if len(p.later) > 0 {
		c.deferredProduces.Add(1)
		return reply{none: r.Acks == 0, wait: p.wait}
	}
	if r.Acks == 0 {
		return reply{none: true}
	}
	if len(p.waits) == 0 {
		return reply{resp: p.resp}
	}
	return reply{wait: p.wait}
}

// produce is one Produce request on its way through the handler and the
// reply's wait.
type produce struct {
	c     *conn
	r     *kmsg.ProduceRequest
	resp  *kmsg.ProduceResponse
	waits []produceWait  // appended batches waiting for their commit
	later []produceIndex // partitions to append in the wait
}

// produceIndex places a partition in both the request and the response.
type produceIndex struct{ topic, partition int }

type produceWait struct {
	at   produceIndex
	wait *writer.Wait
}

// append validates a partition's batches and buffers them.
func (p *produce) append(sp *kmsg.ProduceResponseTopicPartition, at produceIndex, info topicInfo) {
	a := p.c.a
	rt := &p.r.Topics[at.topic]
	rp := &rt.Partitions[at.partition]
	if rp.Partition < 0 || rp.Partition >= info.partitions {
		sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return
	}
	batches, headers, err := validateProduce(rp.Records, info.maxMessageBytes)
	now := time.Now().UnixMilli()
	if err == nil {
		err = info.policy.apply(batches, headers, now)
	}
	if err != nil {
		var pe *produceError
		errors.As(err, &pe)
		msg := err.Error()
		sp.ErrorCode, sp.ErrorMessage, sp.ErrorRecords = pe.code, &msg, errorRecords(err)
		return
	}
	if info.policy.logAppendTime {
		sp.LogAppendTime = now
	}
	w, err := a.writer.Append(rt.Topic, info.id, rp.Partition, batches, headers, writer.TxnAdd(p.r.Version >= 12))
	if err != nil {
		sp.ErrorCode = kerr.NotLeaderForPartition.Code
		return
	}
	a.metrics.produceBytes.Add(float64(len(rp.Records)))
	a.metrics.produceBatches.Add(float64(len(batches)))
	for _, h := range headers {
		a.metrics.produceRecords.Add(float64(h.NumRecords))
	}
	p.waits = append(p.waits, produceWait{at, w})
}

// appendLater creates the topics the request needs and appends the
// partitions left for the wait, in request order.
func (p *produce) appendLater(ctx context.Context) {
	defer p.c.deferredProduces.Add(-1)
	a := p.c.a
	create := a.cfg.AutoCreateTopics && p.r.TransactionID == nil
	for _, at := range p.later {
		sp := &p.resp.Topics[at.topic].Partitions[at.partition]
		topic := p.r.Topics[at.topic].Topic
		info, code := a.lookupTopic(ctx, topic, create && p.c.mayCreateTopic(topic))
		if code != 0 {
			sp.ErrorCode = code
			continue
		}
		p.append(sp, at, info)
	}
}

// wait is the reply's wait: it makes the appends left for it, then waits
// until every appended batch is committed or the request times out.
func (p *produce) wait(ctx context.Context) kmsg.Response {
	a := p.c.a
	timeout := time.Duration(p.r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > a.cfg.CommitTimeout {
		timeout = a.cfg.CommitTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.later != nil {
		p.appendLater(ctx)
	}
	if p.r.Acks == 0 {
		return nil
	}
	for _, w := range p.waits {
		sp := &p.resp.Topics[w.at.topic].Partitions[w.at.partition]
		select {
		case <-w.wait.Done():
			sp.ErrorCode, sp.BaseOffset, sp.LogStartOffset = w.wait.Result()
		case <-ctx.Done():
			// The batches may still be committed; the producer's retry
			// is then a duplicate that idempotence catches.
			sp.ErrorCode = kerr.RequestTimedOut.Code
		}
	}
	return p.resp
}

// produceError carries the Kafka code for a batch that fails validation.
type produceError struct {
	code int16
	err  error
}

func (e *produceError) Error() string { return e.err.Error() }
func (e *produceError) Unwrap() error { return e.err }

// validateProduce splits a partition's records into batches and checks
// each one. It allocates nothing per byte: batches are subslices.
func validateProduce(records []byte, maxMessageBytes int) ([][]byte, []recordbatch.Header, error) {
	if len(records) == 0 {
		// Kafka: "Produce requests with version 3 or above must have at
		// least one record batch per partition".
		return nil, nil, &produceError{kerr.InvalidRecord.Code, errors.New("no record batches")}
	}
	var (
		batches [][]byte
		headers []recordbatch.Header
	)
	for b, err := range recordbatch.Iterate(records) {
		if err != nil {
			return nil, nil, &produceError{batchCode(err), err}
		}
		if len(b.Bytes) > maxMessageBytes {
			return nil, nil, &produceError{kerr.MessageTooLarge.Code,
				fmt.Errorf("record batch of %d bytes is over max.message.bytes %d", len(b.Bytes), maxMessageBytes)}
		}
		h, err := recordbatch.Validate(b.Bytes)
		if err != nil {
			return nil, nil, &produceError{batchCode(err), err}
		}
		batches = append(batches, b.Bytes)
		headers = append(headers, h)
	}
	return batches, headers, nil
}

// batchCode maps a record-batch validation error to the code Kafka gives a
// produce of version 3 or later (every version served): INVALID_RECORD for
// an older message format (magic 0 or 1) or a batch a producer must not
// send, CORRUPT_MESSAGE for bytes that are no batch at all (noise, a bad
// CRC, a length or magic no format has).
func batchCode(err error) int16 {
	switch {
	case errors.Is(err, recordbatch.ErrUnsupportedMagic):
		return kerr.InvalidRecord.Code
	case errors.Is(err, recordbatch.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	default:
		return kerr.CorruptMessage.Code
	}
}
