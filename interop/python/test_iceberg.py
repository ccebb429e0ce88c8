"""silt's Iceberg tables read by the engines analysts use: pyiceberg and
Spark with Iceberg's runtime, through silt's REST catalog (the agent's HTTP
port) and, for Spark, by the table's path, compared row for row with what a
Kafka consumer reads from the topic.

One topic, exported twice by `silt export` (two snapshots): 1,200 records
over four hours, then 600 more in the two hours after. The tests check the
current snapshot against the consumer's read, time travel to the first
snapshot against the first 1,200 records, partition pruning (a filter on one
hour plans and reads only that hour's files), and that a snapshot committed
while a reader holds a scan leaves the reader's rows as they were.

Spark runs in a child process (this file run as a script) on the pyspark of
requirements-spark-iceberg.txt: Iceberg's Spark runtime is built per Spark
minor version, and the newest on Maven Central is for Spark 4.1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness
from kafka_util import consume_assigned, unique

ICEBERG_RUNTIME = "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0"
PARTITIONS = 3
FIRST, SECOND, THIRD = 1200, 600, 300
STEP_MS = 12_000  # 1,200 records 12 s apart: four hours
HOUR_MS = 3600 * 1000


def _records(start: int, n: int, base_ms: int) -> list[dict]:
    """n records from number start: null keys, tombstones, binary values,
    records with and without headers, round-robin over the partitions."""
    recs = []
    for i in range(start, start + n):
        key = None if i % 40 == 0 else f"user-{i % 23}".encode()
        value = None if i % 150 == 7 else (bytes(range(i % 256)) if i % 6 == 0 else f"order {i}".encode())
        headers = None if i % 10 == 3 else [("id", str(i).encode())] + ([("trace", None)] if i % 7 == 0 else [])
        recs.append({"id": i, "key": key, "value": value, "headers": headers,
                     "partition": i % PARTITIONS, "ts": base_ms + i * STEP_MS})
    return recs


def _produce(bootstrap: str, topic: str, recs: list[dict]) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    failed: list[str] = []
    for r in recs:
        p.produce(topic, key=r["key"], value=r["value"], headers=r["headers"], partition=r["partition"],
                  timestamp=r["ts"], on_delivery=lambda err, msg: err and failed.append(str(err)))
        p.poll(0)
    assert p.flush(60) == 0 and not failed, f"delivery failed: {failed[:5]}"


def _export(silt_bin: Path, bucket: str, topic: str) -> None:
    r = subprocess.run([str(silt_bin), "export", "--bucket", bucket, "--topic", topic],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"silt export: exit {r.returncode}:\n{r.stdout}{r.stderr}"


def _row(partition, offset, ts_ms, key, value, headers) -> tuple:
    """A record as every reader's rows are compared: headers as a tuple of
    (key, value) pairs, None for a record without headers."""
    hs = None if headers is None else tuple((k, None if v is None else bytes(v)) for k, v in headers)
    return (int(partition), int(offset), int(ts_ms), None if key is None else bytes(key),
            None if value is None else bytes(value), hs)


def _consumed(bootstrap: str, topic: str, n: int) -> list[tuple]:
    """What a Kafka consumer reads: n records, each once, in offset order."""
    msgs = consume_assigned(bootstrap, topic, PARTITIONS, n)
    rows = sorted(_row(m.partition(), m.offset(), m.timestamp()[1], m.key(), m.value(), m.headers())
                  for m in msgs)
    assert len(rows) == n and len(set((r[0], r[1]) for r in rows)) == n, f"consumer read {len(rows)} of {n}"
    return rows


def _arrow_rows(tbl) -> list[tuple]:
    """The rows of a pyarrow table of silt's schema, sorted. pyiceberg 0.12
    turns a null list of structs into an empty one (its projection rebuilds
    the list from offsets alone; the file holds null, as pyarrow and Spark
    read it), and a Kafka record has no empty header list, so [] is None."""
    out = []
    for r in tbl.to_pylist():
        hs = [(h["key"], h["value"]) for h in r["headers"]] if r["headers"] else None
        ts = round(r["timestamp"].timestamp() * 1000)
        out.append(_row(r["partition"], r["offset"], ts, r["key"], r["value"], hs))
    return sorted(out)


@pytest.fixture(scope="module")
def exported(silt_bin, tmp_path_factory):
    """An agent (no compactor of its own: silt export is the only exporter)
    on a directory bucket, and a topic exported twice."""
    work = tmp_path_factory.mktemp("silt-iceberg")
    bucket = str(work / "bucket")
    agent = harness.Silt(silt_bin, bucket, work, "py-iceberg")
    agent.extra_args = (*agent.extra_args, "--compaction=false")
    agent.start()
    try:
        from confluent_kafka.admin import AdminClient, NewTopic

        topic = unique("iceberg")
        admin = AdminClient({"bootstrap.servers": agent.bootstrap})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1, config={"silt.export": "parquet"})])[topic].result(30)
        base = (int(time.time() * 1000) // HOUR_MS - 8) * HOUR_MS  # eight hours ago, on the hour
        _produce(agent.bootstrap, topic, _records(0, FIRST, base))
        _export(silt_bin, bucket, topic)
        first = _consumed(agent.bootstrap, topic, FIRST)
        _produce(agent.bootstrap, topic, _records(FIRST, SECOND, base))
        _export(silt_bin, bucket, topic)
        yield {"agent": agent, "bucket": bucket, "topic": topic, "base": base, "work": work,
               "catalog": f"http://127.0.0.1:{agent.http_port}", "first": first,
               "all": _consumed(agent.bootstrap, topic, FIRST + SECOND)}
    finally:
        rc = agent.stop()
        assert rc == 0, f"silt agent exited {rc}:\n{agent.log_tail(60)}"


def _catalog(uri: str):
    from pyiceberg.catalog import load_catalog

    return load_catalog("silt", type="rest", uri=uri)


def test_pyiceberg_scans_through_the_catalog(exported):
    cat = _catalog(exported["catalog"])
    assert ("silt",) in cat.list_namespaces()
    assert ("silt", exported["topic"]) in cat.list_tables("silt")
    tbl = cat.load_table(f"silt.{exported['topic']}")
    assert [f.name for f in tbl.schema().fields] == [
        "topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers"]
    snaps = tbl.snapshots()
    assert len(snaps) == 2, f"two exports, two snapshots: {snaps}"

    # Row for row what the consumer read; every record once.
    assert _arrow_rows(tbl.scan().to_arrow()) == exported["all"]

    # Time travel: the first snapshot holds the first export only.
    assert _arrow_rows(tbl.scan(snapshot_id=snaps[0].snapshot_id).to_arrow()) == exported["first"]

    # Pruning: a filter on one hour plans that hour's files (one per
    # partition) and reads only that hour's records.
    lo = exported["base"] + 2 * HOUR_MS
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ms / 1000))
    flt = f"timestamp >= '{iso(lo)}' and timestamp < '{iso(lo + HOUR_MS)}'"
    files = list(tbl.scan(row_filter=flt).plan_files())
    all_files = list(tbl.scan().plan_files())
    assert len(files) == PARTITIONS < len(all_files), (len(files), len(all_files))
    assert all(f"/hour={time.gmtime(lo / 1000).tm_hour:02d}/" in t.file.file_path for t in files)
    want = [r for r in exported["all"] if lo <= r[2] < lo + HOUR_MS]
    assert _arrow_rows(tbl.scan(row_filter=flt).to_arrow()) == want and len(want) == 300

    # examples/iceberg/pyiceberg_query.py prints the same.
    r = subprocess.run([sys.executable, str(EXAMPLES / "pyiceberg_query.py"), "--catalog", exported["catalog"],
                        "--topic", exported["topic"]], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _per_partition_lines(exported["all"]) <= set(r.stdout.splitlines()), r.stdout
    assert sum(line.startswith("snapshot ") for line in r.stdout.splitlines()) == 2, r.stdout


EXAMPLES = harness.REPO_ROOT / "examples" / "iceberg"


def _per_partition_lines(rows: list[tuple], prefix: str = "") -> set[str]:
    """The lines the examples print for rows: per partition, the records
    and their first and last offsets."""
    out = set()
    for p in range(PARTITIONS):
        offs = [r[1] for r in rows if r[0] == p]
        out.add(f"{prefix}partition {p}: {len(offs)} records, offsets {min(offs)}..{max(offs)}")
    return out


def _spark_env() -> tuple[str, dict[str, str]]:
    """The directory of the Iceberg-compatible pyspark, and the environment
    that puts it first."""
    pp = os.environ.get("SILT_SPARK_ICEBERG_PYTHONPATH") or str(harness.CACHE_DIR / "spark-iceberg")
    assert Path(pp, "pyspark").is_dir(), f"no pyspark for Iceberg under {pp}: run interop/run-python.sh"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
           "PYTHONPATH": pp + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("SPARK_HOME", None)
    return pp, env


def _logged(args: list[str], env: dict[str, str], log: Path) -> str:
    """Runs args with its output in log; fails with the log's tail."""
    with open(log, "wb") as f:
        r = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           env=env, cwd=Path(__file__).parent, timeout=600)
    out = log.read_text(errors="replace")
    assert r.returncode == 0, f"{Path(args[1]).name} exit {r.returncode}:\n" + "\n".join(out.splitlines()[-80:])
    return out


def _run_spark(work: Path, **opts: str) -> dict:
    """This file as a script, on the Iceberg-compatible pyspark; returns what
    it saw."""
    out = work / "spark-iceberg.json"
    args = [sys.executable, str(Path(__file__).resolve()), str(out), str(work)]
    for k, v in opts.items():
        args += [f"--{k}", v]
    _logged(args, _spark_env()[1], work / "spark-iceberg.log")
    return json.loads(out.read_text())


def _decode(rows: list[list]) -> list[tuple]:
    d = lambda v: None if v is None else base64.b64decode(v)
    return sorted(_row(p, o, ts, d(k), d(v), None if hs is None else [(hk, d(hv)) for hk, hv in hs])
                  for p, o, ts, k, v, hs in rows)


def test_spark_reads_by_path_and_through_the_catalog(exported):
    cat = _catalog(exported["catalog"])
    tbl = cat.load_table(f"silt.{exported['topic']}")
    first_snapshot = tbl.snapshots()[0].snapshot_id
    lo = exported["base"] + 2 * HOUR_MS
    seen = _run_spark(exported["work"], catalog=exported["catalog"], topic=exported["topic"],
                      path=str(Path(exported["bucket"]) / "export" / exported["topic"]),
                      snapshot=str(first_snapshot), hour_from=str(lo))
    assert seen["spark"].startswith("4.1"), seen["spark"]
    for how in ("path", "rest"):
        assert _decode(seen[how]["rows"]) == exported["all"], f"Spark ({how}) rows differ from the consumer's"
        assert _decode(seen[how]["first"]) == exported["first"], f"Spark ({how}) time travel"
    assert seen["rest_tables"] == [exported["topic"]] or exported["topic"] in seen["rest_tables"]
    # Pruning in the plan: the hour filter is pushed into the Iceberg scan,
    # which reads that hour's file of each partition: the second export's
    # manifest is skipped whole (its partition summaries hold later hours),
    # and the first's other files by their partition values.
    hour = seen["hour"]
    assert "IcebergScan" in hour["plan"] and "filters=timestamp >=" in hour["plan"], hour["plan"]
    first_files = len(list(tbl.scan(snapshot_id=first_snapshot).plan_files()))
    assert (hour["resultDataFiles"], hour["skippedDataFiles"], hour["skippedDataManifests"]) == \
        (PARTITIONS, first_files - PARTITIONS, 1), hour
    assert hour["count"] == 300

    # examples/iceberg/spark_query.py through spark-submit, as its README
    # runs it, prints the same per partition both ways.
    pp, env = _spark_env()
    path = str(Path(exported["bucket"]) / "export" / exported["topic"])
    out = _logged([str(Path(pp, "pyspark", "bin", "spark-submit")), "--master", "local[2]",
                   "--packages", ICEBERG_RUNTIME, "--conf", f"spark.jars.ivy={harness.CACHE_DIR / 'ivy'}",
                   "--conf", f"spark.jars.ivySettings={harness.IVY_SETTINGS}",
                   "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1",
                   str(EXAMPLES / "spark_query.py"), "--catalog", exported["catalog"],
                   "--topic", exported["topic"], "--path", path], env, exported["work"] / "spark-example.log")
    lines = set(out.splitlines())
    for how in ("catalog", "path"):
        assert _per_partition_lines(exported["all"], f"{how}: ") <= lines, out[-3000:]
    assert "IcebergScan" in out and "filters=timestamp >=" in out, out[-3000:]


def test_snapshot_during_a_scan_leaves_the_reader_alone(exported, silt_bin):
    """A reader that loaded the table and planned its scan reads that
    snapshot's rows even if a compactor commits another meanwhile."""
    cat = _catalog(exported["catalog"])
    tbl = cat.load_table(f"silt.{exported['topic']}")
    scan = tbl.scan()
    tasks = list(scan.plan_files())
    agent = exported["agent"]
    _produce(agent.bootstrap, exported["topic"], _records(FIRST + SECOND, THIRD, exported["base"]))
    _export(silt_bin, exported["bucket"], exported["topic"])
    assert len(cat.load_table(f"silt.{exported['topic']}").snapshots()) == 3
    assert len(list(scan.plan_files())) == len(tasks)
    assert _arrow_rows(scan.to_arrow()) == exported["all"]
    # A new load sees the new snapshot, every record once.
    now = _consumed(agent.bootstrap, exported["topic"], FIRST + SECOND + THIRD)
    assert _arrow_rows(cat.load_table(f"silt.{exported['topic']}").scan().to_arrow()) == now


# ---------------------------------------------------------------------------
# The Spark child.


def spark_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("work")
    for a in ("catalog", "topic", "path", "snapshot", "hour_from"):
        ap.add_argument(f"--{a}")
    a = ap.parse_args(argv)
    import pyspark
    from pyspark.sql import SparkSession

    work = Path(a.work)
    ivy = harness.CACHE_DIR / "ivy"
    ivy.mkdir(parents=True, exist_ok=True)
    # The settings of the README's archive section: the catalog silt is
    # silt's REST catalog.
    b = (SparkSession.builder.master("local[2]").appName("silt-iceberg")
             .config("spark.jars.packages", ICEBERG_RUNTIME)
             .config("spark.jars.ivy", str(ivy))
             .config("spark.jars.ivySettings", str(harness.IVY_SETTINGS))
             .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
             .config("spark.sql.catalog.silt", "org.apache.iceberg.spark.SparkCatalog")
             .config("spark.sql.catalog.silt.type", "rest")
             .config("spark.sql.catalog.silt.uri", a.catalog)
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.adaptive.enabled", "false"))  # the scan's metrics on the plan's leaf
    spark = harness.local_spark(b, work).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")

    def b64(v):
        return None if v is None else base64.b64encode(bytes(v)).decode()

    def rows(df):
        return [[r["partition"], r["offset"], round(r["timestamp"].timestamp() * 1000), b64(r["key"]), b64(r["value"]),
                 None if r["headers"] is None else [[h["key"], b64(h["value"])] for h in r["headers"]]]
                for r in df.collect()]

    table = f"silt.silt.`{a.topic}`"
    seen: dict = {"spark": pyspark.__version__}
    seen["path"] = {"rows": rows(spark.read.format("iceberg").load(a.path)),
                    "first": rows(spark.read.format("iceberg").option("versionAsOf", a.snapshot).load(a.path))}
    seen["rest"] = {"rows": rows(spark.table(table)),
                    "first": rows(spark.sql(f"SELECT * FROM {table} VERSION AS OF {a.snapshot}"))}
    seen["rest_tables"] = [r["tableName"] for r in spark.sql("SHOW TABLES IN silt.silt").collect()]

    lo = int(a.hour_from)
    fmt = lambda ms: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))
    q = spark.table(table).where(f"timestamp >= '{fmt(lo)}' AND timestamp < '{fmt(lo + HOUR_MS)}'")
    plan_text = q._jdf.queryExecution().explainString(
        spark._jvm.org.apache.spark.sql.execution.ExplainMode.fromString("simple"))
    # Read the rows (a count alone is answered from the manifests' stats),
    # then take the scan's metrics from the executed plan.
    offsets = q.select("offset")
    n = len(offsets.collect())
    leaves = offsets._jdf.queryExecution().executedPlan().collectLeaves()
    metrics = {}
    for i in range(leaves.size()):
        m = leaves.apply(i).metrics()
        for name in ("resultDataFiles", "skippedDataFiles", "skippedDataManifests"):
            if m.contains(name):
                metrics[name] = m.apply(name).value()
    seen["hour"] = {"count": n, "plan": plan_text, **metrics}
    spark.stop()
    Path(a.out).write_text(json.dumps(seen))


if __name__ == "__main__":
    spark_main(sys.argv[1:])
