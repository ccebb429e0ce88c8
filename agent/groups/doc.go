// Package groups is silt's consumer group coordinator: the classic
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and KIP-848's
// (ConsumerGroupHeartbeat, with server-side assignors), committed offsets,
// and the groups' durability across coordinator moves.
//
// # Ownership and claims
//
// Gossip names each group's coordinator (Env.Owns), but two agents may both
// believe they coordinate a group while the membership changes. The journal
// decides: before an agent acts as a group's coordinator it claims the group
// (journal.ClaimGroup, claims.go), and every offset commit and metadata
// store it proposes carries the claim, which the journal refuses once
// another agent has claimed the group since. An agent that sees its claim
// superseded lets the group go; its members, refused with NOT_COORDINATOR,
// find the new coordinator.
//
// # Durability
//
// A group's membership is stored in the journal at the moments Kafka writes
// it to __consumer_offsets (journal.StoreGroup; store.go): when a classic
// generation completes (after the leader's SyncGroup, before any member
// gets its assignment), when the group empties or a static member is
// replaced, and when a KIP-848 member joins, leaves, changes its
// subscription or moves to a new epoch or assignment. The members that a
// change concerns are answered only once the store is applied. Heartbeats
// that change nothing cost no write. A coordinator that claims a group
// resumes it from the stored metadata (restore): members keep their ids,
// generations and epochs, their sessions start afresh, and their next
// heartbeat or commit is accepted as if nothing had moved — no rebalance,
// as with Apache Kafka's coordinator failover. What a coordinator held but
// had not stored (a join phase in progress) is lost with it, and the
// members involved rejoin, as on Kafka.
//
// # Concurrency
//
// Each group in memory has one goroutine that owns its state (group.manage);
// handlers and timers hand it functions (group.do) and wait. A JoinGroup or
// SyncGroup that must wait for the rest of the group parks a reply channel
// on its member, answered when the rebalance reaches the point it waits
// for. Nothing on a group's goroutine waits for the journal: stores run
// beside it and report back through the same queue. Timers come from
// Env.Clock, so tests drive sessions and rebalances with a fake clock.
//
// The Coordinator's methods take decoded kmsg requests and return kmsg
// responses: the agent's handlers stay one thin file per API key.
package groups
