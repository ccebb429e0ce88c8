"""Spark Structured Streaming reads a silt topic through Spark's own Kafka
source (spark-sql-kafka-0-10, which uses the Java Kafka consumer).

The connector is resolved from Maven Central by spark.jars.packages, in the
version of the installed pyspark, and cached in interop/.cache/ivy.
"""

from __future__ import annotations

import os
import sys

import pyspark
import pytest

from kafka_util import check_offsets, create_topic, make_records, produce, unique
import harness


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    work = tmp_path_factory.mktemp("spark")
    ivy = harness.CACHE_DIR / "ivy"
    ivy.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Bind the driver to loopback (Spark otherwise picks the first non-loopback
    # interface when the host name resolves to 127.0.0.1).
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder
        .master("local[2]")
        .appName("silt-interop")
        .config("spark.jars.packages",
                f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}")
        # pyspark ships the same Hadoop client jars; don't fetch them twice.
        .config("spark.jars.excludes",
                "org.apache.hadoop:hadoop-client-api,org.apache.hadoop:hadoop-client-runtime")
        .config("spark.jars.ivy", str(ivy))
        .config("spark.jars.ivySettings", str(harness.IVY_SETTINGS))
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(work / "warehouse"))
        .config("spark.local.dir", str(work / "local"))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()


def test_structured_streaming_reads_every_record(silt, spark, tmp_path):
    from pyspark.sql import functions as F

    topic = unique("py-spark")
    partitions, n = 3, 3000
    create_topic(silt.bootstrap, topic, partitions)
    # Two producers and two codecs, so the partitions hold several batches each.
    want = produce(silt.bootstrap, topic, make_records(n // 2, "spark-a"), compression="zstd")
    want += produce(silt.bootstrap, topic, make_records(n - n // 2, "spark-b", start=n // 2),
                    compression="snappy")
    ends = check_offsets(want)
    assert set(ends) == set(range(partitions)), f"some partition got no record: {ends}"

    df = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", silt.bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("includeHeaders", "true")
        .load()
    )
    query = (
        df.writeStream.format("memory")
        .queryName("silt_stream")
        .trigger(availableNow=True)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    try:
        assert query.awaitTermination(300), "availableNow query did not finish in 300s"
        assert query.exception() is None, query.exception()
        rows = spark.table("silt_stream")

        assert rows.count() == n
        per_part = {
            r["partition"]: (r["n"], r["lo"], r["hi"])
            for r in rows.groupBy("partition")
            .agg(F.count("*").alias("n"), F.min("offset").alias("lo"), F.max("offset").alias("hi"))
            .collect()
        }
        assert per_part == {p: (end, 0, end - 1) for p, end in ends.items()}

        # Every record once, at the offset its delivery report gave, intact.
        got = {
            (r["partition"], r["offset"]): r
            for r in rows.select("topic", "partition", "offset", "key", "value", "headers",
                                 "timestampType").collect()
        }
        assert len(got) == n
        for w in want:
            r = got[(w.partition, w.offset)]
            assert r["topic"] == topic
            assert r["timestampType"] == 0  # CreateTime
            assert (bytes(r["key"]) if r["key"] is not None else None) == w.key
            assert (bytes(r["value"]) if r["value"] is not None else None) == w.value
            headers = tuple((h["key"], bytes(h["value"]) if h["value"] is not None else None)
                            for h in (r["headers"] or []))
            assert headers == w.headers, f"record {w.id}: headers {headers} != {w.headers}"
    finally:
        query.stop()
