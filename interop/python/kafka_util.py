"""confluent-kafka (librdkafka) helpers shared by the Python interop tests."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 30) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=timeout, request_timeout=timeout)
    futures[topic].result(timeout)
    wait_for_partitions(admin, topic, partitions, timeout)


def wait_for_partitions(admin: AdminClient, topic: str, partitions: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"metadata of {topic}: {t and t.error}, "
                                 f"{t and len(t.partitions)} partitions, want {partitions}")
        time.sleep(0.2)


@dataclass(frozen=True)
class Rec:
    """A record as produced, and where the broker said it went."""
    id: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    partition: int = -1
    offset: int = -1


def make_records(n: int, tag: str, start: int = 0) -> list[Rec]:
    """n records with varied keys (some null), values (one in 97 null, some
    binary), and headers (a null value, repeated keys, the id)."""
    recs = []
    for i in range(start, start + n):
        key = None if i % 50 == 0 else f"key-{i % 37}".encode()
        if i % 97 == 0:
            value = None
        elif i % 5 == 0:
            value = bytes((i * 31 + j) % 256 for j in range(64 + i % 300))  # binary, zeros included
        else:
            value = f"value {i} {tag} ".encode() * (1 + i % 4)
        headers = [("id", str(i).encode()), ("tag", tag.encode())]
        if i % 7 == 0:
            headers.append(("null", None))
        if i % 11 == 0:
            headers += [("dup", b"first"), ("dup", b"second"), ("empty", b"")]
        recs.append(Rec(i, key, value, tuple(headers)))
    return recs


def produce(bootstrap: str, topic: str, recs: list[Rec], compression: str = "zstd",
            extra: dict | None = None, timeout: float = 60) -> list[Rec]:
    """Produce with acks=all and idempotence; returns the records with the
    partition and offset of their delivery reports. Fails on any error."""
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": compression,
        "linger.ms": 5,
        "batch.num.messages": 200,
        **(extra or {}),
    }
    p = Producer(conf)
    delivered: dict[int, Rec] = {}
    errors: list[str] = []

    def report(err, msg, rec):
        if err is not None:
            errors.append(f"record {rec.id}: {err}")
        else:
            delivered[rec.id] = Rec(rec.id, rec.key, rec.value, rec.headers,
                                    msg.partition(), msg.offset())

    for rec in recs:
        while True:
            try:
                p.produce(topic, key=rec.key, value=rec.value, headers=list(rec.headers),
                          on_delivery=lambda err, msg, rec=rec: report(err, msg, rec))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(timeout)
    assert left == 0, f"{left} records not delivered within {timeout}s"
    assert not errors, f"delivery errors: {errors[:10]}"
    assert len(delivered) == len(recs)
    return [delivered[r.id] for r in recs]


def check_offsets(delivered: list[Rec], base: dict[int, int] | None = None) -> dict[int, int]:
    """Offsets of each partition are exactly base..base+n-1 (no gap, no
    duplicate); returns the next offset of each partition."""
    by_part: dict[int, list[int]] = {}
    for r in delivered:
        by_part.setdefault(r.partition, []).append(r.offset)
    ends = {}
    for part, offs in by_part.items():
        start = (base or {}).get(part, 0)
        assert sorted(offs) == list(range(start, start + len(offs))), \
            f"partition {part}: offsets {sorted(offs)[:5]}..{sorted(offs)[-5:]} not {start}..{start + len(offs) - 1}"
        ends[part] = start + len(offs)
    return ends


def received(msg) -> Rec:
    headers = tuple(msg.headers() or ())
    rid = int(dict(headers)["id"])
    return Rec(rid, msg.key(), msg.value(), headers, msg.partition(), msg.offset())


def consume_assigned(bootstrap: str, topic: str, partitions: int, n: int,
                     timeout: float = 60) -> list:
    """Read n records from the start of every partition without a group."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": unique("py-assign"),  # not joined: assign() only
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    })
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        msgs = []
        deadline = time.monotonic() + timeout
        while len(msgs) < n and time.monotonic() < deadline:
            for m in c.consume(num_messages=500, timeout=0.5):
                if m.error():
                    raise KafkaException(m.error())
                msgs.append(m)
        # A little more time: anything past n would be a duplicate.
        for m in c.consume(num_messages=500, timeout=1.0):
            if m.error():
                raise KafkaException(m.error())
            msgs.append(m)
        return msgs
    finally:
        c.close()


def assert_same(got: list[Rec], want: list[Rec]) -> None:
    """got holds each record of want exactly once, with every field intact."""
    ids = [r.id for r in got]
    dups = {i for i in ids if ids.count(i) > 1} if len(set(ids)) != len(ids) else set()
    assert not dups, f"records read more than once: {sorted(dups)[:20]}"
    missing = {r.id for r in want} - set(ids)
    assert not missing, f"{len(missing)} records never read, e.g. {sorted(missing)[:20]}"
    extra = set(ids) - {r.id for r in want}
    assert not extra, f"records read that were not produced: {sorted(extra)[:20]}"
    by_id = {r.id: r for r in want}
    for g in got:
        w = by_id[g.id]
        assert g == w, f"record {g.id} differs:\n got  {g}\n want {w}"
