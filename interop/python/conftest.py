"""Fixtures for the Python interop tests: silt agents built from this checkout
(on a local directory and on versitygw), started and stopped by the tests.

Run through `make interop-python` (interop/run-python.sh), or directly with
the venv's pytest from the repository root; $SILT_BIN names a prebuilt silt
binary, otherwise `go build ./cmd/silt` runs once per session.
"""

from __future__ import annotations

import pytest

import harness


def pytest_report_header(config):
    import subprocess

    import confluent_kafka
    import pyspark
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return [f"confluent-kafka {confluent_kafka.version()}, librdkafka {confluent_kafka.libversion()[0]}, "
            f"pyspark {pyspark.__version__}, java: {java[0] if java else 'not found'}"]


@pytest.fixture(scope="session")
def silt_bin():
    return harness.silt_binary()


def _stop_checked(agent: harness.Silt) -> None:
    rc = agent.stop()
    # SIGTERM is a graceful stop: commit what is buffered, answer, exit 0.
    assert rc == 0, f"silt agent {agent.name} exited {rc} on SIGTERM:\n{agent.log_tail(60)}"


@pytest.fixture(scope="session")
def silt(silt_bin, tmp_path_factory):
    """One agent on a local-directory bucket, shared by the tests (each uses
    its own topics and groups)."""
    work = tmp_path_factory.mktemp("silt-file")
    agent = harness.Silt(silt_bin, str(work / "bucket"), work, "py-file").start()
    yield agent
    _stop_checked(agent)


@pytest.fixture(scope="session")
def versitygw(tmp_path_factory):
    """versitygw on loopback with one bucket, "silt-test"."""
    gw = harness.VersityGW(tmp_path_factory.mktemp("versitygw")).start()
    try:
        gw.create_bucket("silt-test")
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="session")
def silt_s3(silt_bin, versitygw, tmp_path_factory):
    """One agent storing into s3://silt-test/interop-python on versitygw."""
    work = tmp_path_factory.mktemp("silt-s3")
    agent = harness.Silt(
        silt_bin, "s3://silt-test/interop-python", work, "py-s3",
        extra_args=("--s3-endpoint", versitygw.endpoint), env=versitygw.env()).start()
    yield agent
    _stop_checked(agent)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the end of every running agent's log."""
    report = yield
    if report.failed:
        for agent in harness.Silt.running:
            report.sections.append((f"silt log {agent.name} ({agent.log_path})",
                                    agent.log_tail()))
    return report
