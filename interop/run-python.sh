#!/usr/bin/env bash
# The Python interop tests (interop/python): librdkafka through confluent-kafka,
# Spark Structured Streaming and batch, and the Iceberg tables (pyiceberg, Spark
# with Iceberg's runtime), against silt agents built from this checkout.
#
#   bash interop/run-python.sh [pytest args…]     # what `make interop-python` runs
#
# Creates interop/.venv (git-ignored) on first use and installs the exact pins
# of interop/python/requirements.txt, again whenever that file changes; builds
# silt into interop/.cache/bin; Spark's Kafka connector is cached in
# interop/.cache/ivy. Needs Go, Java 17+ and Python 3.10+; versitygw is
# installed by `make tools` (the make target depends on it).
# PYTHON names the interpreter for the venv (default python3).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=interop/venv.sh
. interop/venv.sh
venv=interop/.venv
interop_venv "$venv" interop/python/requirements.txt

# Spark with Iceberg (test_iceberg.py) runs on a pyspark of its own, the
# Spark minor version Iceberg's runtime is built for, installed apart and put
# on the Spark child's PYTHONPATH (see requirements-spark-iceberg.txt).
ice_req=interop/python/requirements-spark-iceberg.txt
ice_dir=interop/.cache/spark-iceberg
want=$(sha256sum "$ice_req" | cut -d' ' -f1)
if [ "$(cat "$ice_dir/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
	rm -rf "$ice_dir"
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$ice_dir" -r "$ice_req"
	echo "$want" >"$ice_dir/.requirements.sha256"
fi
export SILT_SPARK_ICEBERG_PYTHONPATH=$root/$ice_dir

java -version >/dev/null 2>&1 || {
	echo "interop: Spark needs Java 17 or newer on PATH" >&2
	exit 1
}

mkdir -p interop/.cache/bin
go build -o interop/.cache/bin/silt ./cmd/silt
export SILT_BIN=$root/interop/.cache/bin/silt
export PYTHONDONTWRITEBYTECODE=1
export SPARK_LOCAL_IP=127.0.0.1

cd interop/python
exec "../.venv/bin/python" -m pytest -v "$@"
