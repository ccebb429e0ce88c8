"""PyFlink (apache-flink, local mini cluster) with flink-sql-connector-kafka
against a silt agent: a streaming SQL job (flink_job.py) reads a topic from
the earliest offset, computes a 1-minute tumbling window per key and writes
the results to another topic. Every result equals the one computed here from
the input. The job is killed with SIGKILL halfway and started again from its
last checkpoint: it continues from the offsets and window state in the
checkpoint, so no record is lost; at-least-once delivery (the job's sink;
Flink's exactly-once sink is not tested here yet) means results written
after that checkpoint are written again,
and they are counted. Flink's Kafka source also commits the offsets of every
checkpoint to its group on silt; those must reach the end of the input.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from pyflink.version import __version__ as pyflink_version

import harness
from kafka_util import create_topic

HERE = Path(__file__).resolve().parent
KEYS = ["alpha", "bravo", "charlie", "delta", "echo"]
PARTITIONS = 3
WINDOWS = 30
PER_WINDOW = 200
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a window boundary
MINUTE_MS = 60_000


def reading(i: int) -> dict:
    """Record i of the input: event times rise with i, PER_WINDOW a minute."""
    return {"k": KEYS[i % len(KEYS)], "v": i % 97, "ts": BASE_MS + i * (MINUTE_MS // PER_WINDOW)}


def expected(n: int) -> set[tuple]:
    """(key, window start ms, count, sum) for records 0..n-1, as the job computes them."""
    acc: dict[tuple, list[int]] = {}
    for i in range(n):
        r = reading(i)
        w = r["ts"] - (r["ts"] - BASE_MS) % MINUTE_MS
        a = acc.setdefault((r["k"], w), [0, 0])
        a[0] += 1
        a[1] += r["v"]
    return {(k, w, c, s) for (k, w), (c, s) in acc.items()}


def produce(bootstrap: str, topic: str, rows: list[tuple[int, dict]]) -> None:
    """Each (partition, value) as JSON, acks=all; fails on any delivery error."""
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for part, row in rows:
        p.produce(topic, json.dumps(row).encode(), partition=part,
                  on_delivery=lambda err, msg: err and errors.append(err))
        p.poll(0)
    assert p.flush(30) == 0, "records still unsent after 30s"
    assert not errors, f"delivery errors: {errors[:5]}"


class Output:
    """Reads the job's output topic from the start, keeping every result read."""

    def __init__(self, bootstrap: str, topic: str):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader",
                           "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.c.assign([TopicPartition(topic, 0, 0)])
        self.results: list[tuple] = []

    def poll(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            m = self.c.poll(0.2)
            if m is None or m.error():
                continue
            o = json.loads(m.value())
            start = datetime.datetime.fromisoformat(o["window_start"]).replace(tzinfo=datetime.timezone.utc)
            self.results.append((o["k"], int(start.timestamp() * 1000), o["n"], o["total"]))

    def close(self) -> None:
        self.c.close()


class Job:
    """flink_job.py in its own process group (Python, and the JVM it starts).
    Its stdout and stderr go to NAME.log, Flink's own log to NAME-flink/."""

    def __init__(self, work: Path, args: list[str], name: str):
        self.log = work / f"{name}.log"
        env = {**os.environ, "FLINK_LOG_DIR": str(work / f"{name}-flink")}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(HERE / "flink_job.py"), *args],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        text = self.log.read_text(errors="replace")
        for f in sorted(self.log.parent.glob(f"{self.log.stem}-flink/*.log")):
            text += f"--- {f}\n" + f.read_text(errors="replace")
        return "".join(text.splitlines(keepends=True)[-60:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(30)


def checkpoints(d: Path) -> list[Path]:
    """Completed checkpoints (those with _metadata), oldest first."""
    done = [m.parent for m in d.glob("*/chk-*/_metadata")]
    return sorted(done, key=lambda p: int(p.name.split("-")[1]))


def test_windowed_aggregate_with_kill_and_restore(silt_bin, tmp_path):
    t0 = time.monotonic()
    jar = os.environ.get("FLINK_KAFKA_JAR")
    assert jar and Path(jar).is_file(), \
        "FLINK_KAFKA_JAR names no file: run through interop/run-flink.sh, which fetches the connector"
    agent = harness.Silt(silt_bin, str(tmp_path / "bucket"), tmp_path, "py-flink").start()
    jobs: list[Job] = []
    out = None
    try:
        create_topic(agent.bootstrap, "readings", PARTITIONS)
        create_topic(agent.bootstrap, "per-minute", 1)
        total = WINDOWS * PER_WINDOW
        # The kill falls inside a window: its first records are read before
        # the kill, the rest after, so its count needs the restored state.
        half = total // 2 + PER_WINDOW // 2
        produce(agent.bootstrap, "readings", [(i % PARTITIONS, reading(i)) for i in range(half)])

        chk = tmp_path / "checkpoints"
        args = ["--bootstrap", agent.bootstrap, "--source", "readings", "--sink", "per-minute",
                "--jar", str(Path(jar).resolve()), "--checkpoints", str(chk)]
        jobs.append(Job(tmp_path, args, "flink-job-1"))
        out = Output(agent.bootstrap, "per-minute")

        # Results come out as the watermark passes each minute; wait for a
        # checkpoint taken after some were written, then SIGKILL the job.
        deadline = time.monotonic() + 180
        while len(out.results) < 3 * len(KEYS):
            assert jobs[0].alive(), f"the job exited:\n{jobs[0].tail()}"
            assert time.monotonic() < deadline, \
                f"{len(out.results)} results after 180s:\n{jobs[0].tail()}"
            out.poll(1)
        def latest() -> int:
            done = checkpoints(chk)
            return int(done[-1].name.split("-")[1]) if done else 0

        seen = latest()
        while latest() <= seen:
            assert jobs[0].alive(), f"the job exited:\n{jobs[0].tail()}"
            assert time.monotonic() < deadline, f"no new checkpoint:\n{jobs[0].tail()}"
            out.poll(0.5)
        jobs[0].kill()
        out.poll(2)
        before_kill = len(out.results)
        restore = checkpoints(chk)[-1]

        # The second half while the job is down, then one record per
        # partition an hour later, so the watermark closes every window.
        produce(agent.bootstrap, "readings", [(i % PARTITIONS, reading(i)) for i in range(half, total)])
        late = {"k": "sentinel", "v": 0, "ts": BASE_MS + (WINDOWS + 60) * MINUTE_MS}
        produce(agent.bootstrap, "readings", [(p, late) for p in range(PARTITIONS)])

        jobs.append(Job(tmp_path, args + ["--restore", str(restore)], "flink-job-2"))
        want = expected(total)
        deadline = time.monotonic() + 240
        while not want <= set(out.results):
            assert jobs[1].alive(), f"the restored job exited:\n{jobs[1].tail()}"
            assert time.monotonic() < deadline, (
                f"{len(want - set(out.results))} of {len(want)} window results missing after 240s:\n{jobs[1].tail()}")
            out.poll(1)

        # The committed offsets of Flink's group reach the end of the input.
        admin = AdminClient({"bootstrap.servers": agent.bootstrap})
        tps = [TopicPartition("readings", p) for p in range(PARTITIONS)]
        probe = Consumer({"bootstrap.servers": agent.bootstrap, "group.id": "silt-flink"})
        ends = {p: probe.get_watermark_offsets(TopicPartition("readings", p), timeout=10)[1]
                for p in range(PARTITIONS)}
        committed = {}
        while committed != ends:
            assert time.monotonic() < deadline, f"silt-flink committed {committed}, partition ends {ends}"
            got = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions("silt-flink", tps)])
            committed = {tp.partition: tp.offset for tp in got["silt-flink"].result().topic_partitions}
            time.sleep(0.5)
        probe.close()
        out.poll(2)
        jobs[1].kill(signal.SIGTERM)

        results = Counter(out.results)
        wrong = set(results) - want
        assert not wrong, f"results no input gives (lost or extra records): {sorted(wrong)[:10]}"
        assert set(results) == want
        again = sum(results.values()) - len(results)
        # Restarted from scratch, the job would write every result from
        # before the kill again; from its checkpoint, only those after it.
        assert again < before_kill, f"{again} results written again, {before_kill} were written before the kill"
        connector = Path(jar).name.removeprefix("flink-sql-connector-kafka-").removesuffix(".jar")
        line = (f"flink (pyflink {pyflink_version}, flink-sql-connector-kafka {connector}), 1 agent: {total + PARTITIONS} "
                f"records, {len(want)} window results equal to the input's, 1 kill -9 and restore from {restore.name} "
                f"({before_kill} results before the kill, {again} written again, at-least-once); "
                f"{time.monotonic() - t0:.0f}s")
        print(line)
        summary = HERE / "target" / "interop-summary.txt"
        summary.parent.mkdir(exist_ok=True)
        with open(summary, "a") as f:
            f.write(line + "\n")
    finally:
        if out is not None:
            out.close()
        for j in jobs:
            if j.alive():
                j.kill()
        assert agent.stop() == 0, f"silt agent exited non-zero on SIGTERM:\n{agent.log_tail(40)}"
