// Package agent is the silt agent: a Kafka broker whose log lives in an
// object-store bucket, and which keeps nothing of its own that matters.
//
// # Request handling
//
// Each connection has a reader goroutine and a writer goroutine. The reader
// decodes a request with kmsg and calls its API's handler, in the order the
// requests arrived; that is where a produce appends its batches to the
// buffer, so one connection's batches keep their order. A handler returns a
// reply: either the response, or a wait function for work that takes time
// (a produce waits for its commit, a fetch long-polls for new records). The
// writer goroutine sends replies in request order, as Kafka requires,
// calling each wait function in turn. Pipelined produces from one client
// therefore join the same flush instead of waiting for each other.
//
// A handler never waits for the journal on the reader: a produce to a topic
// that must first be created leaves the creation and its appends to its
// wait function (00_produce.go). A panic in a handler or a wait function is
// a bug; it is recovered, logged with the API and the stack, and closes
// that connection only (server.go).
//
// The APIs served are one table (apis.go): each entry holds an API key's
// version range and its handler, and ApiVersions is generated from that
// table, so silt never advertises what it does not handle. Each handler
// lives in a file named by its key (00_produce.go, 01_fetch.go…) that opens
// with the versions served and the behaviour.
//
// # The write path
//
// Produced batches are validated (magic 2, CRC, sizes) in 00_produce.go and
// handed to the write path, package agent/writer, which buffers them for
// all partitions together. Every flush interval (or sooner once flush-bytes
// are buffered, or once batches stop arriving while the PUT budget allows)
// the buffer is cut into one segment with one chunk per partition,
// uploaded, and then committed through the journal, which gives the chunks
// their offsets; the committer writes a small segment inside its journal
// entry instead, one PUT for both. Segments are committed in the order they
// were cut, so a producer's batches keep their order. Only when the commit
// is applied are the producers answered: an acknowledgement means the bytes
// are in the bucket and the journal says where. The package's
// documentation has the invariants.
//
// # The read path
//
// A fetch finds the chunks holding the requested offsets in the replayed
// journal state, reads them from the cache (or with a ranged GET of the
// segment), patches the committed offsets into the batch headers
// (chunkread, which the compactor reads with too), and returns whole
// batches. The agent that wrote a chunk puts it in its cache
// already patched, so consumers tailing a partition cost no GET. At the end
// of the log a fetch waits for the next journal entry, up to MaxWaitMs.
//
// # The cluster
//
// Agents on one bucket find each other by gossip (cluster.go); rendezvous
// hashing over the live agents names each partition's leader, each group's
// coordinator, the journal committer and the compactor. Agents send their
// journal commands to the committer over internal HTTP, which writes them
// as one entry and pushes each entry to the others: package agent/commit,
// which also holds the one answer to which agent commits. Gossip only routes: the journal's put-if-absent decides
// every entry, proposal IDs make a resent command apply once, and group
// claims fence a coordinator another agent has replaced. The group
// coordinator is a package of its own (agent/groups): it stores each group's
// membership in the journal, so a coordinator that takes a group over
// resumes it, and __consumer_offsets is shown derived from the journal
// (agent/offsetstopic).
package agent
