#!/usr/bin/env bash
# The Python interop tests (interop/python): librdkafka through confluent-kafka,
# and Spark Structured Streaming, against silt agents built from this checkout.
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
interop_venv interop/.venv interop/python/requirements.txt

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
