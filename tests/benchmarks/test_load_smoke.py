"""Smoke test of the load benchmark (``python -m benchmarks.load``) on a handful of jobs: it
starts a service, submits, prints its figures, and every job succeeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import copy_inventory

pytestmark = pytest.mark.realdata

REPO = Path(__file__).resolve().parents[2]


def test_load_benchmark_prints_its_figures(archive_dir, tmp_path, inventory_db):
    env = {**os.environ, "CP4CDS_WPS_ARCHIVE__BASE_DIR": str(archive_dir)}
    copy_inventory(inventory_db, tmp_path / "var")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load", "--jobs", "4", "--sequential", "1",
         "--var-dir", str(tmp_path / "var")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 asynchronous submissions at once, max_running=2" in done.stdout
    assert "5 of 5 succeeded" in done.stdout
    figures = r"\d+ / \d+ / \d+ / \d+ ms"
    assert re.search(
        rf"submit latency p50 / p95 / p99 / max: {figures} \(goal p95 <= 100 ms", done.stdout
    )
    assert re.search(rf"GetCapabilities .* p50 / p95 / p99 / max: {figures}", done.stdout)
