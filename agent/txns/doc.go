// Package txns is silt's transaction coordinator: InitProducerId with a
// transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// TxnOffsetCommit's journal half, and the transaction timeout.
//
// # State lives in the journal
//
// Kafka keeps a transactional id's state in __transaction_state, read into
// its coordinator's memory. silt keeps it in the journal's state
// (journal.TxnState; apply_txn.go), and the coordinator keeps nothing of
// its own but its claims: every step is a journal command (InitTxn,
// AddTxnPartitions, TxnOffsetCommit, EndTxn) that Apply checks against the
// state — producer id and epoch, status Empty / Ongoing / CompleteCommit /
// CompleteAbort, partitions, groups, timeout, last update — and decides.
// So any agent can take a transactional id over at any moment and carry
// on from exactly where the journal is, and a step the old coordinator
// was answering either made the journal or did not.
//
// Completing a transaction (EndTxn, or the timeout's abort) is one entry:
// the markers of every partition, the aborted-transaction index, the
// group offsets held in the transaction and the new status. Kafka's
// PrepareCommit and PrepareAbort exist to cover the markers' separate
// writes; silt never needs to store them, so there is no window in which a
// coordinator can die with a transaction half complete.
//
// # Ownership and claims
//
// A transactional id is coordinated by its rendezvous-hash owner
// (Env.Owns; FindCoordinator with key type TRANSACTION names it), as a
// group is. Before it acts for an id the coordinator claims it in the
// journal (journal.ClaimTxn), and every command it proposes carries the
// claim, which Apply refuses with NOT_COORDINATOR once another agent has
// claimed the id since: a coordinator that gossip has not yet told of a
// move cannot act for an id its successor runs. Clients refused so look
// the coordinator up again.
//
// # Timeouts
//
// Run checks, every ExpiryInterval, the transactions of the ids this agent
// owns; one Ongoing for longer than its transaction.timeout.ms is aborted
// with an epoch bump (journal.EndTxn with Timeout), which fences the
// producer: its next produce is refused with INVALID_PRODUCER_EPOCH, its
// next coordinator request with PRODUCER_FENCED, as Kafka does. Apply
// checks the expiry against the entry's time, so a coordinator whose clock
// runs fast cannot abort a transaction early.
//
// The Coordinator's methods take decoded kmsg requests and return kmsg
// responses; the agent's handlers stay thin.
package txns
