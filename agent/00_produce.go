package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/recordbatch"
)

// Produce (key 0), versions 3-12.
//
// Behavior: every batch is validated as Kafka does (magic 2, CRC-32C,
// lengths, record count; MESSAGE_TOO_LARGE over the topic's
// max.message.bytes), then as the topic's configs ask (appendPolicy:
// compacted topics refuse keyless records, timestamp bounds, broker-side
// compression.type, LogAppendTime), and appended to the agent's buffer in
// request order.
// acks=0 is not answered; acks=1 and acks=all are answered once the
// segment holding the batches is in the bucket and committed in the
// journal. A bucket or journal failure answers KAFKA_STORAGE_ERROR or
// REQUEST_TIMED_OUT (both retriable), never success. Unknown topics are
// created when auto-creation is on. Transactional batches are refused
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED: silt has no transactions yet).
// An agent that is shutting down answers NOT_LEADER_OR_FOLLOWER, so the
// client retries on another agent. v12 differs from v11 only in what
// transactional clients may assume, which does not arise here.
func handleProduce(c *conn, req *request) reply {
	r := req.body.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	a := c.a

	type waiting struct {
		topic, partition int // indexes in resp
		wait             *appendWait
	}
	var waits []waiting
	now := time.Now().UnixMilli()
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		info, topicCode := a.lookupTopic(c.ctx, rt.Topic, a.cfg.AutoCreateTopics && r.TransactionID == nil)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			switch {
			case r.TransactionID != nil:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			case topicCode != 0:
				sp.ErrorCode = topicCode
			case rp.Partition < 0 || rp.Partition >= info.partitions:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				batches, headers, err := validateProduce(rp.Records, info.maxMessageBytes)
				if err == nil {
					err = info.policy.apply(batches, headers, now)
				}
				if err != nil {
					var pe *produceError
					errors.As(err, &pe)
					msg := err.Error()
					sp.ErrorCode, sp.ErrorMessage, sp.ErrorRecords = pe.code, &msg, errorRecords(err)
					break
				}
				if info.policy.logAppendTime {
					sp.LogAppendTime = now
				}
				w, err := a.writer.append(rt.Topic, info.id, rp.Partition, batches, headers)
				if err != nil {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
					break
				}
				a.metrics.produceBytes.Add(float64(len(rp.Records)))
				a.metrics.produceBatches.Add(float64(len(batches)))
				for _, h := range headers {
					a.metrics.produceRecords.Add(float64(h.NumRecords))
				}
				waits = append(waits, waiting{len(resp.Topics), len(st.Partitions), w})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if r.Acks == 0 {
		return reply{none: true}
	}
	if len(waits) == 0 {
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
		if timeout <= 0 || timeout > a.cfg.CommitTimeout {
			timeout = a.cfg.CommitTimeout
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		for _, w := range waits {
			sp := &resp.Topics[w.topic].Partitions[w.partition]
			select {
			case <-w.wait.done:
				sp.ErrorCode = w.wait.code
				sp.BaseOffset = w.wait.baseOffset
				sp.LogStartOffset = w.wait.logStart
			case <-ctx.Done():
				// The batches may still be committed; the producer's retry
				// is then a duplicate that idempotence catches.
				sp.ErrorCode = kerr.RequestTimedOut.Code
			}
		}
		return resp
	}}
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
		return nil, nil, &produceError{kerr.CorruptMessage.Code, errors.New("no record batches")}
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
		if h.Transactional() {
			return nil, nil, &produceError{kerr.TransactionalIDAuthorizationFailed.Code, errors.New("transactional batches are not supported")}
		}
		batches = append(batches, b.Bytes)
		headers = append(headers, h)
	}
	return batches, headers, nil
}

// batchCode maps a record-batch validation error to the code Kafka gives.
func batchCode(err error) int16 {
	switch {
	case errors.Is(err, recordbatch.ErrUnsupportedMagic):
		return kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, recordbatch.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	default:
		return kerr.CorruptMessage.Code
	}
}
