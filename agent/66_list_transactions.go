package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListTransactions (key 66), versions 0-2.
//
// Behavior: the transactional ids this agent coordinates, as
// kafka-transactions.sh list gathers them from every broker, filtered by
// state (unknown states are echoed in UnknownStateFilters), producer id,
// open longer than DurationFilterMillis (v1) and an id regular expression
// (v2; INVALID_REGULAR_EXPRESSION when it does not compile).
func handleListTransactions(c *conn, req *request) reply {
	return reply{resp: c.a.txns.List(req.body.(*kmsg.ListTransactionsRequest))}
}
