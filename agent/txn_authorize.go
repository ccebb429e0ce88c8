package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// The transaction APIs' checks, as Kafka's broker makes them: a
// transactional producer needs WRITE on its transactional id for every
// step of a transaction, WRITE on the topics it adds, READ on the group
// whose offsets it commits and on their topics. A refused request is
// answered here and never reaches the coordinator. With the authorizer
// off every check passes.

// refuseAddPartitions answers an AddPartitionsToTxn the client may not
// make, or returns nil. v4+ is the brokers' batched verification form,
// which Kafka allows only with CLUSTER_ACTION. A client's v0-3 needs
// WRITE on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED
// for every partition) and on each topic (TOPIC_AUTHORIZATION_FAILED for
// the refused ones, OPERATION_NOT_ATTEMPTED for the others: nothing is
// added unless everything may be).
func (c *conn) refuseAddPartitions(r *kmsg.AddPartitionsToTxnRequest) *kmsg.AddPartitionsToTxnResponse {
	if !c.a.authz.on {
		return nil
	}
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if r.Version >= 4 {
		if c.authorizedCluster(acl.OpClusterAction) {
			return nil
		}
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	txnAllowed := c.authorizedTxn(acl.OpWrite, r.TransactionalID)
	denied := map[string]bool{}
	if txnAllowed {
		for _, t := range r.Topics {
			if !c.authorizedTopic(acl.OpWrite, t.Topic) {
				denied[t.Topic] = true
			}
		}
		if len(denied) == 0 {
			return nil
		}
	}
	for _, t := range r.Topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = t.Topic
		code := kerr.OperationNotAttempted.Code
		switch {
		case !txnAllowed:
			code = kerr.TransactionalIDAuthorizationFailed.Code
		case denied[t.Topic]:
			code = kerr.TopicAuthorizationFailed.Code
		}
		for _, p := range t.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// refuseAddOffsets answers an AddOffsetsToTxn without WRITE on the
// transactional id or READ on the group, or returns nil.
func (c *conn) refuseAddOffsets(r *kmsg.AddOffsetsToTxnRequest) *kmsg.AddOffsetsToTxnResponse {
	var code int16
	switch {
	case !c.authorizedTxn(acl.OpWrite, r.TransactionalID):
		code = kerr.TransactionalIDAuthorizationFailed.Code
	case !c.authorizedGroup(acl.OpRead, r.Group):
		code = kerr.GroupAuthorizationFailed.Code
	default:
		return nil
	}
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	resp.ErrorCode = code
	return resp
}

// refuseEndTxn answers an EndTxn without WRITE on the transactional id,
// or returns nil.
func (c *conn) refuseEndTxn(r *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	if c.authorizedTxn(acl.OpWrite, r.TransactionalID) {
		return nil
	}
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
	return resp
}

// txnCommitRefusals checks a TxnOffsetCommit: without WRITE on the
// transactional id or READ on the group every partition is refused (all
// true, with that code); otherwise the topics without READ are taken out
// of r and returned, to be answered TOPIC_AUTHORIZATION_FAILED beside the
// others' results, as Kafka commits what may be committed.
func (c *conn) txnCommitRefusals(r *kmsg.TxnOffsetCommitRequest) (all bool, code int16, denied []kmsg.TxnOffsetCommitRequestTopic) {
	switch {
	case !c.authorizedTxn(acl.OpWrite, r.TransactionalID):
		return true, kerr.TransactionalIDAuthorizationFailed.Code, r.Topics
	case !c.authorizedGroup(acl.OpRead, r.Group):
		return true, kerr.GroupAuthorizationFailed.Code, r.Topics
	}
	kept, refused := splitAuthorized(r.Topics, func(t kmsg.TxnOffsetCommitRequestTopic) bool {
		return c.authorizedTopic(acl.OpRead, t.Topic)
	})
	r.Topics = kept
	return false, kerr.TopicAuthorizationFailed.Code, refused
}

// txnCommitRefused is the response part for topics refused with code.
func txnCommitRefused(topics []kmsg.TxnOffsetCommitRequestTopic, code int16) []kmsg.TxnOffsetCommitResponseTopic {
	var out []kmsg.TxnOffsetCommitResponseTopic
	for _, t := range topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		out = append(out, st)
	}
	return out
}

// describableTxns splits DescribeTransactions' ids into those the client
// may DESCRIBE and the refusals for the others.
func (c *conn) describableTxns(ids []string) ([]string, []kmsg.DescribeTransactionsResponseTransactionState) {
	var kept []string
	var refused []kmsg.DescribeTransactionsResponseTransactionState
	for _, id := range ids {
		if c.authorizedTxn(acl.OpDescribe, id) {
			kept = append(kept, id)
			continue
		}
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ErrorCode = id, kerr.TransactionalIDAuthorizationFailed.Code
		refused = append(refused, st)
	}
	return kept, refused
}
