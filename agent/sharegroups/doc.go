// Package sharegroups is silt's share groups (KIP-932, "queues for
// Kafka"): many consumers read the same partitions cooperatively, each
// record delivered to one of them at a time and acknowledged one by one,
// with redelivery and delivery counts.
//
// It plays Kafka's three parts. The group coordinator (membership.go):
// ShareGroupHeartbeat with server-side assignment, at the agent gossip names
// the group's coordinator, its membership stored in the journal when
// Env.Claim is set (store.go), so that a coordinator that takes over
// resumes the members at their epochs. The share-partition leader
// (hosted.go, window.go, fetch.go): at the partition's owner, the agent
// Metadata names its leader, each share-partition's in-flight window, with
// records Available, Acquired (locked by one member until the lock times
// out), Acknowledged or Archived, served to ShareFetch and
// ShareAcknowledge in share sessions (session.go). And the share
// coordinator: the windows are persisted through the journal
// (journal.ClaimShare, journal.WriteShare) in batches, never a write per
// record, so that a share-partition's next owner resumes it.
//
// # Durability
//
// Before an agent serves a share-partition it claims it in the journal,
// which fences the previous owner: the journal refuses its writes from then
// on, and it lets the share-partition go at its next write or access. An
// acknowledgement is answered only once a write that includes it is
// applied, so an acknowledged record is never delivered again; records
// acquired and not acknowledged come back to the next owner as available,
// with their delivery counts as last written (acquisitions are written too,
// in the background), and are delivered again. Under one owner, a record
// whose lock times out is released at once; after a move, at once too,
// since the new owner's window has no locks: the lock timeout bounds how
// long a record stays with a member that vanished, not how long a move
// takes.
//
// # Concurrency
//
// Service.mu guards the maps and the group memberships; each hosted
// share-partition has its own mutex over its window, and at most one
// journal write in flight (hosted.writeLoop). Time comes from Env.Clock:
// lock timeouts and member sessions are timers, so tests drive them with a
// fake clock. Nothing waits for the journal under a lock.
package sharegroups
