"""librdkafka, through Python's confluent-kafka, against silt.

Idempotent producers with acks=all and each compression codec, a reader that
checks every key, value, header, offset and timestamp, the admin client, and
a consumer group of two members that commits and reads every record exactly
once, on a local-directory bucket and on versitygw (S3).
"""

from __future__ import annotations

import time

import confluent_kafka
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from kafka_util import (assert_same, check_offsets, consume_assigned, create_topic, make_records,
                        produce, received, unique, wait_for_partitions)


def test_admin_topics(silt):
    admin = AdminClient({"bootstrap.servers": silt.bootstrap})
    topic = unique("py-admin")
    fs = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                       config={"retention.ms": "3600000"})])
    fs[topic].result(30)
    wait_for_partitions(admin, topic, 3)

    md = admin.list_topics(timeout=10)
    assert topic in md.topics
    assert md.brokers, "metadata names no broker"
    t = md.topics[topic]
    assert sorted(t.partitions) == [0, 1, 2]
    for p in t.partitions.values():
        assert p.error is None
        assert p.leader in md.brokers, f"partition {p.id} led by unknown broker {p.leader}"

    # Creating it again is TOPIC_ALREADY_EXISTS, as from Kafka.
    fs = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    with pytest.raises(KafkaException) as e:
        fs[topic].result(30)
    assert e.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    fs = admin.create_partitions([NewPartitions(topic, 5)])
    fs[topic].result(30)
    wait_for_partitions(admin, topic, 5)

    fs = admin.delete_topics([topic], operation_timeout=30)
    fs[topic].result(30)
    deadline = time.monotonic() + 30
    while topic in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{topic} still listed after delete"
        time.sleep(0.2)


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_idempotent_produce_and_read_back(silt, codec):
    topic = unique(f"py-produce-{codec}")
    create_topic(silt.bootstrap, topic, 3)
    t0 = time.time()
    want = produce(silt.bootstrap, topic, make_records(1500, codec), compression=codec)
    t1 = time.time()
    check_offsets(want)
    # Same key, same partition (librdkafka's partitioner hashes the key).
    by_key = {}
    for r in want:
        if r.key is not None:
            assert by_key.setdefault(r.key, r.partition) == r.partition

    msgs = consume_assigned(silt.bootstrap, topic, 3, len(want))
    for m in msgs:
        kind, ts = m.timestamp()
        assert kind == confluent_kafka.TIMESTAMP_CREATE_TIME
        assert t0 * 1000 - 1000 <= ts <= t1 * 1000 + 1000, f"timestamp {ts} outside the produce window"
    assert_same([received(m) for m in msgs], want)

    # ListOffsets: watermarks, and the first offset at or after a timestamp.
    ends = check_offsets(want)
    c = Consumer({"bootstrap.servers": silt.bootstrap, "group.id": unique("py-offsets")})
    try:
        for p, end in ends.items():
            assert c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) == (0, end)
        first = c.offsets_for_times([TopicPartition(topic, p, int(t0 * 1000) - 1000) for p in ends], timeout=10)
        assert {tp.partition: tp.offset for tp in first} == {p: 0 for p in ends}
        later = c.offsets_for_times([TopicPartition(topic, p, int(t1 * 1000) + 60_000) for p in ends], timeout=10)
        assert {tp.partition: tp.offset for tp in later} == {p: -1 for p in ends}  # none that late: end
    finally:
        c.close()


def _group_round_trip(bootstrap: str, protocol: str, n: int = 1200, partitions: int = 4) -> None:
    topic = unique(f"py-group-{protocol}")
    group = unique(f"py-group-{protocol}")
    create_topic(bootstrap, topic, partitions)
    # Another topic with records: the group must never be given it.
    decoy = unique("py-decoy")
    create_topic(bootstrap, decoy, 2)
    produce(bootstrap, decoy, make_records(10, "decoy"))

    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    }
    if protocol == "consumer":
        conf["group.protocol"] = "consumer"  # KIP-848
    else:
        conf.update({"session.timeout.ms": 10000, "heartbeat.interval.ms": 500})
    if protocol == "cooperative":
        conf["partition.assignment.strategy"] = "cooperative-sticky"  # KIP-429, classic protocol
    consumers = [Consumer({**conf, "client.id": f"member-{i}"}) for i in range(2)]
    for c in consumers:
        c.subscribe([topic])

    try:
        # Wait until the group has settled with both members, each owning
        # some partitions, so no rebalance happens while records flow.
        deadline = time.monotonic() + 60
        while True:
            for c in consumers:
                for m in c.consume(num_messages=10, timeout=0.1):
                    raise AssertionError(f"record before anything was produced: err={m.error()} "
                                         f"{m.topic()}[{m.partition()}]@{m.offset()}")
            for c in consumers:
                stray = {tp.topic for tp in c.assignment()} - {topic}
                assert not stray, f"member assigned topics it did not subscribe to: {stray}"
            owned = [{tp.partition for tp in c.assignment()} for c in consumers]
            if all(owned) and owned[0].isdisjoint(owned[1]) and owned[0] | owned[1] == set(range(partitions)):
                break
            assert time.monotonic() < deadline, f"group never settled with two members: {owned}"

        want = produce(bootstrap, topic, make_records(n, protocol), compression="lz4")
        ends = check_offsets(want)

        got: list[list] = [[], []]
        deadline = time.monotonic() + 60
        while sum(map(len, got)) < n and time.monotonic() < deadline:
            for i, c in enumerate(consumers):
                batch = c.consume(num_messages=200, timeout=0.1)
                for m in batch:
                    if m.error():
                        raise KafkaException(m.error())
                got[i] += batch
                if batch:
                    c.commit(asynchronous=False)
        # Anything arriving now would be a duplicate.
        for i, c in enumerate(consumers):
            for m in c.consume(num_messages=200, timeout=0.5):
                got[i].append(m)

        for i, c in enumerate(consumers):
            parts = {m.partition() for m in got[i]}
            assert parts <= owned[i], f"member {i} read partitions {parts} outside its assignment {owned[i]}"
            assert got[i], f"member {i} read nothing"
        assert_same([received(m) for m in got[0] + got[1]], want)

        # The committed offsets are the end of every partition.
        committed = consumers[0].committed([TopicPartition(topic, p) for p in owned[0]], timeout=10) + \
            consumers[1].committed([TopicPartition(topic, p) for p in owned[1]], timeout=10)
        assert {tp.partition: tp.offset for tp in committed} == {p: ends.get(p, 0) for p in range(partitions)}
    finally:
        for c in consumers:
            c.close()

    # A new member of the group starts where the others committed: it reads
    # only what is produced now.
    c = Consumer({**conf, "client.id": "member-late"})
    try:
        c.subscribe([topic])
        more = produce(bootstrap, topic, make_records(40, protocol, start=n), compression="zstd")
        check_offsets(more, base=ends)
        late = []
        deadline = time.monotonic() + 60
        while len(late) < len(more) and time.monotonic() < deadline:
            for m in c.consume(num_messages=100, timeout=0.2):
                if m.error():
                    raise KafkaException(m.error())
                late.append(m)
        late += c.consume(num_messages=100, timeout=1.0)
        assert_same([received(m) for m in late], more)
        c.commit(asynchronous=False)
    finally:
        c.close()


@pytest.mark.parametrize("protocol", [
    "classic",
    "cooperative",
    "consumer",
])
def test_consumer_group(silt, protocol):
    _group_round_trip(silt.bootstrap, protocol)


def test_round_trip_on_s3(silt_s3):
    """The same producer and group on an agent whose bucket is on versitygw."""
    topic = unique("py-s3-produce")
    create_topic(silt_s3.bootstrap, topic, 3)
    want = produce(silt_s3.bootstrap, topic, make_records(800, "s3"), compression="zstd")
    check_offsets(want)
    assert_same([received(m) for m in consume_assigned(silt_s3.bootstrap, topic, 3, len(want))], want)
    _group_round_trip(silt_s3.bootstrap, "classic", n=600)


def test_topic_configs_on_produce(silt):
    """librdkafka meets produce as Kafka applies a topic's configs: a
    compacted topic refuses a record without a key (INVALID_RECORD), and a
    LogAppendTime topic gives records the broker's append time."""
    from confluent_kafka import Producer

    admin = AdminClient({"bootstrap.servers": silt.bootstrap})
    compacted, appended = unique("py-compacted"), unique("py-appended")
    fs = admin.create_topics([
        NewTopic(compacted, num_partitions=1, replication_factor=1, config={"cleanup.policy": "compact"}),
        NewTopic(appended, num_partitions=1, replication_factor=1, config={"message.timestamp.type": "LogAppendTime"}),
    ])
    for f in fs.values():
        f.result(30)
    wait_for_partitions(admin, compacted, 1)
    wait_for_partitions(admin, appended, 1)

    errors = {}

    def report(err, msg):
        errors[(msg.topic(), msg.value())] = err

    p = Producer({"bootstrap.servers": silt.bootstrap, "enable.idempotence": False, "linger.ms": 0})
    before_ms = int(time.time() * 1000)
    p.produce(compacted, key=b"k", value=b"kept", on_delivery=report)
    p.flush(30)
    p.produce(compacted, value=b"no key", on_delivery=report)
    p.produce(appended, key=b"k", value=b"old", timestamp=1000, on_delivery=report)
    assert p.flush(30) == 0
    assert errors[(compacted, b"kept")] is None
    assert errors[(compacted, b"no key")] is not None
    assert errors[(compacted, b"no key")].code() == KafkaError.INVALID_RECORD, errors[(compacted, b"no key")]
    assert errors[(appended, b"old")] is None

    c = Consumer({"bootstrap.servers": silt.bootstrap, "group.id": unique("py-appended-reader"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(appended, 0, 0)])
        deadline = time.monotonic() + 30
        msg = None
        while msg is None or msg.error():
            assert time.monotonic() < deadline, "no record read back"
            msg = c.poll(1)
        kind, ts = msg.timestamp()
        assert kind == confluent_kafka.TIMESTAMP_LOG_APPEND_TIME, kind
        assert before_ms <= ts <= int(time.time() * 1000), ts
    finally:
        c.close()
