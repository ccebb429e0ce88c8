// Package streamsgroups is silt's streams groups (KIP-1071): Kafka
// Streams with group.protocol=streams hands its topology to the broker,
// which validates it, creates its internal topics and assigns its tasks,
// instead of one of the clients doing so inside a classic rebalance.
//
// It plays the part of Kafka's group coordinator for groups of type
// "streams": StreamsGroupHeartbeat (join, heartbeat, leave; heartbeat.go),
// StreamsGroupDescribe (describe.go), and the checks OffsetCommit and
// OffsetFetch make of a streams member's epoch (the offsets themselves are
// committed through the consumer group coordinator's journal path, like
// any group's).
//
// # Topology and internal topics
//
// The first member to join brings the topology: its subtopologies, each
// with source topics (or regular expressions), repartition topics it reads
// and writes, and changelog topics of its state stores. It is configured
// against the cluster's topics as Kafka does (topology.go): a subtopology
// has as many tasks as its source topics' largest partition count; a
// repartition topic without a fixed count takes the task count of the
// subtopologies that write into it; copartitioned topics must agree; a
// changelog topic has one partition per task. Internal topics that do not
// exist are created with the configs the client asked for (a compacted
// changelog, a delete-policy repartition topic). Until the topology is
// configured the group assigns nothing and tells its members why with a
// status (MISSING_SOURCE_TOPICS, MISSING_INTERNAL_TOPICS,
// INCORRECTLY_PARTITIONED_TOPICS), and they keep heartbeating.
//
// # Assignment
//
// Tasks are assigned by the "sticky" assignor, Kafka's default for streams
// groups (assign.go): a task stays with the member (and so the process and
// its local state) that had it, as far as balance allows; a task without
// an owner goes to a member that held it as a standby, then to the least
// loaded member; standby tasks (the group config
// streams.num.standby.replicas, 0 by default; config.go) go to other
// processes than the active one, balanced over the members. Like Kafka's sticky
// assignor it gives no warm-up tasks; the protocol's warm-up fields are
// carried and reported but always empty.
//
// The assignment is reconciled as in KIP-848: a member first gives up the
// tasks its new target takes away (keeping its epoch until it reports them
// gone), then moves to the target's epoch and receives the tasks no other
// member still holds; the rest follow as their holders release them. So a
// task is never active on two members at once.
//
// # Durability
//
// A group's topology, members, epochs and assignment (current, target,
// being revoked) are stored in the journal whenever they change
// (journal.StoreStreamsGroup; store.go), under the group's claim, the
// one its offset commits carry; a heartbeat that changed them is answered
// once the store is applied, and a change made by a timer (a session that
// expired) is stored in the background. A coordinator that takes the group
// over resumes it from the journal: members keep their ids, epochs and
// tasks, their sessions start afresh, and their next heartbeat and commit
// are accepted as if nothing had moved, as with Kafka's coordinator
// failover. A store that fails lets the group go from memory, to be
// resumed as last stored.
//
// # Concurrency
//
// Service.mu guards every group. Time comes from Env.Clock: member
// sessions and revocation deadlines are timers, so tests drive them with a
// fake clock. Topic creation and journal writes run outside the lock.
package streamsgroups
