"""Query a topic's Iceberg table with Spark, through silt's REST catalog and
by the table's path.

    pip install pyspark==4.1.4     # Java 17+; Iceberg's runtime is built for Spark 4.1
    spark-submit --packages org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0 \\
      spark_query.py --catalog http://localhost:9644 --topic orders --path ./silt-data/export/orders
    # an S3 bucket: also --packages org.apache.hadoop:hadoop-aws:3.4.2 (the Hadoop of
    # pyspark 4.1) and the s3a settings of examples/spark, with
    # spark.hadoop.fs.s3.impl=org.apache.hadoop.fs.s3a.S3AFileSystem (the tables
    # name their files s3://…), and --path s3a://bucket/prefix/export/orders

Prints per partition the records and offsets of the current snapshot (read
through the catalog, then by path), the snapshots, and the plan of a query
on one hour, whose IcebergScan carries the filter: only that hour's files
are read.
"""

import argparse

from pyspark.sql import SparkSession


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalog", default="http://localhost:9644", help="a silt agent's HTTP address")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--path", help="the table's location, to read it without the catalog too")
    a = ap.parse_args()

    spark = (SparkSession.builder.appName("silt-iceberg-example")
             .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
             .config("spark.sql.catalog.silt", "org.apache.iceberg.spark.SparkCatalog")
             .config("spark.sql.catalog.silt.type", "rest")
             .config("spark.sql.catalog.silt.uri", a.catalog)
             .config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    table = f"silt.silt.`{a.topic}`"
    per_partition = ("SELECT partition, count(*) AS n, min(offset) AS lo, max(offset) AS hi FROM {} "
                     "GROUP BY partition ORDER BY partition")
    sources = [("catalog", table)]
    if a.path:
        spark.read.format("iceberg").load(a.path).createOrReplaceTempView("by_path")
        sources.append(("path", "by_path"))
    for how, src in sources:
        for r in spark.sql(per_partition.format(src)).collect():
            print(f"{how}: partition {r['partition']}: {r['n']} records, offsets {r['lo']}..{r['hi']}")

    spark.sql(f"SELECT committed_at, snapshot_id, operation, summary['total-records'] AS records "
              f"FROM {table}.snapshots ORDER BY committed_at").show(truncate=False)

    newest = spark.sql(f"SELECT date_trunc('hour', max(timestamp)) AS h FROM {table}").first()["h"]
    spark.sql(f"SELECT * FROM {table} WHERE timestamp >= TIMESTAMP '{newest}' "
              f"AND timestamp < TIMESTAMP '{newest}' + INTERVAL 1 HOUR").explain()
    spark.stop()


if __name__ == "__main__":
    main()
