"""Spark batch jobs read what `silt export` wrote: `spark.read.parquet` over a
topic's Parquet archive, from a local directory bucket and from versitygw
through s3a (hadoop-aws), compared record by record with the delivery
reports of the producer and, on the directory bucket, with a batch read of
the same topic through Spark's own Kafka source.

Spark runs in a child process (this file run as a script): pyspark starts one
JVM per Python process and fixes its classpath (spark.jars.packages) at that
start, so the session of test_spark_streaming.py (Kafka connector only) and
the s3a one (hadoop-aws) cannot share a process. The child builds its session
as interop/README.md shows it (s3a_settings below), reads the export and
writes what it saw as JSON; the assertions are all here in the test process.
Each test also runs examples/spark/read_export.py through spark-submit.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness
from kafka_util import unique

HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.5.0"  # the Hadoop inside pyspark 4.2.0

# The schema of Spark's Kafka source (spark.read.format("kafka"), includeHeaders=true).
KAFKA_SOURCE_SCHEMA = ("struct<key:binary,value:binary,topic:string,partition:int,offset:bigint,"
                       "timestamp:timestamp,timestampType:int,"
                       "headers:array<struct<key:string,value:binary>>>")
# What spark.read.parquet gives for <prefix>/export/<topic>: the export's
# columns, then the dt=/hour= directories (partition discovery).
EXPORT_SCHEMA = ("struct<topic:string,partition:int,offset:bigint,timestamp:timestamp,"
                 "timestamp_type:int,key:binary,value:binary,"
                 "headers:array<struct<key:string,value:binary>>,dt:date,hour:int>")
KAFKA_COLUMNS = ["key", "value", "topic", "partition", "offset", "timestamp",
                 "timestamp_type AS timestampType", "headers"]

PARTITIONS = 3
N = 1200
STEP_MS = 12_000  # N records 12 s apart: 4 hours, across a UTC midnight


def s3a_settings(endpoint: str, access_key: str, secret_key: str) -> dict[str, str]:
    """The s3a settings of interop/README.md and examples/spark, for an
    S3-compatible server on plain HTTP (versitygw, MinIO)."""
    return {
        "spark.hadoop.fs.s3a.endpoint": endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",  # required: 400 without it
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider":
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "spark.hadoop.fs.s3a.access.key": access_key,
        "spark.hadoop.fs.s3a.secret.key": secret_key,
        "spark.sql.session.timeZone": "UTC",
    }


# ---------------------------------------------------------------------------
# The test process: produce, export, run the Spark child, compare.


def _records(base_ms: int) -> list[dict]:
    """N records: keys (some null), text and binary values, tombstones,
    headers (none, repeated keys, a null and an empty value, non-ASCII),
    explicit CreateTime timestamps, round-robin over the partitions."""
    recs = []
    for i in range(N):
        key = None if i % 40 == 0 else f"user-{i % 23}".encode()
        if i % 150 == 7:
            value = None  # a tombstone (keyed)
        elif i % 6 == 0:
            value = bytes((i * 7 + j) % 256 for j in range(40 + i % 90))  # binary, zeros included
        else:
            value = f'{{"order":{i},"item":"ünïcødé-{i % 13}"}}'.encode()
        if i % 10 == 3:
            headers = ()
        else:
            headers = [("id", str(i).encode())]
            if i % 7 == 0:
                headers.append(("trace", None))
            if i % 9 == 0:
                headers += [("dup", b"one"), ("dup", b"two"), ("empty", b""), ("clé", b"\x00\xff")]
            headers = tuple(headers)
        recs.append({"id": i, "key": key, "value": value, "headers": headers,
                     "partition": i % PARTITIONS, "ts": base_ms + i * STEP_MS})
    return recs


def _produce(bootstrap: str, topic: str, recs: list[dict]) -> None:
    """Produce with acks=all and idempotence; sets each record's offset from
    its delivery report."""
    from confluent_kafka import Producer
    from confluent_kafka import TIMESTAMP_CREATE_TIME

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "compression.type": "zstd", "linger.ms": 5, "batch.num.messages": 100})
    errors: list[str] = []

    def report(err, msg, rec):
        if err is not None:
            errors.append(f"record {rec['id']}: {err}")
        elif (msg.partition(), msg.timestamp()) != (rec["partition"], (TIMESTAMP_CREATE_TIME, rec["ts"])):
            errors.append(f"record {rec['id']}: partition {msg.partition()}, timestamp {msg.timestamp()}")
        else:
            rec["offset"] = msg.offset()

    for rec in recs:
        while True:
            try:
                p.produce(topic, key=rec["key"], value=rec["value"], headers=list(rec["headers"]),
                          partition=rec["partition"], timestamp=rec["ts"],
                          on_delivery=lambda err, msg, rec=rec: report(err, msg, rec))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    assert p.flush(60) == 0, "records not delivered within 60s"
    assert not errors, f"delivery errors: {errors[:10]}"
    assert all("offset" in r for r in recs)


def _export(silt_bin: Path, bucket: str, topic: str, env: dict[str, str] | None = None,
            extra: tuple[str, ...] = ()) -> str:
    """`silt export --bucket BUCKET --topic TOPIC` beside the running agent
    (the only compactor); its log."""
    args = [str(silt_bin), "export", "--bucket", bucket, "--topic", topic, *extra]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120,
                       env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"{' '.join(args)}: exit {r.returncode}:\n{out}"
    m = re.search(r"export done.*records=(\d+)", out)
    assert m and int(m.group(1)) == N, f"silt export did not report {N} records:\n{out}"
    return out


def _agent(silt_bin: Path, work: Path, bucket: str, name: str, **kw):
    """An agent without the compactor role (--compaction=false), so that
    `silt export` is the only exporter. Beside an agent's compactor that
    exports the same topic (silt.export=parquet), `silt export` can return
    before the topic is exported to its end: it stops at the first range
    another compactor moved first on (ExportNow in compaction/export.go)."""
    agent = harness.Silt(silt_bin, bucket, work, name, **kw)
    agent.extra_args = (*agent.extra_args, "--compaction=false")
    agent.start()
    yield agent
    rc = agent.stop()
    assert rc == 0, f"silt agent {name} exited {rc} on SIGTERM:\n{agent.log_tail(60)}"


@pytest.fixture(scope="module")
def export_silt(silt_bin, tmp_path_factory):
    """An agent on a local-directory bucket."""
    work = tmp_path_factory.mktemp("silt-export-file")
    yield from _agent(silt_bin, work, str(work / "bucket"), "py-export-file")


@pytest.fixture(scope="module")
def export_silt_s3(silt_bin, versitygw, tmp_path_factory):
    """An agent on s3://silt-test/interop-python-export (versitygw)."""
    work = tmp_path_factory.mktemp("silt-export-s3")
    yield from _agent(silt_bin, work, "s3://silt-test/interop-python-export", "py-export-s3",
                      extra_args=("--s3-endpoint", versitygw.endpoint), env=versitygw.env())


def _run_spark(work: Path, mode: str, path: str, **opts: str) -> dict:
    """This file as a script in the venv's interpreter: one Spark session,
    one read; returns what it saw."""
    out = work / f"spark-{mode}.json"
    args = [sys.executable, str(Path(__file__).resolve()), mode, path, str(out), str(work)]
    for k, v in opts.items():
        args += [f"--{k}", v]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    log = work / f"spark-{mode}.log"
    t0 = time.monotonic()
    with open(log, "wb") as f:
        r = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           env=env, cwd=Path(__file__).parent, timeout=600)
    took = time.monotonic() - t0
    assert r.returncode == 0, f"spark child ({mode}) exit {r.returncode} after {took:.0f}s:\n" + \
        "\n".join(log.read_text(errors="replace").splitlines()[-80:])
    return json.loads(out.read_text())


EXAMPLE = harness.REPO_ROOT / "examples" / "spark" / "read_export.py"


def _run_example(work: Path, recs: list[dict], args: list[str], packages: str = "",
                 env: dict[str, str] | None = None) -> str:
    """examples/spark/read_export.py through spark-submit, as its README runs
    it; checks the per-partition lines it prints and returns its output."""
    submit = [str(Path(sys.executable).parent / "spark-submit")]
    if packages:
        submit += ["--packages", packages, "--conf", f"spark.jars.ivy={harness.CACHE_DIR / 'ivy'}",
                   "--conf", f"spark.jars.ivySettings={harness.IVY_SETTINGS}"]
    submit += ["--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
               "--conf", "spark.ui.enabled=false", "--conf", f"spark.local.dir={work / 'local'}",
               str(EXAMPLE), *args]
    env = {**os.environ, **(env or {}), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    r = subprocess.run(submit, capture_output=True, text=True, env=env, cwd=work,
                       stdin=subprocess.DEVNULL, timeout=600)
    out = r.stdout
    (work / "read_export.log").write_text(f"$ {' '.join(submit)}\n{out}\n{r.stderr}")
    assert r.returncode == 0, f"{' '.join(submit)}: exit {r.returncode}:\n{out}\n" + \
        "\n".join(r.stderr.splitlines()[-60:])
    for p in range(PARTITIONS):
        offs = [x["offset"] for x in recs if x["partition"] == p]
        line = f"partition {p}: {len(offs)} records, offsets {min(offs)}..{max(offs)}"
        assert line in out.splitlines(), f"{EXAMPLE.name} did not print {line!r}:\n{out}"
    assert f"as spark.read.format('kafka'): {KAFKA_SOURCE_SCHEMA}" in out.splitlines(), out
    return out


def _b64(b: bytes | None) -> str | None:
    return None if b is None else base64.b64encode(b).decode()


def _check(seen: dict, topic: str, recs: list[dict]) -> None:
    # The schema: Spark reads the export's timestamp as a UTC instant
    # (timestamp, not timestamp_ntz), and the columns, renamed, are exactly
    # those of the Kafka source.
    assert seen["schema"] == EXPORT_SCHEMA, \
        f"spark.read.parquet schema\n got  {seen['schema']}\n want {EXPORT_SCHEMA}"
    assert seen["kafka_schema"] == KAFKA_SOURCE_SCHEMA, \
        f"select {', '.join(KAFKA_COLUMNS)}\n got  {seen['kafka_schema']}\n want {KAFKA_SOURCE_SCHEMA}"

    # Row count, and per partition (computed by Spark) the offsets the
    # producer's delivery reports gave.
    assert seen["count"] == N
    want_parts = {}
    for r in recs:
        n, lo, hi = want_parts.get(r["partition"], (0, r["offset"], r["offset"]))
        want_parts[r["partition"]] = (n + 1, min(lo, r["offset"]), max(hi, r["offset"]))
    got_parts = {int(p): tuple(v) for p, v in seen["per_partition"].items()}
    assert got_parts == want_parts, f"per partition (count, min, max offset): {got_parts} != {want_parts}"

    # The dt=/hour= directories are the record time in UTC.
    want_dirs = sorted({(datetime.datetime.fromtimestamp(r["ts"] / 1000, datetime.timezone.utc)
                         .strftime("%Y-%m-%d"),
                         datetime.datetime.fromtimestamp(r["ts"] / 1000, datetime.timezone.utc).hour)
                        for r in recs})
    assert [tuple(d) for d in seen["dirs"]] == want_dirs

    # Every record once, at its partition and offset, every field intact.
    by_pos = {(r["partition"], r["offset"]): r for r in recs}
    got = {}
    for row in seen["rows"]:
        pos = (row["partition"], row["offset"])
        assert pos not in got, f"record at {pos} exported twice"
        got[pos] = row
    assert set(got) == set(by_pos), f"missing {sorted(set(by_pos) - set(got))[:10]}, " \
                                    f"extra {sorted(set(got) - set(by_pos))[:10]}"
    for pos, w in by_pos.items():
        g = got[pos]
        utc = datetime.datetime.fromtimestamp(w["ts"] / 1000, datetime.timezone.utc)
        want = {
            "topic": topic, "partition": w["partition"], "offset": w["offset"],
            "ts_us": w["ts"] * 1000, "ts_utc": utc.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "timestamp_type": 0,  # CreateTime
            "key": _b64(w["key"]), "value": _b64(w["value"]),
            # A record without headers has them null, as from Spark's
            # Kafka source.
            "headers": [[k, _b64(v)] for k, v in w["headers"]] if w["headers"] else None,
            "dt": utc.strftime("%Y-%m-%d"), "hour": utc.hour,
        }
        assert g == want, f"record {w['id']} at {pos}:\n got  {g}\n want {want}"


@pytest.fixture(scope="module")
def base_ms():
    """22:00 UTC the day before yesterday: the records span midnight (two dt=
    and four hour= directories), lie in the past and within retention."""
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0,
                                                                 microsecond=0)
    return int((today - datetime.timedelta(hours=26)).timestamp() * 1000)


def _make_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    from kafka_util import wait_for_partitions
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1,
                                       config={"silt.export": "parquet"})],
                             operation_timeout=30, request_timeout=30)
    fs[topic].result(30)
    wait_for_partitions(admin, topic, PARTITIONS)


def test_spark_reads_export_from_directory(export_silt, silt_bin, base_ms, tmp_path):
    """A directory bucket: spark.read.parquet("DIR/export/TOPIC"), and the
    same topic read through spark.read.format("kafka") gives the same rows."""
    topic = unique("py-export")
    _make_topic(export_silt.bootstrap, topic)
    recs = _records(base_ms)
    _produce(export_silt.bootstrap, topic, recs)
    _export(silt_bin, export_silt.bucket, topic)

    # The layout: dt=/hour=/part-<partition>-<first>-<last>.parquet, whose
    # offset ranges tile each partition.
    root = Path(export_silt.bucket) / "export" / topic
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
    ranges: dict[int, list[tuple[int, int]]] = {}
    for f in files:
        m = re.fullmatch(r"dt=\d{4}-\d\d-\d\d/hour=\d\d/part-(\d+)-(\d+)-(\d+)\.parquet", f)
        assert m, f"unexpected file in the export: {f}"
        ranges.setdefault(int(m.group(1)), []).append((int(m.group(2)), int(m.group(3))))
    for part in range(PARTITIONS):
        offs = sorted(r["offset"] for r in recs if r["partition"] == part)
        spans = sorted(ranges.get(part, []))
        assert spans and spans[0][0] == offs[0] and spans[-1][1] == offs[-1] and all(
            a[1] + 1 == b[0] for a, b in zip(spans, spans[1:])), f"partition {part}: files {spans}"

    seen = _run_spark(tmp_path, "file", str(root), bootstrap=export_silt.bootstrap, topic=topic)
    _check(seen, topic, recs)
    _run_example(tmp_path, recs, ["--dir", export_silt.bucket, "--topic", topic])

    # Spark's own Kafka source over the same topic: its schema is the one the
    # export maps to, and it gives the same rows, row for row: a record
    # without headers has them null in both.
    assert seen["kafka_source_schema"] == KAFKA_SOURCE_SCHEMA
    # Nullability too (Spark reads every Parquet column as nullable).
    assert seen["kafka_schema_json"] == seen["kafka_source_schema_json"]
    assert seen["kafka_source_count"] == N
    assert seen["raw_only_in_kafka"] == 0 and seen["raw_only_in_export"] == 0, \
        f"rows differ between spark.read.format('kafka') and the export: " \
        f"{seen['raw_only_in_kafka']} only in Kafka, {seen['raw_only_in_export']} only in the " \
        f"export, e.g. {seen['raw_diff_sample']}"
    no_headers = sum(1 for r in recs if not r["headers"])
    assert no_headers > 0
    assert (seen["kafka_null_headers"], seen["export_null_headers"], seen["export_empty_headers"]) \
        == (no_headers, no_headers, 0)
    assert seen["raw_only_in_kafka"] == seen["raw_only_in_export"] == 0, seen["raw_diff_sample"]


def test_spark_reads_export_through_s3a(export_silt_s3, silt_bin, versitygw, base_ms, tmp_path):
    """An s3:// bucket on versitygw: spark.read.parquet("s3a://BUCKET/PREFIX/export/TOPIC")
    with hadoop-aws and the README's s3a settings."""
    topic = unique("py-export-s3")
    _make_topic(export_silt_s3.bootstrap, topic)
    recs = _records(base_ms)
    _produce(export_silt_s3.bootstrap, topic, recs)
    _export(silt_bin, export_silt_s3.bucket, topic, env=versitygw.env(),
            extra=("--s3-endpoint", versitygw.endpoint))

    assert export_silt_s3.bucket.startswith("s3://")
    path = "s3a://" + export_silt_s3.bucket.removeprefix("s3://").rstrip("/") + "/export/" + topic
    seen = _run_spark(tmp_path, "s3a", path, endpoint=versitygw.endpoint,
                      access_key=versitygw.access_key, secret_key=versitygw.secret_key)
    _check(seen, topic, recs)

    bucket, _, prefix = export_silt_s3.bucket.removeprefix("s3://").partition("/")
    _run_example(tmp_path, recs, ["--bucket", bucket, "--prefix", prefix, "--topic", topic,
                                  "--endpoint", versitygw.endpoint],
                 packages=HADOOP_AWS, env=versitygw.env())


# ---------------------------------------------------------------------------
# The child process: one Spark session, one read, JSON out.


def _child(argv: list[str]) -> None:
    import argparse

    import pyspark
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["file", "s3a"])
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("work")
    ap.add_argument("--endpoint")
    ap.add_argument("--access_key")
    ap.add_argument("--secret_key")
    ap.add_argument("--bootstrap")
    ap.add_argument("--topic")
    a = ap.parse_args(argv)
    work = Path(a.work)
    ivy = harness.CACHE_DIR / "ivy"
    ivy.mkdir(parents=True, exist_ok=True)

    b = SparkSession.builder.master("local[2]").appName(f"silt-export-{a.mode}")
    if a.mode == "s3a":
        # interop/README.md, "Reading silt export Parquet from Spark over s3a".
        b = (b.config("spark.jars.packages", HADOOP_AWS).config("spark.jars.ivy", str(ivy))
             .config("spark.jars.ivySettings", str(harness.IVY_SETTINGS)))
        for k, v in s3a_settings(a.endpoint, a.access_key, a.secret_key).items():
            b = b.config(k, v)
    else:
        # A directory needs nothing; the Kafka connector is only for the comparison.
        b = (b.config("spark.jars.packages",
                      f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}")
             .config("spark.jars.excludes",
                     "org.apache.hadoop:hadoop-client-api,org.apache.hadoop:hadoop-client-runtime")
             .config("spark.jars.ivy", str(ivy))
             .config("spark.jars.ivySettings", str(harness.IVY_SETTINGS))
             .config("spark.sql.session.timeZone", "UTC"))
    spark = harness.local_spark(b, work).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")

    def b64(v):
        return None if v is None else base64.b64encode(bytes(v)).decode()

    # The README's one line: the dt=… directories (metadata/ beside them is
    # the topic's Iceberg table).
    df = spark.read.option("basePath", a.path).parquet(a.path + "/dt=*")
    kafka_like = df.selectExpr(*KAFKA_COLUMNS)
    seen: dict = {
        "schema": df.schema.simpleString(),
        "kafka_schema": kafka_like.schema.simpleString(),
        "count": df.count(),
        "per_partition": {
            str(r["partition"]): [r["n"], r["lo"], r["hi"]]
            for r in df.groupBy("partition").agg(F.count("*").alias("n"), F.min("offset").alias("lo"),
                                                 F.max("offset").alias("hi")).collect()
        },
        "dirs": [[str(r["dt"]), r["hour"]]
                 for r in df.select("dt", "hour").distinct().orderBy("dt", "hour").collect()],
        "rows": [
            {"topic": r["topic"], "partition": r["partition"], "offset": r["offset"],
             "ts_us": r["ts_us"], "ts_utc": r["ts_utc"], "timestamp_type": r["timestamp_type"],
             "key": b64(r["key"]), "value": b64(r["value"]),
             "headers": None if r["headers"] is None else [[h["key"], b64(h["value"])]
                                                           for h in r["headers"]],
             "dt": str(r["dt"]), "hour": r["hour"]}
            for r in df.select(
                "*", F.unix_micros("timestamp").alias("ts_us"),
                F.date_format("timestamp", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS").alias("ts_utc")).collect()
        ],
    }
    if a.bootstrap:
        kafka = (spark.read.format("kafka")
                 .option("kafka.bootstrap.servers", a.bootstrap)
                 .option("subscribe", a.topic)
                 .option("startingOffsets", "earliest")
                 .option("endingOffsets", "latest")
                 .option("includeHeaders", "true")
                 .load())
        seen["kafka_source_schema"] = kafka.schema.simpleString()
        seen["kafka_source_schema_json"] = kafka.schema.jsonValue()
        seen["kafka_schema_json"] = kafka_like.schema.jsonValue()
        seen["kafka_source_count"] = kafka.count()
        seen["kafka_null_headers"] = kafka.where(F.col("headers").isNull()).count()
        seen["export_null_headers"] = kafka_like.where(F.col("headers").isNull()).count()
        seen["export_empty_headers"] = kafka_like.where(F.size("headers") == 0).count()
        for name, k in (("raw", kafka),):
            only_k, only_e = k.exceptAll(kafka_like), kafka_like.exceptAll(k)
            seen[f"{name}_only_in_kafka"], seen[f"{name}_only_in_export"] = only_k.count(), only_e.count()
            seen[f"{name}_diff_sample"] = [str(r) for r in only_k.limit(2).collect() + only_e.limit(2).collect()]
    spark.stop()
    Path(a.out).write_text(json.dumps(seen))


if __name__ == "__main__":
    _child(sys.argv[1:])
