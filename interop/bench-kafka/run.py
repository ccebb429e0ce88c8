#!/usr/bin/env python3
"""make bench-kafka: silt against Apache Kafka 4.4.0 on this machine, in one run.

Starts, one system at a time on loopback ports:

  kafka      a single-node KRaft broker (combined broker+controller) from the
             Maven jars of interop/bench-kafka/pom.xml, log dir on this disk,
             Kafka's default durability settings (no fsync per produce);
  silt-file  `silt agent` on a file bucket on this disk;
  silt-s3    `silt agent` on versitygw (posix backend on this disk);

and runs the same workloads on each with Kafka's own tools:
ProducerPerformance (throughput, and latency at a fixed rate),
ConsumerPerformance (from cache; for silt also cold, from a fresh agent on
the same bucket) and EndToEndLatency; optionally `silt bench --brokers`
(franz-go) against Kafka and silt-file. Each server's CPU seconds come from
/proc/<pid>/stat (utime+stime) around each phase, its peak RSS from
/proc/<pid>/status (VmHWM) before it is stopped. Prints one side-by-side
table with silt/Kafka ratios and writes it, with the raw figures, to
interop/.cache/bench-kafka/ (results.txt, results.md, results.json; every
tool's and server's output under logs/).

Python standard library only. See interop/bench-kafka/README.md.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(ROOT, "interop", ".cache", "bench-kafka")
TICK = os.sysconf("SC_CLK_TCK")
MiB = 1 << 20

# versitygw's root credentials: it listens on loopback only and is thrown
# away after the run (the same fixed values as localstack/s3server).
S3_ACCESS, S3_SECRET, S3_REGION = "silt-test-access", "silt-test-secret-key-0123456789", "us-east-1"
S3_BUCKET = "silt-bench"

# The JVM settings of Kafka's own start scripts (kafka-server-start.sh sets a
# 1 GiB heap, kafka-run-class.sh G1 with these pauses); the perf-test scripts
# give the tools 512 MiB.
KAFKA_JVM = ["-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
             "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
             "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true"]
TOOL_JVM = ["-Xmx512M", "-server", "-XX:+UseG1GC", "-Djava.awt.headless=true"]

SYSTEMS = ["kafka", "silt-file", "silt-s3"]
LABEL = {"kafka": "Kafka 4.4.0", "silt-file": "silt file", "silt-s3": "silt S3"}


def log(msg):
    print(f"[bench-kafka {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    """A phase that did not produce a figure; the run goes on without it."""


# ---------------------------------------------------------------- sizes


def parse_size(s):
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?)B?\s*", s, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"{s!r}: want a size such as 1GiB, 512MiB or 20MB")
    n, unit, binary = float(m.group(1)), m.group(2).upper(), m.group(3)
    base = 1024 if binary else 1000
    return int(n * base ** " KMGT".index(unit or " "))


def fmt_size(n):
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k and n % k == 0:
            return f"{n // k}{unit}"
    return f"{n}B"


# ---------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid, split=False):
    """utime+stime of pid (all its threads) in seconds; (utime, stime) if split."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    user, system = int(fields[11]) / TICK, int(fields[12]) / TICK
    return (user, system) if split else user + system


def machine_busy():
    """CPU seconds the whole machine has been busy (all CPUs, /proc/stat:
    everything but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice,
    # already counted in user and nice]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


def children_cpu():
    """CPU seconds of this process's children that have ended (the tools)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def proc_hwm(pid):
    """Peak resident set size of pid in bytes (VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


class Server:
    """A server process whose CPU and peak RSS the run reads."""

    def __init__(self, name, argv, logpath, env=None, cwd=None):
        self.name, self.logpath = name, logpath
        self.argv = argv
        with open(logpath, "a") as f:
            shown = ["<classpath: interop/.cache/bench-kafka/classpath.txt>" if len(a) > 400 and ":" in a else a
                     for a in argv]
            f.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(shown)}\n")
        self.logf = open(logpath, "a")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.p.pid
        self.hwm = None
        self.cpu_total = None

    def alive(self):
        return self.p.poll() is None

    def cpu(self):
        return proc_cpu(self.pid)

    def log_tail(self, n=30):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout=60):
        """SIGTERM, then SIGKILL after timeout; records VmHWM and total CPU first."""
        if self.alive():
            try:
                self.hwm = proc_hwm(self.pid)
                self.cpu_total = proc_cpu(self.pid)
            except OSError:
                pass
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: no exit {timeout}s after SIGTERM, killing it")
                self.p.kill()
                self.p.wait()
        self.logf.close()
        return self.p.returncode


def spread_subdirectories(path):
    """Asks ext4 to place each directory made in path (every system's data)
    in an inode group of its own, as it places top-level directories
    (chattr +T; best effort, a no-op elsewhere).

    Without a journal (as on the machines here), ext4 will not reuse an
    inode freed in the last 1 to 6 minutes while the group has another:
    each file created walks past every such inode. A run ends by deleting
    its data, thousands of silt's objects, so in the run after it every
    file silt creates (one a flush) paid for the last run's deletions
    (kernel time 2.4 times as high and throughput 25% lower, producing
    with the Java producer's defaults in a directory next to freshly
    deleted ones, against a directory in a group of its own). A broker
    that has run for an hour pays for its own deletions the same way; that
    is the steady state of a long run, which a 4-minute benchmark does not
    have, not the cost of the previous benchmark's cleanup."""
    try:
        subprocess.run(["chattr", "+T", path], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass


def settle_page_cache():
    """Writes everything back and drops the clean page cache (root only;
    best effort), so that every system, and every produce phase after the
    first, starts with the memory the page cache held free (not before a
    consume: Kafka reads from the page cache).

    On the virtual machines here memory is cheap to use again once it has
    been used and freed, and dear the first time: writing 1 GB into the page
    cache took 0.16-0.27 s of kernel time in memory just freed (a deleted
    file, dropped caches) and 0.95-2.4 s in memory the machine had not used
    yet. The system measured second found the first one's files still in
    the page cache and grew into new memory: in one run silt, second, spent
    2.73 s of kernel time producing 1 GiB where it spends 1.2-1.5 s first,
    most of it in the kernel's copy into the page cache; and each later
    produce phase grew the page cache further. Files stay on disk (the
    report counts their size); only their cached copy goes, so silt's cold
    consume reads what the fresh agent fetches from the disk."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
    except OSError as e:
        log(f"page cache not dropped ({e.strerror}): the system measured second may grow into memory not used yet")
    time.sleep(1)


# ---------------------------------------------------------------- the run


class Run:
    def __init__(self, args):
        self.a = args
        self.work = os.path.join(CACHE, "run")
        self.logs = os.path.join(CACHE, "logs")
        self.silt = os.path.join(CACHE, "silt")
        self.cp = None
        self.results = {s: {} for s in SYSTEMS}
        self.failures = []  # (system, phase, message)
        self.servers = []  # every server started, for cleanup
        self.tool_seq = 0

    # ------------------------------------------------------------ setup

    def prepare(self):
        for d in (self.work, self.logs):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        spread_subdirectories(self.work)
        self.ensure_java()
        if not self.a.skip_build:
            log("building silt")
            subprocess.run(["go", "build", "-o", self.silt, "./cmd/silt"], cwd=ROOT, check=True)
        cpfile = os.path.join(CACHE, "classpath.txt")
        log("resolving Kafka 4.4.0's classpath (Maven)")
        subprocess.run(["mvn", "-B", "-q", "-f", os.path.join(HERE, "pom.xml"), "dependency:build-classpath",
                        f"-Dmdep.outputFile={cpfile}"], check=True)
        with open(cpfile) as f:
            self.cp = f.read().strip()

    def ensure_java(self):
        need = []
        if not shutil.which("java"):
            need.append("openjdk-17-jdk-headless")
        if not shutil.which("mvn"):
            need.append("maven")
        if need:
            log(f"installing {' '.join(need)}")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            sudo = [] if os.geteuid() == 0 else ["sudo"]
            subprocess.run(sudo + ["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + need, env=env,
                           check=True)

    def machine(self):
        cpu = "unknown CPU"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = ""
        try:
            with open("/proc/meminfo") as f:
                kb = int(f.readline().split()[1])
                mem = f"{kb / (1 << 20):.0f} GiB RAM"
        except (OSError, ValueError, IndexError):
            pass
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
        gov = subprocess.run(["go", "version"], capture_output=True, text=True, cwd=ROOT).stdout.split()
        return {
            "load_at_start": " ".join(open("/proc/loadavg").read().split()[:3]),
            "cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "java": java[0] if java else "?", "go": gov[2] if len(gov) > 2 else "?",
        }

    # ------------------------------------------------------------ tools

    def java(self, main, args, name, timeout, jvm=None):
        """Runs one of Kafka's tools in its own JVM; returns its stdout. Its
        stdout and stderr are kept in logs/NN-name.out and .err."""
        self.tool_seq += 1
        base = os.path.join(self.logs, f"{self.tool_seq:02d}-{name}")
        argv = ["java"] + (jvm or TOOL_JVM) + [f"-Dlog4j2.configurationFile={HERE}/log4j2-tools.xml",
                                               "-cp", self.cp, main] + args
        with open(base + ".out", "w") as out, open(base + ".err", "w") as err:
            err.write(" ".join("<classpath: interop/.cache/bench-kafka/classpath.txt>" if a == self.cp else a
                               for a in argv) + "\n")
            err.flush()
            try:
                p = subprocess.run(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise Failure(f"{main.rsplit('.', 1)[-1]} still running after {timeout}s (see {base}.err)")
        with open(base + ".out") as f:
            stdout = f.read()
        if p.returncode != 0:
            with open(base + ".err", errors="replace") as f:
                tail = "".join(f.readlines()[-15:])
            raise Failure(f"{main.rsplit('.', 1)[-1]} exited {p.returncode} (see {base}.err):\n{tail}")
        return stdout

    def create_topic(self, bootstrap, topic, partitions, name):
        last = None
        for attempt in range(5):
            try:
                self.java("org.apache.kafka.tools.TopicCommand",
                          ["--bootstrap-server", bootstrap, "--create", "--topic", topic,
                           "--partitions", str(partitions), "--replication-factor", "1"],
                          f"{name}-create-{topic}", timeout=120)
                return True
            except Failure as e:
                last = e
                time.sleep(2)
        raise last

    def measured(self, servers, fn):
        """Runs fn(); returns (its result, wall seconds, {server name: CPU
        seconds}). The result, a dict, also gets the first server's user and
        system CPU seconds apart, and the whole machine's busy seconds less
        the tools' (machine_s), counted until everything written is on the
        disk (a sync after fn, outside the wall time): the server's CPU
        with what the kernel does for it in threads of its own, such as
        writing back Kafka's page cache, which Kafka leaves to them (and
        with the CPU of anything else running, so on a quiet machine
        only)."""
        before = {s.name: proc_cpu(s.pid, split=True) for s in servers}
        busy0, tools0 = machine_busy(), children_cpu()
        t0 = time.monotonic()
        out = fn()
        wall = time.monotonic() - t0
        after = {s.name: proc_cpu(s.pid, split=True) for s in servers}
        os.sync()
        busy1, tools1 = machine_busy(), children_cpu()
        first = servers[0].name
        out["server_user_s"] = after[first][0] - before[first][0]
        out["server_sys_s"] = after[first][1] - before[first][1]
        out["machine_s"] = (busy1 - busy0) - (tools1 - tools0)
        return out, wall, {k: sum(after[k]) - sum(before[k]) for k in before}

    PP = re.compile(r"(\d+)( steady state)? records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), "
                    r"([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, "
                    r"(\d+) ms 99th, (\d+) ms 99.9th")

    def producer_perf(self, bootstrap, topic, records, rate, name, warmup=0, props=None, extra=()):
        """ProducerPerformance: acks=all, idempotent, plus props (default
        --producer-props; [] for the producer's defaults) and extra
        arguments (a transactional id)."""
        props = self.a.producer_props if props is None else props
        args = ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
                "--record-size", str(self.a.record_size), "--throughput", str(rate),
                "--command-property", "acks=all", "enable.idempotence=true", f"bootstrap.servers={bootstrap}"] + props
        if warmup:
            args += ["--warmup-records", str(warmup)]
        args += list(extra)
        out = self.java("org.apache.kafka.tools.ProducerPerformance", args, name, timeout=self.a.phase_timeout)
        lines = [m for m in self.PP.finditer(out)]
        if not lines:
            raise Failure(f"ProducerPerformance printed no summary:\n{out[-1500:]}")
        total = [m for m in lines if not m.group(2)][-1]
        if int(total.group(1)) != records:
            raise Failure(f"ProducerPerformance: {total.group(1)} of {records} records acknowledged")
        m = ([m for m in lines if m.group(2)] or [total])[-1]
        return {
            "records": int(m.group(1)), "records_per_sec": float(m.group(3)), "mb_per_sec": float(m.group(4)),
            "avg_ms": float(m.group(5)), "max_ms": float(m.group(6)), "p50_ms": int(m.group(7)),
            "p95_ms": int(m.group(8)), "p99_ms": int(m.group(9)), "p999_ms": int(m.group(10)),
            "steady_state": bool(m.group(2)),
        }

    def consumer_perf(self, bootstrap, topic, records, name):
        out = self.java("org.apache.kafka.tools.ConsumerPerformance",
                        ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
                         "--timeout", "60000", "--group", f"bench-{name}"],
                        name, timeout=self.a.phase_timeout)
        lines = out.strip().splitlines()
        hdr = next((i for i, l in enumerate(lines) if l.startswith("start.time")), None)
        if hdr is None or hdr + 1 >= len(lines):
            raise Failure(f"ConsumerPerformance printed no result:\n{out[-1500:]}")
        cols = [c.strip() for c in lines[hdr].split(",")]
        vals = [v.strip() for v in lines[hdr + 1].split(",")]
        r = dict(zip(cols, vals))
        res = {
            "mb": float(r["data.consumed.in.MB"]), "mb_per_sec": float(r["MB.sec"]),
            "records": int(r["data.consumed.in.nMsg"]), "rebalance_ms": int(r["rebalance.time.ms"]),
            "fetch_ms": int(r["fetch.time.ms"]), "fetch_mb_per_sec": float(r["fetch.MB.sec"]),
        }
        if res["records"] < records:
            raise Failure(f"ConsumerPerformance read {res['records']} of {records} records "
                          f"(timed out waiting for more):\n{out[-800:]}")
        return res

    def share_perf(self, bootstrap, topic, records, group, name):
        """ShareConsumerPerformance: --share-members share consumers of one
        group on the topic, from its earliest record."""
        self.java("org.apache.kafka.tools.ConfigCommand",
                  ["--bootstrap-server", bootstrap, "--alter", "--entity-type", "groups", "--entity-name", group,
                   "--add-config", "share.auto.offset.reset=earliest"], f"{name}-group-config", timeout=120)
        out = self.java("org.apache.kafka.tools.ShareConsumerPerformance",
                        ["--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
                         "--threads", str(self.a.share_members), "--num-records", str(records), "--timeout", "60000"],
                        name, timeout=self.a.phase_timeout)
        lines = out.strip().splitlines()
        hdr = next((i for i, l in enumerate(lines) if l.startswith("start.time")), None)
        if hdr is None or hdr + 1 >= len(lines):
            raise Failure(f"ShareConsumerPerformance printed no result:\n{out[-1500:]}")
        r = dict(zip([c.strip() for c in lines[hdr].split(",")], [v.strip() for v in lines[hdr + 1].split(",")]))
        res = {"mb_per_sec": float(r["MB.sec"]), "records_per_sec": float(r["nMsg.sec"]),
               "records": int(r["data.consumed.in.nMsg"]), "fetch_ms": int(r["fetch.time.ms"])}
        if res["records"] < records:
            raise Failure(f"ShareConsumerPerformance read {res['records']} of {records} records:\n{out[-800:]}")
        return res

    def share_phase(self, system, bootstrap, servers):
        """Queue consumption: --share-records records of --record-size on
        one partition, read by --share-members members of a share group."""
        a = self.a
        if not a.share_records:
            return

        def share():
            topic = "share"
            self.create_topic(bootstrap, topic, 1, system)
            self.producer_perf(bootstrap, topic, a.share_records, -1, f"{system}-share-produce")
            r, wall, cpu = self.measured(servers, lambda: self.share_perf(
                bootstrap, topic, a.share_records, f"bench-share-{system}", f"{system}-share-consume"))
            r.update(wall_s=wall, server_cpu_s=cpu[servers[0].name])
            return r
        self.phase(system, "share", share)

    E2E_AVG = re.compile(r"Avg latency: ([\d.]+) ms")
    E2E_PCT = re.compile(r"Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)")

    def end_to_end(self, bootstrap, topic, messages, name, per_message_s):
        props = os.path.join(self.work, f"{name}.properties")
        with open(props, "w") as f:
            f.write("enable.idempotence=true\n")
        out = self.java("org.apache.kafka.tools.EndToEndLatency",
                        [bootstrap, topic, str(messages), "all", str(self.a.record_size), props],
                        name, timeout=int(120 + messages * per_message_s))
        a, p = self.E2E_AVG.search(out), self.E2E_PCT.search(out)
        if not a or not p:
            raise Failure(f"EndToEndLatency printed no percentiles:\n{out[-1500:]}")
        return {"messages": messages, "avg_ms": float(a.group(1)), "p50_ms": int(p.group(1)),
                "p99_ms": int(p.group(2)), "p999_ms": int(p.group(3))}

    def franz(self, bootstrap, name):
        """`silt bench --brokers`: franz-go producers and consumers (its own
        workload: 4 producers, snappy, linger 10ms), produce and cached steps."""
        self.tool_seq += 1
        base = os.path.join(self.logs, f"{self.tool_seq:02d}-{name}")
        argv = [self.silt, "bench", "--brokers", bootstrap, "--steps", "produce,cached",
                "--volume", str(self.a.franz_volume), "--partitions", str(self.a.partitions), "--json"]
        with open(base + ".out", "w") as out, open(base + ".err", "w") as err:
            err.write(" ".join(argv) + "\n")
            err.flush()
            p = subprocess.run(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=self.a.phase_timeout)
        if p.returncode != 0:
            with open(base + ".err", errors="replace") as f:
                raise Failure(f"silt bench --brokers exited {p.returncode}:\n" + "".join(f.readlines()[-10:]))
        with open(base + ".out") as f:
            res = json.load(f)

        def mbps(ph):
            return ph["bytes"] / MiB / (ph["duration_ns"] / 1e9) if ph.get("duration_ns") else None

        return {"produce_mb_per_sec": mbps(res["silt"]["produce"]),
                "consume_mb_per_sec": mbps(res["silt"]["cached_consume"])}

    # ------------------------------------------------------------ phases

    def phase(self, system, key, fn):
        """Runs one measurement, recording its result or its failure."""
        log(f"{system}: {key}")
        try:
            r = fn()
            self.results[system][key] = r
            return r
        except Failure as e:
            msg = str(e)
            log(f"{system}: {key} FAILED: {msg}")
            self.failures.append((system, key, msg))
        except subprocess.TimeoutExpired as e:
            log(f"{system}: {key} FAILED: timed out: {e}")
            self.failures.append((system, key, f"timed out: {e}"))
        return None

    def throughput_phases(self, system, bootstrap, srv, extra_servers=(), topic_prefix=""):
        """Produce throughput then consume from cache, on server srv."""
        a = self.a
        records = a.volume // a.record_size
        topic = topic_prefix + "perf"
        servers = [srv] + list(extra_servers)

        def produce():
            r, wall, cpu = self.measured(servers, lambda: self.producer_perf(
                bootstrap, topic, records, -1, f"{system}-produce"))
            gb = records * a.record_size / 1e9
            r.update(wall_s=wall, server_cpu_s=cpu[srv.name], cpu_s_per_gb=cpu[srv.name] / gb,
                     other_cpu_s={k: v for k, v in cpu.items() if k != srv.name})
            r["other_cpu_s_per_gb"] = {k: v / gb for k, v in r["other_cpu_s"].items()}
            return r

        def consume():
            # The consumer client is the bottleneck on two cores and the
            # machine is shared: the median of --consume-runs reads.
            runs = []
            for i in range(a.consume_runs):
                r, wall, cpu = self.measured(servers, lambda: self.consumer_perf(
                    bootstrap, topic, records, f"{system}-consume-cached-{i + 1}"))
                gb = records * a.record_size / 1e9
                r.update(wall_s=wall, server_cpu_s=cpu[srv.name], cpu_s_per_gb=cpu[srv.name] / gb)
                runs.append(r)
            runs.sort(key=lambda r: r["fetch_mb_per_sec"])
            med = dict(runs[len(runs) // 2])
            med["runs_fetch_mb_per_sec"] = [r["fetch_mb_per_sec"] for r in runs]
            return med

        if not self.phase(system, "create topic", lambda: self.create_topic(bootstrap, topic, a.partitions, system)):
            return False
        def produce_defaults():
            n = a.defaults_volume // a.record_size
            self.create_topic(bootstrap, topic + "def", a.partitions, system)
            settle_page_cache()
            r, wall, cpu = self.measured(servers, lambda: self.producer_perf(
                bootstrap, topic + "def", n, -1, f"{system}-produce-defaults", props=[]))
            r.update(wall_s=wall, server_cpu_s=cpu[srv.name], cpu_s_per_gb=cpu[srv.name] / (n * a.record_size / 1e9))
            return r

        def produce_txn():
            # ProducerPerformance commits every --transaction-duration-ms;
            # transactions of about --txn-records records at the rate the
            # plain produce reached.
            n = a.txn_volume // a.record_size
            rate = (self.results[system].get("produce") or {}).get("records_per_sec") or 100_000
            ms = max(1, int(a.txn_records / rate * 1000))
            self.create_topic(bootstrap, topic + "txn", a.partitions, system)
            settle_page_cache()
            r, wall, cpu = self.measured(servers, lambda: self.producer_perf(
                bootstrap, topic + "txn", n, -1, f"{system}-produce-txn",
                extra=["--transactional-id", f"{system}-bench-txn", "--transaction-duration-ms", str(ms)]))
            r.update(wall_s=wall, server_cpu_s=cpu[srv.name], transaction_ms=ms)
            return r

        def produce_txn_plain():
            # The transactional phase's volume produced without
            # transactions just before it: a like-for-like reference for
            # the ratio, with the same warm-up of a fresh producer JVM and
            # the server in the same state (the 1 GiB phase ran on an empty
            # one).
            n = a.txn_volume // a.record_size
            self.create_topic(bootstrap, topic + "txnplain", a.partitions, system)
            settle_page_cache()
            r, wall, cpu = self.measured(servers, lambda: self.producer_perf(
                bootstrap, topic + "txnplain", n, -1, f"{system}-produce-txn-plain"))
            r.update(wall_s=wall, server_cpu_s=cpu[srv.name])
            return r

        ok = self.phase(system, "produce", produce) is not None
        if ok:
            self.phase(system, "consume_cached", consume)
        if a.defaults_volume:
            self.phase(system, "produce_defaults", produce_defaults)
        if a.txn_volume:
            self.phase(system, "produce_txn_plain", produce_txn_plain)
            self.phase(system, "produce_txn", produce_txn)
        return ok

    def latency_phases(self, system, bootstrap, srv, suffix, e2e_messages, per_message_s, diagnostic=False):
        """Produce latency at the fixed rate, then end-to-end latency."""
        a = self.a
        rate = a.latency_rate // a.record_size
        warmup = int(rate * a.latency_warmup)
        records = int(rate * a.latency_seconds) + warmup
        topic, e2e_topic = f"lat{suffix}", f"e2e{suffix}"

        def latency():
            self.create_topic(bootstrap, topic, a.partitions, system)
            r, wall, cpu = self.measured([srv], lambda: self.producer_perf(
                bootstrap, topic, records, rate, f"{system}-latency{suffix}", warmup=warmup))
            r.update(wall_s=wall, server_cpu_s=cpu[srv.name], target_records_per_sec=rate)
            return r

        def e2e():
            self.create_topic(bootstrap, e2e_topic, 1, system)
            return self.end_to_end(bootstrap, e2e_topic, e2e_messages, f"{system}-e2e{suffix}", per_message_s)

        def latency_non_idempotent():
            self.create_topic(bootstrap, topic + "ni", a.partitions, system)
            props = a.producer_props + ["enable.idempotence=false", "max.in.flight.requests.per.connection=50"]
            r, wall, cpu = self.measured([srv], lambda: self.producer_perf(
                bootstrap, topic + "ni", records, rate, f"{system}-latency-non-idempotent{suffix}",
                warmup=warmup, props=props))
            r.update(wall_s=wall, server_cpu_s=cpu[srv.name], target_records_per_sec=rate)
            return r

        def latency_defaults():
            self.create_topic(bootstrap, topic + "d", a.partitions, system)
            r, wall, cpu = self.measured([srv], lambda: self.producer_perf(
                bootstrap, topic + "d", records, rate, f"{system}-latency-defaults{suffix}", warmup=warmup, props=[]))
            r.update(wall_s=wall, server_cpu_s=cpu[srv.name], target_records_per_sec=rate)
            return r

        self.phase(system, f"latency{suffix}", latency)
        if diagnostic and a.latency_defaults_row:
            self.phase(system, f"latency_defaults{suffix}", latency_defaults)
        if diagnostic and a.non_idempotent_row:
            self.phase(system, f"latency_non_idempotent{suffix}", latency_non_idempotent)
        if e2e_messages > 0:
            self.phase(system, f"e2e{suffix}", e2e)

    # ------------------------------------------------------------ Kafka

    def run_kafka(self):
        a = self.a
        d = os.path.join(self.work, "kafka")
        data, logdir = os.path.join(d, "data"), os.path.join(self.logs, "kafka")
        os.makedirs(data)
        os.makedirs(logdir)
        port, cport = free_port(), free_port()
        bootstrap = f"127.0.0.1:{port}"
        props = os.path.join(d, "server.properties")
        with open(props, "w") as f:
            f.write(f"""# single-node KRaft (combined broker and controller) for make bench-kafka
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions=1
# one broker: internal topics with one replica, as Kafka's own config/server.properties
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# durability: Kafka's defaults (log.flush.interval.messages and .ms unset:
# the OS writes the page cache back; acks=all waits for the ISR, here one)
""")
        # A Kafka Uuid in its string form (URL-safe base64, no padding); like
        # Kafka's own, never one that starts with "-", which reads as a flag.
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        log("kafka: formatting the log dir (StorageTool format --standalone)")
        try:
            self.java("kafka.tools.StorageTool", ["format", "-t", cluster_id, "-c", props, "--standalone"],
                      "kafka-format", timeout=120)
        except Failure as e:
            self.failures.append(("kafka", "format", str(e)))
            return
        log(f"kafka: starting the broker on {bootstrap}")
        argv = ["java"] + KAFKA_JVM + [f"-Dlog4j2.configurationFile={HERE}/log4j2-broker.xml",
                                      f"-Dkafka.logs.dir={logdir}", "-cp", self.cp, "kafka.Kafka", props]
        srv = Server("kafka", argv, os.path.join(logdir, "stdout.log"))
        self.servers.append(srv)
        try:
            if not self.wait_port(srv, port, 120):
                self.failures.append(("kafka", "start", "broker did not open its port:\n" + srv.log_tail()))
                return
            self.throughput_phases("kafka", bootstrap, srv)
            self.latency_phases("kafka", bootstrap, srv, "", a.e2e_messages, 0.5, diagnostic=True)
            self.share_phase("kafka", bootstrap, [srv])
            if a.franz:
                self.phase("kafka", "franz", lambda: self.franz(bootstrap, "kafka-silt-bench"))
        finally:
            rc = srv.stop()
            self.results["kafka"]["server"] = {"peak_rss": srv.hwm, "exit": rc}
            self.results["kafka"]["disk_bytes"] = du(data)

    def wait_port(self, srv, port, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not srv.alive():
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.25)
        return False

    # ------------------------------------------------------------ silt

    def start_agent(self, system, n, bucket, flush, env, endpoint=None):
        port, http = free_port(), free_port()
        cache = max(1 << 30, self.a.volume * 5 // 4)
        argv = [self.silt, "agent", "--bucket", bucket, "--listen", f"127.0.0.1:{port}",
                "--http", f"127.0.0.1:{http}", "--gossip", "", "--log-level", "warn",
                "--flush-interval", flush, "--cache-size", str(cache), "--group-initial-rebalance-delay", "0s"]
        if endpoint:
            argv += ["--s3-endpoint", endpoint]
        if self.a.put_budget is not None:
            argv += ["--put-budget", f"{self.a.put_budget:g}"]
        srv = Server(f"{system}-agent{n}", argv, os.path.join(self.logs, f"{system}-agent{n}.log"), env=env)
        self.servers.append(srv)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if not srv.alive():
                raise Failure(f"agent exited {srv.p.returncode} before it was ready:\n{srv.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return srv, f"127.0.0.1:{port}"
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        srv.stop()
        raise Failure(f"agent not ready after 120s:\n{srv.log_tail()}")

    def stop_agent(self, system, srv, key):
        rc = srv.stop()
        self.results[system].setdefault("agents", {})[key] = {"peak_rss": srv.hwm, "exit": rc,
                                                               "cpu_s": srv.cpu_total, "argv": srv.argv}
        if rc != 0:
            self.failures.append((system, f"{key} exit", f"agent exited {rc} after SIGTERM; log "
                                  f"{srv.logpath}:\n{srv.log_tail(10)}"))

    def run_silt(self, system):
        a = self.a
        env, endpoint, extra = dict(os.environ), None, []
        if system == "silt-s3":
            try:
                gw, endpoint = self.start_versitygw()
            except Failure as e:
                self.failures.append((system, "versitygw", str(e)))
                return
            extra = [gw]
            if a.s3_latency_ms > 0:
                try:
                    proxy, endpoint = self.start_latency_proxy(endpoint)
                except Failure as e:
                    self.failures.append((system, "latency proxy", str(e)))
                    gw.stop()
                    return
                self.proxy = proxy
            env.update(AWS_ACCESS_KEY_ID=S3_ACCESS, AWS_SECRET_ACCESS_KEY=S3_SECRET, AWS_REGION=S3_REGION)
            bucket = f"s3://{S3_BUCKET}/bench"
            data = os.path.join(self.work, "s3")
        else:
            data = os.path.join(self.work, "bucket")
            bucket = data
        try:
            # Agent 1: default flush interval; throughput, cached consume,
            # latency and end-to-end at the default interval.
            try:
                srv, bootstrap = self.start_agent(system, 1, bucket, a.flush_interval, env, endpoint)
            except Failure as e:
                self.failures.append((system, "start", str(e)))
                return
            try:
                produced = self.throughput_phases(system, bootstrap, srv, extra)
                # Only a priced store (S3) makes each record wait for a
                # cut within the PUT budget; a directory answers at once
                # (group commit), so it gets as many messages as Kafka:
                # with fewer, p99 is the second-slowest record, which is
                # the clients' cold start, not the broker.
                slow = system == "silt-s3" and parse_duration(a.flush_interval) >= 0.1
                self.latency_phases(system, bootstrap, srv, "", a.e2e_messages_slow if slow else a.e2e_messages,
                                    parse_duration(a.flush_interval) * 2 + 0.5, diagnostic=True)
                if a.franz and system == "silt-file":
                    self.phase(system, "franz", lambda: self.franz(bootstrap, f"{system}-silt-bench"))
                self.share_phase(system, bootstrap, [srv] + extra)
            finally:
                self.stop_agent(system, srv, "agent1")

            # Agent 2: a fresh agent on the same bucket, cold consume.
            if produced:
                records = a.volume // a.record_size
                try:
                    srv, bootstrap = self.start_agent(system, 2, bucket, a.flush_interval, env, endpoint)
                except Failure as e:
                    self.failures.append((system, "start cold agent", str(e)))
                else:
                    try:
                        def cold():
                            r, wall, cpu = self.measured([srv] + extra, lambda: self.consumer_perf(
                                bootstrap, "perf", records, f"{system}-consume-cold"))
                            gb = records * a.record_size / 1e9
                            r.update(wall_s=wall, server_cpu_s=cpu[srv.name], cpu_s_per_gb=cpu[srv.name] / gb,
                                     other_cpu_s={k: v for k, v in cpu.items() if k != srv.name})
                            return r
                        self.phase(system, "consume_cold", cold)
                    finally:
                        self.stop_agent(system, srv, "agent2")

            # Agent 3: the short flush interval, latency and end-to-end.
            if a.fast_flush_interval:
                try:
                    srv, bootstrap = self.start_agent(system, 3, bucket, a.fast_flush_interval, env, endpoint)
                except Failure as e:
                    self.failures.append((system, "start fast-flush agent", str(e)))
                else:
                    try:
                        self.latency_phases(system, bootstrap, srv, "_fast", a.e2e_messages,
                                            parse_duration(a.fast_flush_interval) * 2 + 0.5)
                    finally:
                        self.stop_agent(system, srv, "agent3")
        finally:
            if getattr(self, "proxy", None):
                self.proxy.stop()
                self.proxy = None
            for s in extra:
                s.stop()
                self.results[system]["versitygw"] = {"peak_rss": s.hwm, "cpu_s": s.cpu_total}
            self.results[system]["disk_bytes"] = du(data)

    def start_versitygw(self):
        gw = os.path.join(ROOT, ".bin", "versitygw")
        if not os.access(gw, os.X_OK):
            subprocess.run(["make", "tools"], cwd=ROOT, check=True)
        root = os.path.join(self.work, "s3")
        os.makedirs(root)
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        health = "/silt-health-" + os.urandom(8).hex()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VGW_", "ROOT_"))}
        argv = [gw, "--access", S3_ACCESS, "--secret", S3_SECRET, "--region", S3_REGION,
                "--port", f"127.0.0.1:{port}", "--health", health, "--quiet", "--keep-alive", "posix", root]
        srv = Server("versitygw", argv, os.path.join(self.logs, "versitygw.log"), env=env)
        self.servers.append(srv)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if not srv.alive():
                raise Failure(f"versitygw exited {srv.p.returncode}:\n{srv.log_tail()}")
            try:
                with urllib.request.urlopen(endpoint + health, timeout=1) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        else:
            raise Failure("versitygw not ready after 30s:\n" + srv.log_tail())
        s3_create_bucket(endpoint, S3_BUCKET)
        return srv, endpoint

    def start_latency_proxy(self, endpoint):
        """Starts latency_proxy.py in front of versitygw's endpoint; returns
        it and its endpoint. Its CPU is not counted anywhere: it stands for
        the network between an agent and S3."""
        port = free_port()
        target = endpoint.split("://", 1)[1]
        argv = [sys.executable, os.path.join(HERE, "latency_proxy.py"), str(port), target, f"{self.a.s3_latency_ms:g}"]
        srv = Server("s3-latency-proxy", argv, os.path.join(self.logs, "s3-latency-proxy.log"))
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if not srv.alive():
                raise Failure(f"latency proxy exited {srv.p.returncode}:\n{srv.log_tail()}")
            if "listening" in srv.log_tail(5):
                return srv, f"http://127.0.0.1:{port}"
            time.sleep(0.1)
        srv.stop()
        raise Failure("latency proxy not listening after 30s:\n" + srv.log_tail())

    # ------------------------------------------------------------ main

    def main(self):
        t0 = time.monotonic()
        self.prepare()
        self.machine_info = self.machine()
        try:
            for system in self.a.systems:
                log(f"=== {system}")
                settle_page_cache()
                if system == "kafka":
                    self.run_kafka()
                else:
                    self.run_silt(system)
        finally:
            for s in self.servers:
                if s.alive():
                    s.stop()
        self.wall = time.monotonic() - t0
        self.machine_info["load_at_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
        self.machine_info["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return self.write_report()

    def write_report(self, into=CACHE, measured=True):
        text, md = self.report()
        print(text)
        with open(os.path.join(into, "results.txt"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(into, "results.md"), "w") as f:
            f.write(md + "\n")
        if measured:
            with open(os.path.join(into, "results.json"), "w") as f:
                json.dump({"machine": self.machine_info, "config": vars(self.a), "wall_s": self.wall,
                           "results": self.results, "failures": self.failures}, f, indent=2, default=str)
            if not self.a.keep_data:
                shutil.rmtree(self.work, ignore_errors=True)
        log(f"tables in {into}/results.txt and results.md, raw figures in results.json, logs in {self.logs}")
        return 1 if self.failures else 0

    @classmethod
    def from_json(cls, path):
        """The run recorded in a results.json, to print its tables again."""
        with open(path) as f:
            d = json.load(f)
        # Options added since the run was recorded take their defaults.
        cfg = {"latency_defaults_row": False, "s3_latency_ms": 0, "put_budget": None, **d["config"]}
        r = cls(argparse.Namespace(**cfg))
        r.results, r.failures, r.wall, r.machine_info = d["results"], d["failures"], d["wall_s"], d["machine"]
        return r

    # ------------------------------------------------------------ report

    def report(self):
        a, R = self.a, self.results
        K, F, S = R["kafka"], R["silt-file"], R["silt-s3"]
        systems = ["kafka", "silt-file", "silt-s3"]
        cols = [LABEL[s] for s in systems] + ["file/Kafka", "S3/Kafka", "target"]
        rows = []

        def get(res, *path):
            for p in path:
                if not isinstance(res, dict) or p not in res or res[p] is None:
                    return None
                res = res[p]
            return res

        def ratio(x, k):
            return x / k if x is not None and k not in (None, 0) else None

        def verdict(ok, text):
            if ok is None:
                return text
            return f"{text}  {'ok' if ok else 'MISSED'}"

        def add(name, path, fmt=num, target=None, systems_=systems, higher=True):
            vals = [get(R[s], *path) if s in systems_ else None for s in systems]
            k = vals[0]
            cells = [fmt(v) for v in vals] + [num(ratio(vals[1], k)), num(ratio(vals[2], k))]
            t = ""
            if target:
                t = verdict(target[0](vals), target[1])
            rows.append([name] + cells + [t])
            return vals

        def add_lat(name, path_by_system, target=None):
            vals = [get(R[s], *path_by_system[s]) if path_by_system.get(s) else None for s in systems]
            cells = [f"{v['p50_ms']} / {v['p99_ms']} / {v['p999_ms']}" if v else "n/a" for v in vals]
            p99 = [v["p99_ms"] if v else None for v in vals]
            cells += [num(ratio(p99[1], p99[0])), num(ratio(p99[2], p99[0]))]
            t = ""
            if target:
                t = verdict(target[0](p99), target[1])
            rows.append([name] + cells + [t])

        size = fmt_size(a.record_size)
        vol = fmt_size(a.volume)
        add(f"produce MB/s ({size} records, acks=all, idempotent, {a.partitions} partitions, {vol}, producer P)",
            ["produce", "mb_per_sec"],
            target=(lambda v: None if v[0] is None or v[1] is None else v[1] / v[0] >= 1.0, "file/Kafka ≥ 1.0"))
        if a.defaults_volume:
            add(f"  the same with the producer's defaults ({fmt_size(a.defaults_volume)})",
                ["produce_defaults", "mb_per_sec"],
                target=(lambda v: None if v[0] is None or v[1] is None else v[1] / v[0] >= 1.0, "file/Kafka ≥ 1.0"))
        if getattr(a, "txn_volume", 0):
            txn = add(f"  the same, transactional (about {a.txn_records} records a transaction, {fmt_size(a.txn_volume)})",
                      ["produce_txn", "mb_per_sec"],
                      target=(lambda v: None if v[0] is None or v[1] is None else v[1] / v[0] >= 1.0, "file/Kafka ≥ 1.0"))
            same = [get(R[s], "produce_txn_plain", "mb_per_sec") for s in systems]
            rows.append([f"  transactional / plain produce of the same volume just before"]
                        + [num(ratio(t, q)) for t, q in zip(txn, same)] + ["", "",
                        verdict(None if txn[1] is None or same[1] is None else txn[1] / same[1] >= 0.8, "file ≥ 0.8")])
            plain = [get(R[s], "produce", "mb_per_sec") for s in systems]
            rows.append([f"  transactional / the first plain produce ({vol}, on an empty server)"]
                        + [num(ratio(t, q)) for t, q in zip(txn, plain)] + ["", "", ""])
        add(f"consume from cache MB/s (fetch.MB.sec, median of {a.consume_runs})", ["consume_cached", "fetch_mb_per_sec"],
            target=(lambda v: None if v[0] is None or v[1] is None else v[1] / v[0] >= 1.0, "file/Kafka ≥ 1.0"))
        add("consume cold MB/s (fresh agent, from the bucket)", ["consume_cold", "fetch_mb_per_sec"],
            systems_=["silt-file", "silt-s3"])
        fi, ffi = parse_duration(a.flush_interval), parse_duration(a.fast_flush_interval or "0s")
        rate_mb = a.latency_rate / 1e6
        add_lat(f"produce p50 / p99 / p99.9 ms at {rate_mb:g} MB/s, producer P, flush {a.flush_interval}",
                {"kafka": ["latency"], "silt-file": ["latency"], "silt-s3": ["latency"]},
                target=(lambda p: None if p[1] is None else p[1] <= fi * 1000 + 30,
                        f"file p99 ≤ {fi * 1000 + 30:g} ms"))
        if a.latency_defaults_row:
            add_lat(f"  the same with the producer's defaults (S3: {a.s3_latency_ms:g} ms + exp({a.s3_latency_ms:g} ms) a request)",
                    {"kafka": ["latency_defaults"], "silt-file": ["latency_defaults"], "silt-s3": ["latency_defaults"]},
                    target=(lambda p: None if p[2] is None else p[2] <= 450, "S3 p99 ≤ 450 ms"))
            add("  MB/s achieved there (the rate asked is "
                f"{rate_mb:g} MB/s)", ["latency_defaults", "mb_per_sec"])
        if a.non_idempotent_row:
            add_lat(f"  the same, idempotence off, 50 requests in flight (diagnostic)",
                    {"kafka": ["latency_non_idempotent"], "silt-file": ["latency_non_idempotent"],
                     "silt-s3": ["latency_non_idempotent"]},
                    target=(lambda p: None if p[1] is None else p[1] <= fi * 1000 + 30,
                            f"file p99 ≤ {fi * 1000 + 30:g} ms"))
        if a.fast_flush_interval:
            add_lat(f"produce p50 / p99 / p99.9 ms at {rate_mb:g} MB/s, producer P, flush {a.fast_flush_interval}",
                    {"kafka": ["latency"], "silt-file": ["latency_fast"], "silt-s3": ["latency_fast"]},
                    target=(lambda p: None if p[1] is None else p[1] <= ffi * 1000 + 30,
                            f"file p99 ≤ {ffi * 1000 + 30:g} ms"))
        add_lat(f"end-to-end p50 / p99 / p99.9 ms (EndToEndLatency), flush {a.flush_interval}",
                {"kafka": ["e2e"], "silt-file": ["e2e"], "silt-s3": ["e2e"]},
                target=(lambda p: None if p[0] is None or p[1] is None else p[1] <= p[0] + 5, "file p99 ≤ Kafka + 5"))
        if a.fast_flush_interval:
            add_lat(f"end-to-end p50 / p99 / p99.9 ms (EndToEndLatency), flush {a.fast_flush_interval}",
                    {"kafka": ["e2e"], "silt-file": ["e2e_fast"], "silt-s3": ["e2e_fast"]})
        for sysname in systems:
            r = get(R[sysname], "produce")
            if r and "server_sys_s" in r:
                r["sys_s_per_gb"] = r["server_sys_s"] / (r["records"] * a.record_size / 1e9)
            if r and "machine_s" in r:
                r["machine_s_per_gb"] = r["machine_s"] / (r["records"] * a.record_size / 1e9)
        add("server CPU s per GB produced (producer P), the server's process", ["produce", "cpu_s_per_gb"])
        add("  of which in the kernel (stime; Kafka's page-cache write-back runs in kernel threads, not here)",
            ["produce", "sys_s_per_gb"])
        add("  the whole machine less the producer, until written back (the server, the kernel threads working for it; S3: and versitygw)",
            ["produce", "machine_s_per_gb"],
            target=(lambda v: None if v[0] is None or v[1] is None else v[1] <= v[0], "file ≤ Kafka"))
        vgw = get(S, "produce", "other_cpu_s_per_gb", "versitygw")
        if vgw is not None:
            rows.append(["  + versitygw's CPU s per GB produced", "", "", num(vgw), "", "", ""])
        add("server CPU s per GB consumed from cache", ["consume_cached", "cpu_s_per_gb"])
        add("server CPU s per GB consumed cold", ["consume_cold", "cpu_s_per_gb"], systems_=["silt-file", "silt-s3"])

        if a.share_records:
            add(f"share group consume MB/s ({a.share_members} members, 1 partition, {a.share_records} records, "
                f"ShareConsumerPerformance)", ["share", "mb_per_sec"],
                target=(lambda v: None if v[0] is None or v[1] is None else v[1] / v[0] >= 0.8, "file/Kafka ≥ 0.8"))

        def rss(s):
            if s == "kafka":
                v = get(R[s], "server", "peak_rss")
            else:
                v = get(R[s], "agents", "agent1", "peak_rss")
            return v / MiB if v else None

        rv = [rss(s) for s in systems]
        # Issue 13's budget: the cache + 2 × flush-bytes (8 MiB) + 256 MiB.
        budget = max(1 << 30, a.volume * 5 // 4) / MiB + 2 * 8 + 256
        rows.append(["peak RSS MiB (VmHWM; silt: the agent of the rows above)"] + [num(v) for v in rv]
                    + [num(ratio(rv[1], rv[0])), num(ratio(rv[2], rv[0])),
                       verdict(None if rv[1] is None else rv[1] <= budget, f"file ≤ {budget:g}")])
        if a.franz:
            add("franz-go produce MB/s (silt bench --brokers: 4 producers, snappy)", ["franz", "produce_mb_per_sec"],
                systems_=["kafka", "silt-file"])
            add("franz-go consume MB/s (silt bench --brokers)", ["franz", "consume_mb_per_sec"],
                systems_=["kafka", "silt-file"])

        m = self.machine_info
        when = m.get("finished", "?")
        head = [
            f"make bench-kafka  {when}",
            f"machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory']}, Linux {m['kernel']}, {m['java']}, {m['go']}",
            f"Kafka 4.4.0: one KRaft node (broker+controller), -Xmx1G, log dir on this disk, default durability (no fsync per produce)",
            f"silt: one agent per phase, flush {a.flush_interval}"
            f"{f' (and {a.fast_flush_interval})' if a.fast_flush_interval else ''}, "
            f"cache {fmt_size(max(1 << 30, a.volume * 5 // 4))}; file bucket and versitygw on this disk; "
            f"a bucket write is fsynced before the ack; PUT budget "
            f"{'the default' if a.put_budget is None else f'{a.put_budget:g}'}"
            f"{f', versitygw behind {a.s3_latency_ms:g} ms + exp({a.s3_latency_ms:g} ms) a request' if a.s3_latency_ms else ''}",
            f"producer P: acks=all enable.idempotence=true {' '.join(a.producer_props)} (the same on every system; "
            f"otherwise the Kafka 4.4.0 producer's defaults: batch.size 16KiB, linger.ms 5, 5 requests in flight)",
            f"tools: Kafka 4.4.0's ProducerPerformance (1 producer), ConsumerPerformance, EndToEndLatency; "
            f"MB = 2^20 bytes as the tools print it; CPU per GB = server utime+stime per 10^9 bytes of values; "
            f"latency {a.latency_seconds:g}s after {a.latency_warmup:g}s warm-up; "
            f"end-to-end {a.e2e_messages} messages ({a.e2e_messages_slow} on S3 at flush ≥ 100ms)",
            f"wall time {self.wall / 60:.1f} min; load average (1, 5, 15 min) {m['load_at_start']} at the start, "
            f"{m.get('load_at_end', '?')} at the end (other work on the machine adds noise)",
        ]
        text = "\n".join(head) + "\n\n" + aligned([["measurement"] + cols] + rows)
        md = "\n".join(head) + "\n\n" + markdown(["measurement"] + cols, rows)
        if self.failures:
            fl = ["", "failures:"] + [f"- {s}: {k}: {msg.strip().splitlines()[0] if msg.strip() else ''}"
                                      for s, k, msg in self.failures]
            text += "\n" + "\n".join(fl)
            md += "\n" + "\n".join(fl)
        return text, md


# ---------------------------------------------------------------- helpers


def parse_duration(s):
    m = re.fullmatch(r"([\d.]+)(ms|s|m)", s)
    if not m:
        raise argparse.ArgumentTypeError(f"{s!r}: want a duration such as 250ms or 1s")
    return float(m.group(1)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(2)]


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


def num(v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def aligned(cells):
    width = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(len(r) for r in cells))]
    out = []
    for r in cells:
        parts = []
        for i, c in enumerate(r):
            text_col = i == 0 or i == len(r) - 1
            parts.append(c.ljust(width[i]) if text_col else c.rjust(width[i]))
        out.append("  ".join(parts).rstrip())
    return "\n".join(out)


def markdown(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(c if c else " " for c in r) + " |")
    return "\n".join(out)


def s3_create_bucket(endpoint, bucket):
    """PUT /bucket signed with AWS Signature Version 4."""
    host = endpoint.split("://", 1)[1]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["PUT", "/" + bucket, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
                           signed, payload])
    scope = f"{day}/{S3_REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + S3_SECRET).encode()
    for part in (day, S3_REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(endpoint + "/" + bucket, data=b"", method="PUT", headers={
        "x-amz-content-sha256": payload, "x-amz-date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={S3_ACCESS}/{scope}, SignedHeaders={signed}, Signature={sig}",
    })
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
    except urllib.error.HTTPError as e:
        raise Failure(f"versitygw: create bucket {bucket}: HTTP {e.code}: {e.read()[:300]!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   type=lambda s: [x for x in s.split(",") if x],
                   help="systems to measure, comma-separated, of " + ",".join(SYSTEMS))
    p.add_argument("--volume", type=parse_size, default=1 << 30,
                   help="bytes of record values each system's throughput measurement produces and reads back")
    p.add_argument("--record-size", type=parse_size, default=1024)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--producer-props", default="batch.size=524288 max.request.size=8388608 buffer.memory=134217728",
                   type=lambda s: s.split(),
                   help="producer properties (besides acks=all enable.idempotence=true) of the throughput and "
                        "latency measurements, space-separated, the same on every system")
    p.add_argument("--defaults-volume", type=parse_size, default=64 << 20,
                   help="bytes produced once more with the producer's defaults (16KiB batches, 5 in flight: "
                        "at most 640KiB per silt flush); 0 to skip")
    p.add_argument("--latency-defaults-row", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure the latency at the fixed rate with the producer's defaults (16KiB batches, "
                        "linger 5ms, 5 requests in flight)")
    p.add_argument("--s3-latency-ms", type=float, default=20,
                   help="silt-s3: delay every request to versitygw by this + exponential(this) ms, S3's latency "
                        "(latency_proxy.py; 0: versitygw as it answers on loopback)")
    p.add_argument("--put-budget", type=float, default=None,
                   help="silt's --put-budget (default: the agent's): what a priced store's latency costs")
    p.add_argument("--non-idempotent-row", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure the latency at the default flush interval with idempotence off and 50 "
                        "requests in flight (an idempotent producer has at most 5, so at most 5 requests per "
                        "silt flush)")
    p.add_argument("--txn-volume", type=parse_size, default=256 << 20,
                   help="volume of the transactional produce phase (0 to skip)")
    p.add_argument("--txn-records", type=int, default=1000,
                   help="records a transaction, as a duration at the plain produce's rate (ProducerPerformance commits by time)")
    p.add_argument("--consume-runs", type=int, default=3, help="reads from cache, the median is reported")
    p.add_argument("--latency-rate", type=parse_size, default=20_000_000,
                   help="bytes/s of the fixed-rate latency measurement (records/s = this / record size)")
    p.add_argument("--latency-seconds", type=float, default=20, help="length of the latency measurement")
    p.add_argument("--latency-warmup", type=float, default=2,
                   help="seconds at the start of the latency measurement left out (--warmup-records)")
    p.add_argument("--flush-interval", default="250ms", help="silt's flush interval (its default)")
    p.add_argument("--fast-flush-interval", default="10ms",
                   help="a second flush interval for silt's latency measurements ('' to skip)")
    p.add_argument("--e2e-messages", type=int, default=1000, help="EndToEndLatency messages (0 to skip)")
    p.add_argument("--e2e-messages-slow", type=int, default=200,
                   help="EndToEndLatency messages on S3 at a silt flush interval of 100ms or more (each waits a cut within the PUT budget)")
    p.add_argument("--franz", action=argparse.BooleanOptionalAction, default=True,
                   help="also run `silt bench --brokers` (franz-go) against Kafka and silt-file")
    p.add_argument("--franz-volume", type=parse_size, default=256 << 20)
    p.add_argument("--share-records", type=int, default=100_000,
                   help="records of the share-group row (0 to skip): one partition, --share-members members")
    p.add_argument("--share-members", type=int, default=8, help="share consumers (ShareConsumerPerformance --threads)")
    p.add_argument("--phase-timeout", type=int, default=600, help="seconds any one tool run may take")
    p.add_argument("--skip-build", action="store_true", help="use the silt binary already in the cache")
    p.add_argument("--keep-data", action="store_true", help="keep Kafka's log dir and silt's buckets")
    p.add_argument("--report", metavar="RESULTS_JSON",
                   help="measure nothing: print (and write beside it) the tables of an earlier run's results.json")
    args = p.parse_args()
    if args.report:
        run = Run.from_json(args.report)
        sys.exit(run.write_report(into=os.path.dirname(os.path.abspath(args.report)), measured=False))
    for s in args.systems:
        if s not in SYSTEMS:
            p.error(f"--systems: unknown {s!r}")
    # The systems run in the order given: the one after another meets the
    # disk and page cache the one before left, so runs meant to compare
    # should take turns going first (--systems silt-file,kafka).
    args.systems = list(dict.fromkeys(args.systems))
    parse_duration(args.flush_interval)
    if args.fast_flush_interval:
        parse_duration(args.fast_flush_interval)
    os.makedirs(CACHE, exist_ok=True)
    sys.exit(Run(args).main())


if __name__ == "__main__":
    main()
