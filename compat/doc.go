// Package compat proves that Kafka clients silt does not share code with
// work against it unmodified. It has no code of its own; it is all tests.
//
// The tests without a build tag run in `make test`, each against its own
// in-process cluster (localstacktest.StartT):
//
//   - sarama_test.go: IBM/sarama's idempotent SyncProducer and a
//     two-member ConsumerGroup.
//   - kafkago_test.go: segmentio/kafka-go's Writer and two Readers in one
//     group.
//   - kafkajs_test.go: kafkajs (Node) produces and consumes with a group,
//     through the script in kafkajs/.
//   - kcat_test.go: three `kcat -G` processes (librdkafka's balanced
//     consumer, classic protocol) share a topic.
//   - rebalance_test.go: how long a franz-go group of three takes to hand
//     partitions to a fourth member, with the classic protocol and KIP-848.
//
// Each produces records, consumes them back through a consumer group, and
// checks that every record was consumed exactly once, in order per
// partition, and that the group's committed offsets are the partitions'
// ends.
//
// franzgo_test.go, behind the compat build tag (`make compat`), runs
// franz-go's own integration tests against silt, which takes minutes.
package compat
