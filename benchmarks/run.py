"""Run the benchmarks and print the table: ``python -m benchmarks`` or ``benchmarks/run.py``.

Every run is a fresh child process, measured with ``wait4``: wall time and peak RSS are
those of the process doing the work. For the Python methods the table's seconds are those
of the work itself (the child also reports the time including interpreter start and
imports, and the RSS after imports); for CDO they are the whole process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.compare import max_difference
from benchmarks.dataset import SyntheticDataset, ensure_dataset
from benchmarks.jobs import AREA, METHODS, OPERATIONS, Job, cdo_command
from benchmarks.measure import measure
from benchmarks.report import format_table, with_ratios

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / "var" / "bench"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Peak RSS and wall time of a time mean and a subset: our stack, "
        "clisops called directly, and CDO.",
    )
    parser.add_argument(
        "--size-gb", type=float, default=4.0, help="dataset size on disk (default 4)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"where the dataset, outputs and results.json go (default {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds before a run is killed"
    )
    parser.add_argument(
        "--operation", choices=OPERATIONS, action="append", help="only this (repeatable)"
    )
    parser.add_argument("--method", action="append", help="only this method (repeatable)")
    return parser


def _subset_period(dataset: SyntheticDataset) -> tuple[str, str]:
    """A quarter of the years, starting a quarter in (1995 to 1999 of 1990 to 2009)."""
    years = dataset.years
    first = len(years) // 4
    last = first + max(1, len(years) // 4) - 1
    return f"{years[first]}-01-01", f"{years[last]}-12-31"


def _run(job: Job, timeout: float) -> dict:
    """Run one job in a fresh process; its measured figures and outputs."""
    out_dir = Path(job.out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    if job.method == "cdo":
        measured = measure(cdo_command(job), timeout=timeout)
        reported = {"outputs": [job.output]} if measured.returncode == 0 else {}
    else:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        command = [sys.executable, "-m", "benchmarks.child", job.to_json()]
        measured = measure(command, env=env, timeout=timeout)
        lines = [line for line in measured.stdout.splitlines() if line.startswith("{")]
        reported = json.loads(lines[-1]) if lines else {}
    record = {
        "operation": job.operation,
        "method": job.method,
        "seconds": reported.get("work_seconds", measured.seconds),
        "process_seconds": measured.seconds,
        "peak_rss_mib": measured.peak_rss_mib,
        "baseline_rss_mib": reported.get("baseline_rss_mib"),
        "outputs": reported.get("outputs", []),
        "output_mib": sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file()) / 2**20,
    }
    if measured.returncode == 0:
        return {**record, "status": "ok"}
    error = reported.get("error") or (measured.stderr.strip().splitlines() or ["?"])[-1]
    if measured.timed_out:
        error = f"killed after {timeout:g} s"
    return {**record, "status": "failed", "error": error}


def _skipped(job: Job, reason: str) -> dict:
    return {"operation": job.operation, "method": job.method, "status": "skipped", "error": reason}


def _check_outputs(records: list[dict]) -> None:
    """Add to each record the largest difference from CDO's output (else from ours)."""
    for operation in OPERATIONS:
        done = {
            r["method"]: r for r in records if r["operation"] == operation and r["status"] == "ok"
        }
        reference = done.get("cdo") or done.get("ours")
        if reference is None:
            continue
        for record in done.values():
            if record is not reference:
                record["max_abs_diff"] = max_difference(record["outputs"], reference["outputs"])
                record["compared_with"] = reference["method"]


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the dataset, run every operation by every method, print the table.

    Parameters
    ----------
    argv
        Command-line arguments (default ``sys.argv[1:]``); see ``--help``.

    Returns
    -------
    int
        0; failed runs are results (shown in the table), not errors.
    """
    args = _parser().parse_args(argv)
    cache = args.cache_dir.resolve()
    print(f"dataset: at least {args.size_gb:g} GB in {cache}", flush=True)
    dataset, generated = ensure_dataset(cache, args.size_gb)
    print(
        f"dataset: {len(dataset.files)} yearly files, {dataset.steps} daily steps, "
        f"{dataset.nlat}x{dataset.nlon} grid ({dataset.resolution:.3g} degrees), "
        f"{dataset.disk_bytes / 1e9:.2f} GB on disk; "
        f"{'generated in' if generated else 'cached (generated in'} "
        f"{dataset.generation_seconds:g} s{'' if generated else ')'}",
        flush=True,
    )
    start, end = _subset_period(dataset)
    records = []
    for operation in args.operation or OPERATIONS:
        for method in METHODS[operation]:
            if args.method and method not in args.method:
                continue
            job = Job(
                operation=operation,
                method=method,
                files=tuple(str(p) for p in dataset.paths),
                glob=dataset.glob,
                out_dir=str(cache / "out" / f"{operation}-{method}"),
                start=start,
                end=end,
            )
            if method == "cdo" and shutil.which("cdo") is None:
                records.append(_skipped(job, "cdo not installed (apt-get install cdo)"))
            else:
                records.append(_run(job, args.timeout))
            last = records[-1]
            print(
                f"  {operation} {method}: {last['status']} {last.get('seconds', 0):.1f} s",
                flush=True,
            )
    _check_outputs(records)
    records = with_ratios(records)
    print(f"\nsubset: {start} to {end}, area W,S,E,N = {AREA}")
    print(format_table(records))
    results = {
        "dataset": {**vars(dataset), "generated_now": generated},
        "subset": {"start": start, "end": end, "area": list(AREA)},
        "runs": records,
    }
    (cache / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {cache / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
