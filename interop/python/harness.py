"""Processes the Python interop tests run: silt agents and a versitygw S3 server.

Everything listens on loopback ports chosen by binding port 0, and every
process is started by the tests themselves and stopped by them (SIGTERM, then
SIGKILL after a grace period), so a run leaves nothing behind.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import random
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "interop" / ".cache"
# Spark's Ivy resolution: Maven Central only (see the file).
IVY_SETTINGS = REPO_ROOT / "interop" / "python" / "ivysettings.xml"

# The same fixed credentials localstack/s3server uses: the server listens on
# loopback only and is thrown away after the run.
S3_ACCESS_KEY = "silt-test-access"
S3_SECRET_KEY = "silt-test-secret-key-0123456789"
S3_REGION = "us-east-1"


_issued_ports: set[int] = set()


def free_port() -> int:
    """An unused loopback TCP port, never the same twice in this process.

    It comes from below Linux's ephemeral range (32768-60999), where the
    system assigns nothing behind our back: a port 0 bind draws from the
    ephemeral range, which outgoing connections also take from, and can
    hand the same port out twice before either is bound. (The Java
    harness draws from 20000-26000.)
    """
    for _ in range(1000):
        port = random.randrange(26000, 32000)
        if port in _issued_ports:
            continue
        _issued_ports.add(port)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 26000-32000 after 1000 tries")


def _tail(path: Path, lines: int = 200) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, so a
    killed pytest never leaves an agent or a versitygw behind (Linux only)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(proc: subprocess.Popen, grace: float) -> int:
    """SIGTERM, wait up to grace seconds, then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# ---------------------------------------------------------------------------
# silt


def silt_binary() -> Path:
    """$SILT_BIN, else a fresh `go build` of ./cmd/silt into interop/.cache/bin."""
    if os.environ.get("SILT_BIN"):
        p = Path(os.environ["SILT_BIN"])
        if not os.access(p, os.X_OK):
            raise RuntimeError(f"$SILT_BIN={p} is not executable")
        return p
    out = CACHE_DIR / "bin" / "silt"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["go", "build", "-o", str(out), "./cmd/silt"], cwd=REPO_ROOT, check=True)
    return out


_help_cache: dict[Path, str] = {}


def _agent_help(binary: Path) -> str:
    if binary not in _help_cache:
        r = subprocess.run([str(binary), "agent", "--help"], capture_output=True, text=True)
        _help_cache[binary] = r.stdout + r.stderr
    return _help_cache[binary]


class Silt:
    """One `silt agent` process on loopback ports.

    bucket is anything --bucket takes; env is added to this process's
    environment (the S3 credentials for an s3:// bucket).
    """

    # Every agent started and not yet stopped, so a failing test can show
    # their logs (see conftest.pytest_runtest_makereport).
    running: list["Silt"] = []

    def __init__(self, binary: Path, bucket: str, workdir: Path, name: str,
                 extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None):
        self.binary = binary
        self.bucket = bucket
        self.workdir = workdir
        self.name = name
        self.extra_args = extra_args
        self.env = env or {}
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.kafka_port = 0
        self.http_port = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def start(self, timeout: float = 60.0) -> "Silt":
        self.workdir.mkdir(parents=True, exist_ok=True)
        last = None
        for _ in range(3):  # a port taken between free_port and listen: retry
            try:
                self._start_once(timeout)
                Silt.running.append(self)
                return self
            except _ExitedEarly as e:
                last = e
        raise RuntimeError(f"silt agent {self.name} did not start: {last}")

    def _start_once(self, timeout: float) -> None:
        self.kafka_port, self.http_port = free_port(), free_port()
        args = [
            str(self.binary), "agent",
            "--bucket", self.bucket,
            "--listen", self.bootstrap,
            "--http", f"127.0.0.1:{self.http_port}",
            "--node-name", self.name,
            "--log-level", "info",
            "--group-initial-rebalance-delay", "0s",
        ]
        if "--gossip" in _agent_help(self.binary):
            # Never the default :7946, so parallel runs and other tests
            # on the machine do not collide.
            args += ["--gossip", f"127.0.0.1:{free_port()}"]
        args += list(self.extra_args)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, env={**os.environ, **self.env}, preexec_fn=_die_with_parent)
        ready = f"http://127.0.0.1:{self.http_port}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise _ExitedEarly(f"exit {self.proc.returncode}:\n{_tail(self.log_path, 30)}")
            try:
                with urllib.request.urlopen(ready, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"silt agent {self.name}: {ready} not 200 within {timeout}s:\n"
                           f"{_tail(self.log_path, 30)}")

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM (a graceful stop: commit what is buffered, exit 0); the exit code."""
        if self in Silt.running:
            Silt.running.remove(self)
        if self.proc is None:
            return 0
        return _stop(self.proc, grace)

    def log_tail(self, lines: int = 200) -> str:
        return _tail(self.log_path, lines)


class _ExitedEarly(Exception):
    pass


# ---------------------------------------------------------------------------
# versitygw


def versitygw_binary() -> Path:
    """$SILT_VERSITYGW, else .bin/versitygw (make tools), else versitygw on $PATH."""
    if os.environ.get("SILT_VERSITYGW"):
        return Path(os.environ["SILT_VERSITYGW"])
    p = REPO_ROOT / ".bin" / "versitygw"
    if os.access(p, os.X_OK):
        return p
    from shutil import which
    w = which("versitygw")
    if w:
        return Path(w)
    raise RuntimeError("versitygw not found: run `make tools` (installs .bin/versitygw) "
                       "or set $SILT_VERSITYGW")


class VersityGW:
    """versitygw with its posix backend on a loopback port, as localstack/s3server runs it."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.data = workdir / "data"
        self.log_path = workdir / "versitygw.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.access_key, self.secret_key, self.region = S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What a silt agent (or any AWS SDK) needs to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "SILT_S3_ENDPOINT": self.endpoint,
        }

    def start(self, timeout: float = 30.0) -> "VersityGW":
        binary = versitygw_binary()
        self.data.mkdir(parents=True, exist_ok=True)
        # versitygw's own settings come from VGW_*/ROOT_* variables; keep
        # the caller's shell from changing the server the tests get.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("VGW_", "ROOT_"))}
        for _ in range(3):
            self.port = free_port()
            health = "/silt-health-" + secrets.token_hex(8)
            # Global flags before the backend subcommand. --keep-alive lets
            # clients reuse connections; --quiet drops per-request lines.
            args = [str(binary),
                    "--access", self.access_key, "--secret", self.secret_key,
                    "--region", self.region,
                    "--port", f"127.0.0.1:{self.port}",
                    "--health", health, "--quiet", "--keep-alive",
                    "posix", str(self.data)]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env,
                                             preexec_fn=_die_with_parent)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.endpoint + health, timeout=1) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                break
        raise RuntimeError(f"versitygw did not start:\n{_tail(self.log_path, 30)}")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, 5)

    def create_bucket(self, name: str) -> None:
        """PUT /name signed with SigV4 (versitygw keeps a bucket's owner in
        extended attributes, so a plain mkdir would not do)."""
        status, body = self.request("PUT", "/" + name)
        if status == 200 or b"BucketAlreadyOwnedByYou" in body:
            return
        raise RuntimeError(f"create bucket {name}: HTTP {status}: {body[:500]!r}")

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """A path-style S3 request with an AWS Signature Version 4 header."""
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        host = f"127.0.0.1:{self.port}"
        payload_hash = hashlib.sha256(body).hexdigest()
        signed_headers = "host;x-amz-content-sha256;x-amz-date"
        canonical = "\n".join([
            method, path, "",
            f"host:{host}", f"x-amz-content-sha256:{payload_hash}", f"x-amz-date:{amz_date}", "",
            signed_headers, payload_hash,
        ])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(self.endpoint + path, data=body, method=method, headers={
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_hash,
            "Authorization": (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                              f"SignedHeaders={signed_headers}, Signature={signature}"),
        })
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def local_spark(builder, work: Path):
    """builder with the settings every Spark child of these tests runs
    with: a small local driver on loopback, its scratch under work."""
    return (builder.config("spark.driver.memory", "1g")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.warehouse.dir", str(work / "warehouse"))
            .config("spark.local.dir", str(work / "local"))
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1"))
