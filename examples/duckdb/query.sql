-- Query a topic's Parquet export written by silt's compactor.
-- Files: s3://<bucket>/<prefix>/export/<topic>/dt=YYYY-MM-DD/hour=HH/part-<partition>-<first>-<last>.parquet
INSTALL httpfs;
LOAD httpfs;

-- MinIO or another S3-compatible server; for AWS S3 use PROVIDER credential_chain
-- and leave out ENDPOINT, URL_STYLE and USE_SSL.
CREATE SECRET silt (
    TYPE s3,
    KEY_ID 'minioadmin',
    SECRET 'minioadmin',
    REGION 'us-east-1',
    ENDPOINT '127.0.0.1:9000',
    URL_STYLE 'path',
    USE_SSL false
);

CREATE VIEW orders AS
SELECT * FROM read_parquet('s3://silt/cluster-1/export/orders/*/*/*.parquet', hive_partitioning = true);

-- The columns are those of Spark's Kafka source, plus dt and hour.
DESCRIBE orders;

-- Per partition: records and the offsets they span.
SELECT partition, count(*) AS records, min("offset") AS first, max("offset") AS last
FROM orders GROUP BY partition ORDER BY partition;

-- One hour, values as text; tombstones (null values) left out. The dt and
-- hour filters prune directories, so only that hour's files are read.
SELECT partition, "offset", "timestamp", decode(key) AS key, decode(value) AS value
FROM orders
WHERE dt = current_date AND hour = 12 AND value IS NOT NULL
ORDER BY partition, "offset"
LIMIT 20;

-- Headers are a list of {key, value} structs.
SELECT "offset", h.key, decode(h.value) AS value
FROM (SELECT "offset", unnest(headers) AS h FROM orders)
LIMIT 5;
