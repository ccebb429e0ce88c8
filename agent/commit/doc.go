// Package commit is the agent's path from a journal command to a committed
// journal entry: the proposer, the committer role, the internal RPC between
// agents, and the pushes of written entries to the other agents.
//
// One agent at a time, the committer, writes the journal: it gathers the
// commands of every agent and writes them as one entry (group commit), so
// the journal's throughput does not fall as agents are added. Every other
// agent sends its commands to the committer over internal RPC
// (POST /internal/v1/propose, rpc.go). After each entry the committer
// pushes it to the others (POST /internal/v1/entries, push.go), so they
// apply it without reading the bucket.
//
// # Invariants
//
//   - Who commits has one answer, [Node.Committer]: this agent when it is
//     Solo, otherwise the rendezvous owner of [CommitterKey] among the live
//     members. The proposer routes by it, the writer inlines small segments
//     only when it names this agent, Metadata reports it as the controller.
//     It routes; it never decides: the journal's put-if-absent decides each
//     entry, and two agents that both believe they commit cost retries.
//   - This agent's commands reach the journal in the order they were
//     proposed: the proposer sends one batch at a time, each holding
//     everything queued since the last was sent, and the committer writes a
//     batch into one entry. The writer relies on this to commit segments in
//     the order it cut them.
//   - A command is applied at most once, however often it is sent. A batch
//     whose RPC fails may or may not have reached the journal (the committer
//     may have died after writing it), so the proposer sends the same batch
//     again, with the same proposal IDs, to whichever agent commits now,
//     until the callers' contexts end; the journal answers a repeat with the
//     first outcome (journal.State.Proposals).
//   - A proposal answered by a remote committer is answered only once this
//     agent has applied the entry, so a client that reads here next sees
//     what it wrote.
//   - A segment proposed inline (its bytes inside the entry, one PUT for
//     both) is uploaded as an object of its own before it is sent to any
//     other committer: only the agent that writes the entry can inline.
//   - A push is an optimisation, never the truth. Pushes may arrive late,
//     twice, out of order or not at all (a full queue drops them); the
//     receiver applies what extends its state (journal.Log.Offer) and reads
//     any gap from the bucket.
//
// # Steps of a proposal
//
//  1. Proposer.Propose stamps each command with a proposal ID (node name,
//     boot nonce, counter) and queues it; it returns at once.
//  2. The proposer's goroutine takes everything queued, asks Committer, and
//     either submits the batch to its own journal.Committer or posts it to
//     the committer's /internal/v1/propose.
//  3. On failure it waits (internal/backoff) and resends the same batch, to
//     the committer of the moment; on success each Proposal gets its entry
//     number and results.
//  4. The committer's journal calls Node.Appended with the entry's head,
//     which queues it for every peer; a goroutine per peer posts the queued
//     entries as one binary body.
//
// # Rejected
//
// Pushing entries as a JSON array of raw messages: an entry that carries
// inline segments is stored framed (magic and length before its JSON), and
// its head is not JSON, so every push holding one failed to encode and was
// dropped, leaving peers to poll the bucket. A push body is bytes:
// length-prefixed entries with their numbers (push.go).
//
// Asking "am I the committer" in each place that needs to know, as the agent
// once did (the proposer and writer honoured Solo, the metrics and Metadata
// did not): the answers disagreed exactly when it mattered.
package commit
