"""Read a topic's Parquet export written by silt's compactor.

spark-submit --packages org.apache.hadoop:hadoop-aws:3.3.4 read_export.py \
    --bucket silt --prefix cluster-1 --topic orders --endpoint http://127.0.0.1:9000
"""

import argparse
import os

from pyspark.sql import SparkSession, functions as F


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", default="", help="the cluster prefix in the bucket (silt --bucket s3://BUCKET/PREFIX)")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--endpoint", default=os.environ.get("SILT_S3_ENDPOINT", ""),
                    help="S3-compatible endpoint, e.g. http://127.0.0.1:9000; empty for AWS S3")
    args = ap.parse_args()

    b = SparkSession.builder.appName("silt-export")
    if args.endpoint:  # MinIO, versitygw, any S3-compatible server
        b = (b.config("spark.hadoop.fs.s3a.endpoint", args.endpoint)
              .config("spark.hadoop.fs.s3a.path.style.access", "true")
              .config("spark.hadoop.fs.s3a.connection.ssl.enabled", str(args.endpoint.startswith("https")).lower())
              .config("spark.hadoop.fs.s3a.aws.credentials.provider",
                      "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
              .config("spark.hadoop.fs.s3a.access.key", os.environ["AWS_ACCESS_KEY_ID"])
              .config("spark.hadoop.fs.s3a.secret.key", os.environ["AWS_SECRET_ACCESS_KEY"]))
    spark = b.getOrCreate()

    prefix = f"{args.prefix.strip('/')}/" if args.prefix else ""
    path = f"s3a://{args.bucket}/{prefix}export/{args.topic}"
    df = spark.read.parquet(path)  # dt and hour become columns
    df.printSchema()

    # Per partition: how many records, and the offsets they span.
    (df.groupBy("partition")
       .agg(F.count("*").alias("records"), F.min("offset").alias("first"), F.max("offset").alias("last"))
       .orderBy("partition")
       .show())

    # One hour of one day, read from that directory only; values as text,
    # tombstones (null values) left out.
    (df.where((F.col("dt") == F.current_date()) & (F.col("hour") == 12))
       .where(F.col("value").isNotNull())
       .select("partition", "offset", "timestamp", F.col("key").cast("string"), F.col("value").cast("string"))
       .orderBy("partition", "offset")
       .show(20, truncate=False))

    # Headers are list<struct<key, value>>, as Spark's Kafka source gives them.
    df.select("offset", F.explode("headers").alias("h")).select("offset", "h.key", F.col("h.value").cast("string")).show(5)


if __name__ == "__main__":
    main()
