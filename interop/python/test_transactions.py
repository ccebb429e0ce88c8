"""Transactions through librdkafka (confluent-kafka) against silt.

A transactional producer commits every even transaction and aborts every odd
one; a read_committed consumer reads every committed record once and none of
the aborted, a read_uncommitted one reads them all. A second producer with
the same transactional.id fences the first.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from kafka_util import create_topic, unique


def read_values(bootstrap: str, topic: str, partitions: int, isolation: str, want: int) -> dict[str, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("py-txn-read"),
                  "isolation.level": isolation, "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        seen: dict[str, int] = {}
        deadline = time.monotonic() + 60
        quiet_until = None
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                if len(seen) >= want:
                    quiet_until = quiet_until or time.monotonic() + 2
                    if time.monotonic() > quiet_until:
                        break
                continue
            if m.error():
                raise KafkaException(m.error())
            v = m.value().decode()
            seen[v] = seen.get(v, 0) + 1
        return seen
    finally:
        c.close()


def test_abort_every_other_transaction(silt):
    topic = unique("py-txn")
    create_topic(silt.bootstrap, topic, 3)
    p = Producer({"bootstrap.servers": silt.bootstrap, "transactional.id": unique("py-txn-producer")})
    p.init_transactions(30)
    txns, per = 10, 25
    for t in range(txns):
        p.begin_transaction()
        for r in range(per):
            p.produce(topic, key=str(r), value=f"t{t}-r{r}")
        if t % 2 == 0:
            p.commit_transaction(30)
        else:
            p.flush(30)
            p.abort_transaction(30)

    committed = read_values(silt.bootstrap, topic, 3, "read_committed", txns // 2 * per)
    assert len(committed) == txns // 2 * per
    for v, n in committed.items():
        assert n == 1, f"{v} read {n} times"
        assert int(v[1:v.index("-")]) % 2 == 0, f"{v} is from an aborted transaction"
    everything = read_values(silt.bootstrap, topic, 3, "read_uncommitted", txns * per)
    assert len(everything) == txns * per


def test_zombie_is_fenced(silt):
    topic = unique("py-txn-zombie")
    create_topic(silt.bootstrap, topic, 1)
    txn_id = unique("py-zombie")
    zombie = Producer({"bootstrap.servers": silt.bootstrap, "transactional.id": txn_id})
    zombie.init_transactions(30)
    zombie.begin_transaction()
    zombie.produce(topic, value="zombie-1")
    zombie.flush(30)
    fresh = Producer({"bootstrap.servers": silt.bootstrap, "transactional.id": txn_id})
    fresh.init_transactions(30)
    fresh.begin_transaction()
    fresh.produce(topic, value="fresh-1")
    with pytest.raises(KafkaException):
        zombie.produce(topic, value="zombie-2")
        zombie.commit_transaction(30)
    fresh.commit_transaction(30)
    assert read_values(silt.bootstrap, topic, 1, "read_committed", 1) == {"fresh-1": 1}
