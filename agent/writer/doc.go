// Package writer is the agent's produce write path: it buffers the batches
// producers send, for all partitions together, cuts the buffer into
// segments, uploads each, commits it through the journal and answers the
// producers, then puts the committed chunks in the cache for tailing
// consumers.
//
// It gets a small environment (Env): a logger, a clock, the bucket, the
// cache, a Proposer (the commit path) and its configuration; nothing of the
// agent. Its tests drive it with a fake clock and a real journal on a
// memory bucket, without sockets.
//
// # Invariants
//
//   - An answer means durable. A producer's Wait is resolved with offsets
//     only once the segment holding its batches is in the bucket (or
//     inside its journal entry) and the journal entry committing it is
//     applied. A failure is answered KAFKA_STORAGE_ERROR, a timeout
//     REQUEST_TIMED_OUT; both are retriable and neither is success.
//   - Order. Batches of one partition are buffered in Append order, and
//     segments are committed in the order they were cut: uploads overlap,
//     but commitLoop proposes segment n+1 only after segment n's upload has
//     ended, and the Proposer keeps the order of proposals. If a segment
//     fails, every segment cut before the failure was known fails too,
//     rather than commit ahead of it.
//   - Memory. Append blocks while more than max(4·FlushBytes, 64 MiB) is
//     buffered or in flight, which pushes back on producers.
//   - The cache holds what a GET would give. A committed chunk is patched
//     with its offsets exactly as chunkread patches a chunk read back, and
//     cached under CacheKey(object, position); a fetch woken by the commit
//     waits on Committed rather than GET what is about to be cached.
//   - Segments are inlined only by the committer: a segment of at most
//     InlineSegmentBytes goes inside its journal entry (one PUT instead of
//     two) only when IsCommitter says this agent writes the entry.
//
// # Steps
//
//  1. Append adds a request's validated batches to the open segment, one
//     chunk per partition, and returns a Wait.
//  2. The run goroutine asks the cut policy (cut.go) when to cut: at
//     FlushBytes, FlushInterval after the first batch, and in between as
//     the store's price allows: on a store without a per-request price as
//     soon as no segment is in flight (group commit), on a priced one once
//     batches stop arriving, within a budget of PUTs a second (PutBudget).
//  3. cutAndShip swaps in a new open segment and starts the upload of the
//     old one (segment.Build, then a PUT retried with internal/backoff
//     until CommitTimeout); commitLoop proposes the CommitSegment command
//     once the upload is done, in cut order. A segment going inline is laid
//     out in parts instead (segment.BuildParts): its raw chunks are the
//     buffers cutAndShip made, and the journal copies them once, into the
//     entry.
//  4. When the commit returns, finish resolves each Wait with the offsets
//     the journal assigned, caches the patched chunks, and frees the
//     buffer's room.
//
// # Rejected
//
// A goroutine per partition, or a segment per partition: the PUT rate would
// grow with the number of partitions, which is what the shared buffer
// exists to prevent. A cut policy reading the wall clock inside its select
// loop: its behaviour could only be tested by sleeping through it, so its
// decisions are a deterministic state machine (cutPolicy) fed the time of
// each event, and the loop takes timers from an injected internal/clock.
package writer
