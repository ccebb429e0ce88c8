package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// ListTransactions (key 66), versions 0-2.
//
// Behavior: the transactional ids this agent coordinates, as
// kafka-transactions.sh list gathers them from every broker, filtered by
// state (unknown states are echoed in UnknownStateFilters), producer id,
// open longer than DurationFilterMillis (v1) and an id regular expression
// (v2; INVALID_REGULAR_EXPRESSION when it does not compile). With the
// authorizer on, only the ids the client may DESCRIBE are listed.
func handleListTransactions(c *conn, req *request) reply {
	resp := c.a.txns.List(req.body.(*kmsg.ListTransactionsRequest))
	resp.TransactionStates = slices.DeleteFunc(resp.TransactionStates, func(st kmsg.ListTransactionsResponseTransactionState) bool {
		return !c.permitted(acl.OpDescribe, acl.ResourceTransactionalID, st.TransactionalID)
	})
	return reply{resp: resp}
}
