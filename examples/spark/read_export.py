"""Read a topic's Parquet export (silt export, or the compactor with
silt.export=parquet) with Spark.

    # a bucket on an S3-compatible server (MinIO, versitygw): keys from the environment
    spark-submit --packages org.apache.hadoop:hadoop-aws:3.5.0 read_export.py \
        --bucket silt --prefix cluster-1 --topic orders --endpoint http://127.0.0.1:9000
    # a directory bucket (silt agent --bucket ./silt-data): no package needed
    spark-submit read_export.py --dir ./silt-data --topic orders

hadoop-aws must be the version of the Hadoop inside your Spark: 3.5.0 for
pyspark 4.2.0. interop/python/test_spark_batch.py runs this script.
"""

import argparse
import os

from pyspark.sql import SparkSession, functions as F

# The columns of spark.read.format("kafka") (includeHeaders=true), in its order.
KAFKA_COLUMNS = ["key", "value", "topic", "partition", "offset", "timestamp",
                 "timestamp_type AS timestampType", "headers"]


def main() -> None:
    ap = argparse.ArgumentParser()
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--bucket", help="the S3 bucket (silt --bucket s3://BUCKET/PREFIX)")
    where.add_argument("--dir", help="a directory bucket (silt --bucket DIR)")
    ap.add_argument("--prefix", default="", help="the cluster prefix in the bucket")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--endpoint", default=os.environ.get("SILT_S3_ENDPOINT", ""),
                    help="S3-compatible endpoint, e.g. http://127.0.0.1:9000; empty for AWS S3")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    args = ap.parse_args()

    # dt= and hour= are UTC; so is everything this job prints.
    b = SparkSession.builder.appName("silt-export").config("spark.sql.session.timeZone", "UTC")
    if args.bucket and args.endpoint:  # MinIO, versitygw, any S3-compatible server
        b = (b.config("spark.hadoop.fs.s3a.endpoint", args.endpoint)
              .config("spark.hadoop.fs.s3a.endpoint.region", args.region)  # required: HTTP 400 without it
              .config("spark.hadoop.fs.s3a.path.style.access", "true")
              .config("spark.hadoop.fs.s3a.connection.ssl.enabled", str(args.endpoint.startswith("https")).lower())
              .config("spark.hadoop.fs.s3a.aws.credentials.provider",
                      "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
              .config("spark.hadoop.fs.s3a.access.key", os.environ["AWS_ACCESS_KEY_ID"])
              .config("spark.hadoop.fs.s3a.secret.key", os.environ["AWS_SECRET_ACCESS_KEY"]))
    spark = b.getOrCreate()

    if args.dir:
        path = os.path.join(os.path.abspath(args.dir), "export", args.topic)
    else:
        prefix = f"{args.prefix.strip('/')}/" if args.prefix else ""
        path = f"s3a://{args.bucket}/{prefix}export/{args.topic}"
    # The dt=… directories only: metadata/ beside them is the topic's Iceberg
    # table (read_table.py reads through it). dt (date) and hour (int)
    # become columns.
    df = spark.read.option("basePath", path).parquet(path + "/dt=*")
    df.printSchema()

    # The same columns, names and types as a job reading the topic through
    # Spark's Kafka source gets.
    kafka = df.selectExpr(*KAFKA_COLUMNS)
    print("as spark.read.format('kafka'):", kafka.schema.simpleString())

    # Per partition: how many records, and the offsets they span.
    for r in (df.groupBy("partition")
                .agg(F.count("*").alias("records"), F.min("offset").alias("first"),
                     F.max("offset").alias("last"))
                .orderBy("partition").collect()):
        print(f"partition {r['partition']}: {r['records']} records, offsets {r['first']}..{r['last']}")

    # The latest hour in the archive, read from its directories only; values
    # as text, tombstones (null values) left out.
    last = df.select("dt", "hour").orderBy(F.desc("dt"), F.desc("hour")).first()
    print(f"dt={last['dt']} hour={last['hour']:02d}:")
    (df.where((F.col("dt") == F.lit(last["dt"])) & (F.col("hour") == last["hour"]))
       .where(F.col("value").isNotNull())
       .select("partition", "offset", "timestamp", F.col("key").cast("string"), F.col("value").cast("string"))
       .orderBy("partition", "offset")
       .show(10, truncate=False))

    # Headers are list<struct<key, value>>, as Spark's Kafka source gives them.
    (df.select("partition", "offset", F.explode("headers").alias("h"))
       .select("partition", "offset", "h.key", F.col("h.value").cast("string"))
       .show(5))


if __name__ == "__main__":
    main()
