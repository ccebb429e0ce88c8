"""Read a topic's Iceberg table through silt's REST catalog with pyiceberg.

    pip install "pyiceberg[pyarrow]==0.12.0"
    python pyiceberg_query.py --catalog http://localhost:9644 --topic orders
    # an S3 bucket: add --s3-endpoint http://127.0.0.1:9000 and set
    # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY

Prints the table's snapshots (one per export pass), then per partition the
records and offsets the current snapshot holds.
"""

import argparse
import os

from pyiceberg.catalog import load_catalog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalog", default="http://localhost:9644", help="a silt agent's HTTP address")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--s3-endpoint", help="an S3-compatible server (MinIO, versitygw); leave out on AWS S3")
    a = ap.parse_args()

    props = {}
    if a.s3_endpoint:
        props = {"s3.endpoint": a.s3_endpoint, "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
                 "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
                 "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"]}
    silt = load_catalog("silt", type="rest", uri=a.catalog, **props)
    table = silt.load_table(f"silt.{a.topic}")
    for s in table.snapshots():
        print(f"snapshot {s.snapshot_id}: {s.summary.operation.value}, "
              f"{s.summary.additional_properties.get('total-records')} records")

    rows = table.scan(selected_fields=("partition", "offset")).to_arrow()
    by_partition = rows.group_by("partition").aggregate([("offset", "count"), ("offset", "min"), ("offset", "max")])
    for r in sorted(by_partition.to_pylist(), key=lambda r: r["partition"]):
        print(f"partition {r['partition']}: {r['offset_count']} records, offsets {r['offset_min']}..{r['offset_max']}")


if __name__ == "__main__":
    main()
