#!/usr/bin/env bash
# The Java interop tests (interop/java, a Maven project): Apache Kafka's own
# Java client, command-line tools, system-test checkers and Kafka Streams,
# all 4.4.0, against agents started from the silt binary, on a file bucket
# and on versitygw. `make interop-java` runs this; see interop/README.md.
#
# On a fresh Debian machine it installs what it needs: a JDK (17 or newer)
# and Maven from Debian's packages; Maven fetches the Kafka artifacts into
# ~/.m2 (MAVEN_REPO_LOCAL to put them elsewhere). silt is built into
# ./bin/silt unless SILT_BINARY names a binary; versitygw is installed into
# ./.bin by `make tools` if missing.
#
# Environment: SILT_AGENTS (agents per cluster; the pom's default is 3),
# MAVEN_ARGS (extra Maven arguments, e.g. -Dtest=ToolsTest).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="/usr/local/go/bin:$PATH"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

java_major() {
	java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1
}
need=()
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
	need+=(openjdk-17-jdk-headless)
fi
command -v mvn >/dev/null || need+=(maven)
command -v openssl >/dev/null || need+=(openssl) # SecurityTest's certificates
if [ ${#need[@]} -gt 0 ]; then
	echo "interop-java: installing ${need[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if [ -z "${SILT_BINARY:-}" ]; then
	SILT_BINARY=$root/bin/silt
	go build -o "$SILT_BINARY" ./cmd/silt
fi
versitygw=$root/.bin/versitygw
[ -x "$versitygw" ] || make tools

target=$root/interop/java/target
rm -rf "$target/silt-work" "$target/interop-summary.txt" "$target/surefire-reports"

mvn_args=(-B -q -f interop/java/pom.xml test
	"-Dsilt.binary=$SILT_BINARY"
	"-Dversitygw.binary=$versitygw")
# The default number of agents is the pom's silt.agents property.
[ -n "${SILT_AGENTS:-}" ] && mvn_args+=("-Dsilt.agents=$SILT_AGENTS")
[ -n "${MAVEN_REPO_LOCAL:-}" ] && mvn_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
# shellcheck disable=SC2206
[ -n "${MAVEN_ARGS:-}" ] && mvn_args+=($MAVEN_ARGS)

start=$(date +%s)
# The services the ecosystem tests start run on class paths of their own
# (Jvm.java): Kafka Connect and MirrorMaker 2 4.3.1 (the newest of
# connect-file and connect-mirror served; classpaths/connect/pom.xml says
# why) and a Kafka 4.4.0 broker (bench-kafka's pom).
mkdir -p "$target"
for cp in connect:interop/java/classpaths/connect broker:interop/bench-kafka; do
	cp_args=(-B -q -f "${cp#*:}/pom.xml" dependency:build-classpath "-Dmdep.outputFile=$target/classpath-${cp%%:*}.txt")
	[ -n "${MAVEN_REPO_LOCAL:-}" ] && cp_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
	mvn "${cp_args[@]}"
done
set +e
mvn "${mvn_args[@]}"
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))

echo
echo "== interop-java: results (agent logs and tool output in interop/java/target/silt-work)"
results=$(python3 - "$target/surefire-reports" <<'PY'
import glob, os, re, sys
import xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "TEST-*.xml"))):
    for case in ET.parse(path).getroot().iter("testcase"):
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        # "method(String) display name" for parameterized tests: keep the display name.
        name = f"{cls}.{re.sub(r'[(][^)]*[)]', '', case.get('name'), count=1)}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1; status = "FAIL"
        elif case.find("skipped") is not None:
            skipped += 1; status = "SKIP"
        else:
            passed += 1; status = "PASS"
        print(f"{status} {name} ({float(case.get('time', 0)):.1f}s)")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
)
echo "$results" | sed '$d'
if [ -f "$target/interop-summary.txt" ]; then
	echo
	cat "$target/interop-summary.txt"
fi
echo
echo "interop-java took ${elapsed}s"
echo "interop-java: $(echo "$results" | tail -n1)"
exit $rc
