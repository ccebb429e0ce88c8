package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeProducers (key 61), version 0.
//
// Behavior: the idempotent producers the journal remembers for each
// partition asked for: id, epoch, the last sequence written, and the time
// of the producer's last write (the journal entry's time; Kafka gives the
// last batch's max timestamp), and the first offset of the producer's open
// transaction on the partition (-1 when none). The coordinator epoch is
// -1: silt's markers are written by the journal, not by a coordinator that
// can be fenced. Any agent answers, after
// reading the journal entries in the bucket it has not applied yet, so a
// producer that was just acknowledged is described, as a Kafka leader
// describes it; an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION.
// __consumer_offsets' partitions have no producers (a transaction's offsets
// are journal state), as kafka-transactions.sh find-hanging asks of every
// partition.
//
// With the authorizer on, each topic needs READ (its partitions
// TOPIC_AUTHORIZATION_FAILED).
func handleDescribeProducers(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeProducersRequest)
	readable := make([]bool, len(r.Topics)) // decided outside the state lock
	for i, rt := range r.Topics {
		readable[i] = c.authorizedTopic(acl.OpRead, rt.Topic)
	}
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.describeProducers(r, readable) }}
}

// describeProducers answers r; readable says which of its topics the
// client may READ.
func (a *Agent) describeProducers(r *kmsg.DescribeProducersRequest, readable []bool) *kmsg.DescribeProducersResponse {
	a.catchUpJournal()
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	a.journal.View(func(s *journal.State) {
		for i, rt := range r.Topics {
			st := kmsg.NewDescribeProducersResponseTopic()
			st.Topic = rt.Topic
			st.Partitions = perPartition(s, rt.Topic, rt.Partitions, func(p int32, known bool) kmsg.DescribeProducersResponseTopicPartition {
				if rt.Topic == offsetstopic.Topic {
					// Offsets committed in a transaction are state, not
					// records: no producer writes there.
					known = p >= 0 && p < offsetstopic.Partitions
				}
				sp := kmsg.NewDescribeProducersResponseTopicPartition()
				sp.Partition = p
				if !readable[i] {
					sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
					return sp
				}
				if !known {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					return sp
				}
				for _, ap := range s.ActiveProducers(rt.Topic, p) {
					dp := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					dp.ProducerID, dp.ProducerEpoch, dp.LastSequence = ap.ID, int32(ap.Epoch), ap.LastSequence
					dp.LastTimestamp, dp.CoordinatorEpoch, dp.CurrentTxnStartOffset = ap.LastSeen, -1, ap.TxnStartOffset
					sp.ActiveProducers = append(sp.ActiveProducers, dp)
				}
				return sp
			})
			resp.Topics = append(resp.Topics, st)
		}
	})
	return resp
}
