"""Smoke test of the benchmarks: the whole run on a ~20 MB dataset, as `make bench` does it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The rows the table must have: (operation, method).
PYTHON_ROWS = {
    ("mean", "ours"),
    ("mean", "ours-average"),
    ("mean", "clisops"),
    ("subset", "ours"),
    ("subset", "clisops"),
}
CDO_ROWS = {("mean", "cdo"), ("subset", "cdo")}
HAS_CDO = shutil.which("cdo") is not None


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[dict, dict]:
    """Run the benchmark once; its table rows by (operation, method) and its JSON results."""
    cache = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size-gb", "0.02", "--cache-dir", str(cache)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("operation"))
    rows = {}
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        operation, method, seconds, rss, output, _, _, diff = line.split()[:8]
        rows[(operation, method)] = {
            "seconds": seconds,
            "rss": rss,
            "output": output,
            "diff": diff,
            "status": line.split("  ")[-1].strip(),
        }
    return rows, json.loads((cache / "results.json").read_text())


def test_dataset_is_multi_file_and_at_least_the_size_asked(bench):
    _, results = bench
    dataset = results["dataset"]
    files = sorted(Path(dataset["folder"]).glob("*.nc"))
    assert len(files) >= 2
    assert sum(f.stat().st_size for f in files) >= 0.02e9


def test_table_has_a_measured_row_for_each_python_method(bench):
    rows, _ = bench
    assert set(rows) >= PYTHON_ROWS
    for key in PYTHON_ROWS:
        assert rows[key]["status"] == "ok", key
        assert float(rows[key]["seconds"]) > 0
        # a Python process with xarray and dask loaded takes well over 50 MiB
        assert float(rows[key]["rss"]) > 50
        assert float(rows[key]["output"]) > 0


def test_results_json_holds_the_same_runs(bench):
    rows, results = bench
    assert {(r["operation"], r["method"]) for r in results["runs"]} == set(rows)


@pytest.mark.skipif(not HAS_CDO, reason="cdo is not installed (apt-get install cdo)")
def test_table_has_cdo_rows_and_our_outputs_match_cdo(bench):
    rows, _ = bench
    assert set(rows) >= CDO_ROWS
    assert all(rows[key]["status"] == "ok" for key in CDO_ROWS)
    # float32 sums against CDO's double ones: differences far below the data's 2 K noise
    assert float(rows[("mean", "ours")]["diff"]) < 1e-3
    assert float(rows[("subset", "ours")]["diff"]) == 0
