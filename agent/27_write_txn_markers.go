package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// WriteTxnMarkers (key 27), versions 0-2.
//
// Behavior: Kafka's transaction coordinators send it to partition leaders
// to write a transaction's markers. silt's transactions write theirs in
// the journal entry that ends them (journal/apply_txn.go), so here it comes
// only from an operator: AdminClient.abortTransaction (kafka-transactions.sh
// abort) sends an abort marker for a producer's open transaction on one
// partition. silt aborts that producer's whole transaction, every
// partition of it, in one entry, and bumps its epoch, fencing the producer
// as a timeout does; Kafka writes the one marker, and a coordinator that
// still knows the transaction would write the rest. A partition on which
// the producer has no open transaction is left as it is. A commit marker
// is refused (INVALID_TXN_STATE): only a transaction's own EndTxn commits
// it. A marker at an older epoch than the producer's is
// INVALID_PRODUCER_EPOCH; an unknown partition UNKNOWN_TOPIC_OR_PARTITION.
//
// With the authorizer on, as Kafka: CLUSTER_ACTION on the cluster
// (CLUSTER_AUTHORIZATION_FAILED for every partition otherwise).
func handleWriteTxnMarkers(c *conn, req *request) reply {
	r := req.body.(*kmsg.WriteTxnMarkersRequest)
	allowed := c.authorizedCluster(acl.OpClusterAction)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
		for _, m := range r.Markers {
			code := int16(0)
			switch {
			case !allowed:
				code = kerr.ClusterAuthorizationFailed.Code
			case m.Committed:
				code = kerr.InvalidTxnState.Code
			default:
				code = c.a.abortByMarker(ctx, m)
			}
			rm := kmsg.NewWriteTxnMarkersResponseMarker()
			rm.ProducerID = m.ProducerID
			c.a.journal.View(func(s *journal.State) {
				for _, mt := range m.Topics {
					rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
					rt.Topic = mt.Topic
					rt.Partitions = perPartition(s, mt.Topic, mt.Partitions, func(p int32, known bool) kmsg.WriteTxnMarkersResponseMarkerTopicPartition {
						rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
						rp.Partition, rp.ErrorCode = p, code
						if !known && code == 0 {
							rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
						}
						return rp
					})
					rm.Topics = append(rm.Topics, rt)
				}
			})
			resp.Markers = append(resp.Markers, rm)
		}
		return resp
	}}
}

// abortByMarker aborts the transaction of an abort marker's producer, if
// it has one open at the marker's epoch.
func (a *Agent) abortByMarker(ctx context.Context, m kmsg.WriteTxnMarkersRequestMarker) int16 {
	a.catchUpJournal()
	var txnID string
	a.journal.View(func(s *journal.State) {
		if p := s.Producers[m.ProducerID]; p != nil {
			txnID = p.TxnID
		}
	})
	if txnID == "" {
		return 0 // not a transactional producer: it has nothing open
	}
	results, code := a.submit(ctx, journal.Command{EndTxn: &journal.EndTxn{
		TxnID: txnID, ProducerID: m.ProducerID, Epoch: m.ProducerEpoch, Forced: true,
	}})
	switch {
	case code != 0:
		return code
	case results[0].Code == kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch.Code
	}
	return results[0].Code
}
