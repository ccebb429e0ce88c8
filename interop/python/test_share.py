"""librdkafka's share consumer (KIP-932, confluent-kafka's ShareConsumer,
a preview in librdkafka 2.15+) against silt.

The group's share.auto.offset.reset is set to earliest through the admin
client (IncrementalAlterConfigs on a GROUP resource); two share consumers in
one group read a topic of three partitions: every record is delivered, none
twice (implicit acknowledgement, nothing released), whichever member gets
it (the first to join may take them all before the second is assigned). Then, in explicit mode,
a consumer RELEASEs what it got and a second consumer gets the same records
again with a higher delivery count, and ACCEPTs them.
"""

from __future__ import annotations

import time

from confluent_kafka import ShareConsumer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from kafka_util import create_topic, make_records, produce, unique


def _earliest(bootstrap: str, group: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    for fut in admin.incremental_alter_configs([res]).values():
        fut.result(30)


def test_share_consumers_read_every_record_once(silt):
    topic, group = unique("py-share"), unique("py-share-group")
    create_topic(silt.bootstrap, topic, 3)
    _earliest(silt.bootstrap, group)
    want = produce(silt.bootstrap, topic, make_records(600, "share"), compression="zstd")
    consumers = [ShareConsumer({"bootstrap.servers": silt.bootstrap, "group.id": group}) for _ in range(2)]
    seen: dict[tuple[int, int], int] = {}
    by_consumer = [0, 0]
    try:
        for c in consumers:
            c.subscribe([topic])
        deadline = time.monotonic() + 90
        while len(seen) < len(want):
            assert time.monotonic() < deadline, f"{len(seen)} of {len(want)} records delivered"
            for i, c in enumerate(consumers):
                for m in c.poll(0.5):
                    assert m.error() is None, m.error()
                    where = (m.partition(), m.offset())
                    seen[where] = seen.get(where, 0) + 1
                    by_consumer[i] += 1
    finally:
        for c in consumers:
            c.close()
    assert set(seen) == {(r.partition, r.offset) for r in want}
    twice = {v: n for v, n in seen.items() if n > 1}
    assert not twice, f"records delivered more than once: {list(twice)[:5]}"
    assert sum(by_consumer) == len(want)


def test_release_redelivers(silt):
    topic, group = unique("py-share-release"), unique("py-share-release-group")
    create_topic(silt.bootstrap, topic, 1)
    _earliest(silt.bootstrap, group)
    want = produce(silt.bootstrap, topic, make_records(50, "release"), compression="none")
    conf = {"bootstrap.servers": silt.bootstrap, "group.id": group, "share.acknowledgement.mode": "explicit"}
    first = ShareConsumer(conf)
    released: set[int] = set()
    try:
        first.subscribe([topic])
        deadline = time.monotonic() + 60
        while not released:
            assert time.monotonic() < deadline, "the first consumer got nothing"
            for m in first.poll(0.5):
                assert m.error() is None, m.error()
                assert m.delivery_count() == 1
                first.acknowledge(m, 2)  # RELEASE (Kafka's AcknowledgeType 2)
                released.add(m.offset())
            first.commit_sync()
    finally:
        first.close()
    second = ShareConsumer(conf)
    counts: dict[int, int] = {}
    try:
        second.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(counts) < len(want):
            assert time.monotonic() < deadline, f"{len(counts)} of {len(want)} records accepted"
            for m in second.poll(0.5):
                assert m.error() is None, m.error()
                counts[m.offset()] = m.delivery_count()
                second.acknowledge(m)
            second.commit_sync()
    finally:
        second.close()
    assert set(counts) == {r.offset for r in want}
    for off in released:
        assert counts[off] == 2, f"released record at {off} came back with delivery count {counts[off]}"
    for off, n in counts.items():
        if off not in released:
            assert n == 1, f"record at {off} never released has delivery count {n}"
