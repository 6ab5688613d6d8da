"""Run the benchmarks and print the table: ``python -m benchmarks`` or ``benchmarks/run.py``.

Every run is a fresh child process, measured with ``wait4``: wall time and peak RSS are
those of the process doing the work. For the Python methods the table's seconds are those
of the work itself (the child also reports the time including interpreter start and
imports, and the RSS after imports); for CDO they are the whole process.

Two data sets: the synthetic multi-file dataset (:mod:`benchmarks.dataset`, every
operation) and the real-archive set (:mod:`benchmarks.archive`, the operations of
:data:`benchmarks.jobs.ARCHIVE_OPERATIONS`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.archive import ArchiveDataset, find_datasets
from benchmarks.compare import compare_outputs
from benchmarks.dataset import SyntheticDataset, ensure_dataset
from benchmarks.jobs import (
    ARCHIVE_OPERATIONS,
    AREA,
    CLISOPS_REGRID_NA,
    METHODS,
    OPERATIONS,
    QUICK_ARCHIVE_METHODS,
    QUICK_ARCHIVE_OPERATIONS,
    QUICK_DAYS,
    QUICK_OPERATIONS,
    REGRID_METHODS,
    SYNTHETIC,
    TARGET_GRID,
    Job,
    cdo_command,
    cdo_grid_description,
)
from benchmarks.measure import measure
from benchmarks.report import format_table, with_ratios

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / "var" / "bench"
#: The data sets: the synthetic dataset and the real archive's datasets.
DATA = (SYNTHETIC, "archive")
#: Frequencies finer than a month: the data of which monthly means are something new.
SUB_MONTHLY = ("day", "6hr", "3hr", "1hr")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Wall time and peak RSS of time means, subsets, field means, yearly and "
        "monthly means and regridding: our stack, clisops called directly, and CDO, on a "
        "synthetic multi-file dataset and on datasets of the real archive.",
    )
    parser.add_argument(
        "--size-gb", type=float, default=4.0, help="synthetic dataset size on disk (default 4)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a quick run (the smoke test's): field, yearly and monthly means and the "
        "remaps; synthetic files of January only; on the archive, the smaller dataset of "
        "each grid type and only the field mean by ours and CDO",
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
    parser.add_argument("--data", choices=DATA, action="append", help="only this (repeatable)")
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
        **_names(job),
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


def _names(job: Job) -> dict:
    return {
        "operation": job.operation,
        "data": job.data,
        "method": job.method,
        "variable": job.variable,
    }


def _not_run(job: Job) -> tuple[str, str] | None:
    """The status and reason of a job that is not run, or None."""
    if job.method == "cdo" and shutil.which("cdo") is None:
        return "skipped", "cdo not installed (apt-get install cdo)"
    if job.operation in REGRID_METHODS and job.method == "clisops":
        return "n/a (ESMF not installable)", CLISOPS_REGRID_NA
    if job.method == "clisops" and not job.glob:
        return "skipped", "no glob pattern matches exactly the files (clisops takes one string)"
    return None


def _data_fields(source: SyntheticDataset | ArchiveDataset) -> dict:
    """The fields of a :class:`Job` that say which data it reads."""
    if isinstance(source, ArchiveDataset):
        return {
            "data": source.label,
            "dataset_id": source.id,
            "variable": source.variable,
            "files": source.files,
            "glob": source.glob,
        }
    start, end = _subset_period(source)
    return {
        "data": SYNTHETIC,
        "variable": "tas",
        "files": tuple(str(p) for p in source.paths),
        "glob": source.glob,
        "start": start,
        "end": end,
    }


def _jobs(
    args: argparse.Namespace, cache: Path, sources: list[SyntheticDataset | ArchiveDataset]
) -> list[Job | dict]:
    """The jobs to run, in table order, and records of those not run."""
    grid_file = cache / "grid-1deg.txt"
    grid_file.write_text(cdo_grid_description())
    planned: list[Job | dict] = []
    for operation in args.operation or (QUICK_OPERATIONS if args.quick else OPERATIONS):
        for source in sources:
            archive = isinstance(source, ArchiveDataset)
            if archive and operation not in source.operations:
                continue
            if archive and operation == "monmean" and source.frequency not in SUB_MONTHLY:
                reason = f"{source.frequency} data: monthly means need finer data"
                names = {"operation": operation, "data": source.label, "method": "-"}
                planned.append({**names, "status": "skipped", "error": reason})
                continue
            fields = _data_fields(source)
            for method in METHODS[operation]:
                if (args.method and method not in args.method) or (
                    args.quick and archive and method not in QUICK_ARCHIVE_METHODS
                ):
                    continue
                label = fields["data"].replace(":", "-")
                job = Job(
                    operation=operation,
                    method=method,
                    out_dir=str(cache / "out" / f"{operation}-{label}-{method}"),
                    grid_file=str(grid_file),
                    **fields,
                )
                reason = _not_run(job)
                if reason:
                    planned.append({**_names(job), "status": reason[0], "error": reason[1]})
                else:
                    planned.append(job)
    return planned


def _check_outputs(records: list[dict]) -> None:
    """Add to each record the largest difference from CDO's output (else from ours)."""
    groups: dict[tuple[str, str], dict[str, dict]] = {}
    for r in records:
        if r["status"] == "ok":
            groups.setdefault((r["operation"], r["data"]), {})[r["method"]] = r
    for done in groups.values():
        reference = done.get("cdo") or done.get("ours")
        if reference is None:
            continue
        for record in done.values():
            if record is not reference:
                record.update(
                    compare_outputs(record["outputs"], reference["outputs"], record["variable"]),
                    compared_with=reference["method"],
                )


def _synthetic(args: argparse.Namespace, cache: Path) -> tuple[SyntheticDataset, bool]:
    print(f"synthetic: at least {args.size_gb:g} GB in {cache}", flush=True)
    dataset, generated = ensure_dataset(
        cache, args.size_gb, days=QUICK_DAYS if args.quick else None
    )
    print(
        f"synthetic: {len(dataset.files)} yearly files"
        f"{f' (their first {dataset.days} days)' if dataset.days else ''}, "
        f"{dataset.steps} daily steps, "
        f"{dataset.nlat}x{dataset.nlon} grid ({dataset.resolution:.3g} degrees), "
        f"{dataset.disk_bytes / 1e9:.2f} GB on disk; "
        f"{'generated in' if generated else 'cached (generated in'} "
        f"{dataset.generation_seconds:g} s{'' if generated else ')'}",
        flush=True,
    )
    return dataset, generated


def _archive(args: argparse.Namespace) -> tuple[list[ArchiveDataset], list[str]]:
    datasets, missing = find_datasets(
        QUICK_ARCHIVE_OPERATIONS if args.quick else ARCHIVE_OPERATIONS
    )
    for dataset in datasets:
        print(
            f"archive: {dataset.label} = {dataset.id} "
            f"({len(dataset.files)} files, {dataset.steps} {dataset.frequency} steps): "
            f"{', '.join(dataset.operations)}",
            flush=True,
        )
    for reason in missing:
        print(f"archive: skipped: {reason}", flush=True)
    return datasets, missing


def main(argv: list[str] | None = None) -> int:
    """Prepare the data, run every operation by every method, print the table.

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
    cache.mkdir(parents=True, exist_ok=True)
    wanted = args.data or DATA
    dataset, generated = _synthetic(args, cache) if SYNTHETIC in wanted else (None, False)
    archive, missing = _archive(args) if "archive" in wanted else ([], [])
    sources = ([dataset] if dataset else []) + archive
    records = []
    for job in _jobs(args, cache, sources):
        records.append(_run(job, args.timeout) if isinstance(job, Job) else job)
        last = records[-1]
        print(
            f"  {last['operation']} {last['data']} {last['method']}: {last['status']} "
            f"{last.get('seconds', 0):.1f} s",
            flush=True,
        )
    _check_outputs(records)
    records = with_ratios(records)
    start, end = _subset_period(dataset) if dataset else ("", "")
    if dataset:
        print(f"\nsubset: {start} to {end}, area W,S,E,N = {AREA}", end="")
    print(f"\nremap: to a global {TARGET_GRID} grid; max |diff|: against CDO, else ours")
    print(format_table(records))
    for r in records:
        if "not_comparable" in r:
            print(f"n/c: {r['operation']} {r['data']} {r['method']}: {r['not_comparable']}")
    results = {
        "dataset": {**vars(dataset), "generated_now": generated} if dataset else None,
        "subset": {"start": start, "end": end, "area": list(AREA)},
        "archive": [asdict(d) for d in archive],
        "archive_missing": missing,
        "runs": records,
    }
    (cache / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {cache / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
