#!/usr/bin/env bash
# The Flink interop test (interop/flink): PyFlink with Flink's Kafka SQL
# connector against a silt agent built from this checkout.
#
#   bash interop/run-flink.sh [pytest args…]     # what `make interop-flink` runs
#
# Creates interop/.venv-flink (git-ignored) from interop/flink/requirements.txt
# (a venv apart from interop/.venv: apache-flink and pyspark pin different
# py4j versions), fetches org.apache.flink:flink-sql-connector-kafka from Maven
# Central into interop/.cache/flink with Maven (installing a JDK and Maven
# from Debian's packages when missing), builds silt into interop/.cache/bin
# and runs pytest in interop/flink. Its figures go to
# interop/flink/target/interop-summary.txt, printed at the end.
# PYTHON names the interpreter for the venv (default python3; PyFlink 2.2
# takes Python 3.9 to 3.12).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
connector=org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2

# shellcheck source=interop/venv.sh
. interop/venv.sh
need=()
command -v java >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
if [ ${#need[@]} -gt 0 ]; then
	echo "interop-flink: installing ${need[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# apache-flink 2.2.1 and apache-beam 2.61 publish wheels for Python 3.9-3.12
# only: take the first interpreter in that range.
if [ -z "${PYTHON:-}" ]; then
	for py in python3 python3.12 python3.11 python3.10 python3.9; do
		if command -v "$py" >/dev/null &&
			"$py" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 12))'; then
			PYTHON=$py
			break
		fi
	done
	[ -n "${PYTHON:-}" ] || {
		echo "interop-flink: PyFlink 2.2 needs Python 3.9 to 3.12; none on PATH (set PYTHON)" >&2
		exit 1
	}
fi
export PYTHON
interop_venv interop/.venv-flink interop/flink/requirements.txt

IFS=: read -r _ artifact version <<<"$connector"
jar=$root/interop/.cache/flink/$artifact-$version.jar
if [ ! -f "$jar" ]; then
	mvn_args=(-B -q dependency:copy "-Dartifact=$connector" "-DoutputDirectory=$(dirname "$jar")")
	[ -n "${MAVEN_REPO_LOCAL:-}" ] && mvn_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
	mvn "${mvn_args[@]}"
fi
export FLINK_KAFKA_JAR=$jar

mkdir -p interop/.cache/bin
go build -o interop/.cache/bin/silt ./cmd/silt
export SILT_BIN=$root/interop/.cache/bin/silt
export PYTHONDONTWRITEBYTECODE=1

summary=interop/flink/target/interop-summary.txt
rm -f "$summary"
start=$(date +%s)
set +e
(cd interop/flink && ../.venv-flink/bin/python -m pytest -v "$@")
rc=$?
set -e
if [ -f "$summary" ]; then
	echo
	cat "$summary"
fi
echo "interop-flink took $(($(date +%s) - start))s"
exit $rc
