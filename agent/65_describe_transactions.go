package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions (key 65), version 0.
//
// Behavior: each transactional id's state as the journal holds it (Empty,
// Ongoing, CompleteCommit, CompleteAbort; silt never stores Kafka's
// Prepare states, see agent/txns), its producer id and epoch, timeout,
// start time (-1 unless Ongoing) and partitions. Asked of an agent that
// does not coordinate the id: NOT_COORDINATOR; an unknown id:
// TRANSACTIONAL_ID_NOT_FOUND. kafka-transactions.sh describe uses it.
// With the authorizer on, an id needs DESCRIBE
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
func handleDescribeTransactions(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeTransactionsRequest)
	kept, refused := c.describableTxns(r.TransactionalIDs)
	allowed := *r
	allowed.TransactionalIDs = kept
	resp := c.a.txns.Describe(&allowed)
	resp.TransactionStates = append(resp.TransactionStates, refused...)
	return reply{resp: resp}
}
