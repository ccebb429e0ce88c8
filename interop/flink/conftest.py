"""Fixtures for the Flink interop test, in the Flink venv (interop/run-flink.sh):
the silt harness and fixtures of interop/python (agents built from this
checkout). PyFlink pins a py4j that pyspark's pin excludes, so Flink has a
venv of its own and these tests a directory of their own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1] / "python"
sys.path.insert(0, str(PYTHON_DIR))

# interop/python's conftest, loaded under another name: its silt_bin fixture
# and its hook that shows the agents' logs on a failure serve here too.
_spec = importlib.util.spec_from_file_location("interop_python_conftest", PYTHON_DIR / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
silt_bin = _shared.silt_bin
pytest_runtest_makereport = _shared.pytest_runtest_makereport


def pytest_report_header(config):
    import subprocess

    import confluent_kafka
    from pyflink.version import __version__
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return [f"apache-flink {__version__}, confluent-kafka {confluent_kafka.version()}, "
            f"java: {java[0] if java else 'not found'}"]
