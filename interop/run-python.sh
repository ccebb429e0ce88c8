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
venv=interop/.venv
req=interop/python/requirements.txt
py=${PYTHON:-python3}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian and Ubuntu ship venv and ensurepip separately (python3-venv).
if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
	if command -v apt-get >/dev/null; then
		ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
		echo "interop: $py has no venv module; installing python3-venv" >&2
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$ver-venv" ||
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
	fi
	"$py" -c 'import venv, ensurepip' || {
		echo "interop: $py cannot create a virtual environment (no venv/ensurepip)" >&2
		exit 1
	}
fi

# A venv whose interpreter is gone (a removed pyenv version) is rebuilt.
if [ -e "$venv" ] && ! "$venv/bin/python" -c 'pass' 2>/dev/null; then
	rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
	"$py" -m venv "$venv"
fi
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
	echo "$want" >"$venv/.requirements.sha256"
fi

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
