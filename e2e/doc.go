// Package e2e proves the silt agent end to end: real Kafka clients (franz-go
// kgo and kadm, librdkafka through kcat) and raw TCP against agents started
// in process (localstacktest.StartT) and as separate `silt agent` processes
// (localstacktest.StartProcess), on the file bucket and on a versitygw S3
// server. Each test is a specification of one promise the broker makes:
//
//   - roundtrip_test.go: what is produced is consumed back exactly once, in
//     order, intact, with every compression codec, from the writer's cache
//     and from the bucket; concurrent producers, acks=0, large records.
//   - kcat_test.go: librdkafka produces, consumes and lists metadata.
//   - durability_test.go: an acknowledgement survives SIGKILL and SIGTERM,
//     and a restart replays the journal from a snapshot.
//   - group_crash_test.go: a consumer group with manual commits survives
//     SIGKILL of the agent: no committed offset goes backwards, every record
//     is processed, duplicates only above the last acknowledged commit.
//   - faults_test.go: a bucket outage fails produces without losing or
//     duplicating anything, and the agent recovers by itself; lost
//     responses and slow requests create no duplicates.
//   - badinput_test.go: malformed input closes one connection or answers
//     the Kafka error code, and the agent keeps serving.
//   - admin_test.go: topics, partitions, configs, offsets through kadm.
//   - longpoll_test.go: a fetch at the log end waits for new records.
//
// The tests need kcat (/usr/bin/kcat, Debian's package) and versitygw
// (found or installed by localstack/s3server); without them they fail
// rather than skip. The package has no code of its own; it is all tests.
package e2e
