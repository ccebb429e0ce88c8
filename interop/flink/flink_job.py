"""The PyFlink job test_flink.py runs, in a process of its own so the test
can kill it (and the JVM it starts) with SIGKILL.

A streaming SQL job: read a JSON topic from the earliest offset with Flink's
Kafka connector (flink-sql-connector-kafka), a 1-minute tumbling event-time
window per key (count and sum), written as JSON to another topic,
at-least-once (silt has transactions now; Flink's exactly-once sink is not
tested here yet).
Checkpoints every second into a directory, kept on cancellation; given
--restore, the job starts from that checkpoint.

    python flink_job.py --bootstrap HOST:PORT --source T --sink T
        --jar /path/flink-sql-connector-kafka.jar --checkpoints DIR [--restore DIR/chk-N]
"""

from __future__ import annotations

import argparse

from pyflink.common import Configuration
from pyflink.table import EnvironmentSettings, TableEnvironment


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--sink", required=True)
    ap.add_argument("--group", default="silt-flink")
    ap.add_argument("--jar", required=True)
    ap.add_argument("--checkpoints", required=True)
    ap.add_argument("--restore")
    a = ap.parse_args()

    conf = Configuration()
    conf.set_string("pipeline.jars", f"file://{a.jar}")
    conf.set_string("parallelism.default", "1")
    conf.set_string("table.local-time-zone", "UTC")
    conf.set_string("execution.checkpointing.interval", "1 s")
    conf.set_string("execution.checkpointing.dir", f"file://{a.checkpoints}")
    conf.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    conf.set_string("execution.checkpointing.num-retained", "3")
    if a.restore:
        conf.set_string("execution.state-recovery.path", f"file://{a.restore}")
    env = TableEnvironment.create(
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build())

    env.execute_sql(f"""
        CREATE TABLE readings (
            k STRING,
            v BIGINT,
            ts BIGINT,
            et AS TO_TIMESTAMP_LTZ(ts, 3),
            WATERMARK FOR et AS et
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{a.source}',
            'properties.bootstrap.servers' = '{a.bootstrap}',
            'properties.group.id' = '{a.group}',
            'scan.startup.mode' = 'earliest-offset',
            'format' = 'json'
        )""")
    env.execute_sql(f"""
        CREATE TABLE per_minute (
            k STRING,
            window_start TIMESTAMP(3),
            window_end TIMESTAMP(3),
            n BIGINT,
            total BIGINT
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{a.sink}',
            'properties.bootstrap.servers' = '{a.bootstrap}',
            'sink.delivery-guarantee' = 'at-least-once',
            'format' = 'json'
        )""")
    env.execute_sql("""
        INSERT INTO per_minute
        SELECT k, window_start, window_end, COUNT(*), SUM(v)
        FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(et), INTERVAL '1' MINUTE))
        GROUP BY k, window_start, window_end""").wait()


if __name__ == "__main__":
    main()
