package txns

import (
	"regexp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Describing and listing transactions (kafka-transactions.sh describe and
// list), read from the journal's state.

// knownStates are the states ListTransactions may filter on.
var knownStates = []string{journal.TxnEmpty, journal.TxnOngoing, journal.TxnPrepareCommit, journal.TxnPrepareAbort,
	journal.TxnCompleteCommit, journal.TxnCompleteAbort, "Dead", "PrepareEpochFence"}

// Describe answers DescribeTransactions: each id's state as the journal
// holds it. An id this agent does not coordinate is NOT_COORDINATOR; an
// unknown one TRANSACTIONAL_ID_NOT_FOUND.
func (c *Coordinator) Describe(r *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse {
	resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	c.env.Journal.View(func(s *journal.State) {
		for _, id := range r.TransactionalIDs {
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
			t := s.Txn(id)
			switch {
			case !c.env.Owns(id):
				st.ErrorCode = kerr.NotCoordinator.Code
			case t == nil:
				st.ErrorCode = kerr.TransactionalIDNotFound.Code
			default:
				st.State, st.TimeoutMillis, st.ProducerID, st.ProducerEpoch = t.Status, t.TimeoutMs, t.ProducerID, t.Epoch
				if t.Status == journal.TxnOngoing {
					st.StartTimestamp = t.StartTime
				}
				for _, tp := range t.Partitions {
					if n := len(st.Topics); n > 0 && st.Topics[n-1].Topic == tp.Topic {
						st.Topics[n-1].Partitions = append(st.Topics[n-1].Partitions, tp.Partition)
						continue
					}
					rt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
					rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
					st.Topics = append(st.Topics, rt)
				}
			}
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
	})
	return resp
}

// List answers ListTransactions: the transactional ids this agent
// coordinates, filtered by state, producer id, duration (v1: open longer
// than, by now in ms) and id pattern (v2, a regular expression).
func (c *Coordinator) List(r *kmsg.ListTransactionsRequest) *kmsg.ListTransactionsResponse {
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	var states []string
	for _, f := range r.StateFilters {
		if slices.Contains(knownStates, f) {
			states = append(states, f)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, f)
		}
	}
	var pattern *regexp.Regexp
	if r.TransactionalIDPattern != nil && *r.TransactionalIDPattern != "" {
		p, err := regexp.Compile(*r.TransactionalIDPattern)
		if err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return resp
		}
		pattern = p
	}
	now := c.env.Clock.Now().UnixMilli()
	c.env.Journal.View(func(s *journal.State) {
		ids := make([]string, 0, len(s.Txns))
		for id := range s.Txns {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			t := s.Txns[id]
			switch {
			case !c.env.Owns(id):
			case len(r.StateFilters) > 0 && !slices.Contains(states, t.Status):
			case len(r.ProducerIDFilters) > 0 && !slices.Contains(r.ProducerIDFilters, t.ProducerID):
			case r.DurationFilterMillis > 0 && (t.Status != journal.TxnOngoing || now-t.StartTime < r.DurationFilterMillis):
			case pattern != nil && !pattern.MatchString(id):
			default:
				st := kmsg.NewListTransactionsResponseTransactionState()
				st.TransactionalID, st.ProducerID, st.TransactionState = id, t.ProducerID, t.Status
				resp.TransactionStates = append(resp.TransactionStates, st)
			}
		}
	})
	return resp
}
