// Package journal is silt's metadata log: the ordered record of every
// decision the cluster makes, kept in the bucket, and the deterministic state
// machine that replays it.
//
// # Entries
//
// Entry n is the object journal/<n, 20 digits>, written only with
// put-if-absent. Whoever writes entry n has won the right to decide what
// follows state n−1; a writer that loses reads the entries it missed and
// tries again at the next number. Entries are contiguous: a writer proposes
// n only once it has applied n−1.
//
// An entry carries Commands (create a topic, commit the chunks of a segment,
// allocate producer ids, commit group offsets…), never their outcomes. The
// outcome — the offsets a chunk is given, whether a batch is an idempotent
// duplicate, whether a topic already existed — is computed by applying the
// command to the state, so every agent that replays the journal arrives at
// the same state and the same outcomes. Apply is pure: no clock (an entry
// carries its writer's time), no randomness, no I/O. It lives in State.Apply
// and is tested without a bucket.
//
// # Ambiguous writes
//
// A put-if-absent whose response was lost may still have succeeded, and a
// retry then fails with ErrExists on the writer's own entry. Every entry
// therefore carries its writer's id and a fresh nonce. A writer that meets
// ErrExists or an ambiguous error reads entry n back: if the nonce is its
// own, it won; otherwise it applies the other writer's entry and proposes
// its commands again at n+1. Retrying the same n re-sends the same bytes, so
// a delayed first attempt that lands later is still recognised. The commands
// are never re-proposed at a later number without this check: that is how
// acknowledged writes get duplicated.
//
// # Snapshots
//
// Every so often the state as of entry n is written to snapshots/<n>. An
// agent starts from the newest snapshot and replays the entries after it.
// Snapshot bytes are a deterministic function of the state, so two agents
// writing the same snapshot write the same object.
//
// # Group commit
//
// A Committer gathers commands from many callers (in a cluster, from every
// agent over internal RPC) and writes whatever is queued as one entry, so the
// journal's throughput does not fall as callers are added: one PUT of
// latency commits everything that arrived during the previous PUT.
package journal
