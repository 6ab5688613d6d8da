"""The child process of one Python run: ``python -m benchmarks.child '<job JSON>'``.

Prints one JSON line: the seconds of the work itself (after imports), the peak RSS after
imports (the floor every Python method starts from) and the output files; or the error.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from clisops.ops.average import average_over_dims as clisops_average
from clisops.ops.average import average_time as clisops_average_time
from clisops.ops.subset import subset as clisops_subset

from benchmarks.jobs import REGRID_METHODS, TARGET_GRID, TIME_FREQS, Job
from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.operations.average import (
    AveragePlan,
    AverageRequest,
    AverageTimeRequest,
    plan_average,
    run_average,
    run_average_time,
)
from cp4cds_wps.ops import open_dataset, parse_area, parse_time, subset
from cp4cds_wps.output.netcdf import write_netcdf
from cp4cds_wps.tasks.runner import RunContext

#: The module of our regridding, imported (before the clock starts) only by remap jobs: its
#: dependencies (scipy, netCDF4 for CDO's weights) would add to every other run's imports
#: and memory.
REGRID_MODULE = "cp4cds_wps.ops.regrid"


def _ours(job: Job) -> list[str]:
    """The service's own path: the averaging tasks, ``ops.subset`` or ``ops.regrid``."""
    if job.operation == "subset":
        return _ours_subset(job)
    if job.operation in REGRID_METHODS:
        return _ours_regrid(job)
    return _ours_average(job)


def _ours_average(job: Job) -> list[str]:
    """An averaging task as the WPS runs it: plan (by the inventory for archive data), run."""
    settings = load_settings()
    collection = (job.dataset_id or job.data,)
    if job.operation in TIME_FREQS:
        request = AverageTimeRequest(collection=collection, freq=TIME_FREQS[job.operation])
        run = run_average_time
    else:
        dims = ("time",) if job.operation == "mean" else ("latitude", "longitude")
        request = AverageRequest(collection=collection, dims=dims)
        run = run_average
    if job.dataset_id:
        plans = plan_average(request, Inventory.from_settings(settings))
    else:
        plans = (_synthetic_plan(job),)
    result = run(
        request,
        plans,
        RunContext(out_dir=Path(job.out_dir), out_url="", time_chunk=settings.time_chunk),
    )
    return [str(Path(job.out_dir) / f.name) for f in result.files]


def _synthetic_plan(job: Job) -> AveragePlan:
    """The plan of the synthetic dataset, which is in no inventory: its files as records."""
    files = tuple(
        FileRecord(
            path=path,
            root=job.data,
            relpath=path.name,
            size=path.stat().st_size,
            mtime=path.stat().st_mtime,
            md5=None,
            start=None,
            end=None,
            n_times=0,
            within=(os.path.realpath(path.parent),),
        )
        for path in map(Path, job.files)
    )
    dataset = Dataset(
        id=job.data,
        project=job.data,
        version="v1",
        facets={},
        variable=job.variable,
        files=files,
        start=None,
        end=None,
        calendar=None,
        size=sum(f.size for f in files),
        issues=(),
    )
    return AveragePlan(dataset=dataset, files=files)


def _ours_subset(job: Job) -> list[str]:
    ds = open_dataset(job.files)
    result = subset(ds, time=parse_time(job.time_text), area=parse_area(job.area_text))
    return [str(write_netcdf(result, Path(job.output), history="benchmark subset"))]


def _ours_regrid(job: Job) -> list[str]:
    ops_regrid = importlib.import_module(REGRID_MODULE)
    work_dir = Path(job.out_dir) / "work"
    work_dir.mkdir()
    ds = open_dataset(job.files, time_chunk=load_settings().time_chunk)
    result = ops_regrid.regrid(
        ds,
        method=REGRID_METHODS[job.operation],
        grid=ops_regrid.parse_grid(TARGET_GRID, None),
        work_dir=work_dir,
    )
    path = write_netcdf(result, Path(job.output), history=f"benchmark {job.operation}")
    return [str(path)]


def _ours_plain(job: Job) -> list[str]:
    """xarray's plain time mean on the service's opening and writer."""
    result = open_dataset(job.files).mean("time", keep_attrs=True)
    return [str(write_netcdf(result, Path(job.output), history="benchmark plain mean"))]


def _clisops(job: Job) -> list[str]:
    """clisops called directly with its defaults (its own opening of the files)."""
    options = {"output_dir": job.out_dir, "output_type": "nc"}
    if job.operation == "mean":
        outputs = clisops_average(ds=job.glob, dims=["time"], **options)
    elif job.operation == "fldmean":
        outputs = clisops_average(ds=job.glob, dims=["latitude", "longitude"], **options)
    elif job.operation in TIME_FREQS:
        outputs = clisops_average_time(ds=job.glob, freq=TIME_FREQS[job.operation], **options)
    else:
        outputs = clisops_subset(ds=job.glob, time=job.time_text, area=job.area_text, **options)
    return [str(path) for path in outputs]


RUNNERS: dict[str, Callable[[Job], list[str]]] = {
    "ours": _ours,
    "ours-plain": _ours_plain,
    "clisops": _clisops,
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    """Run the job given as JSON in ``argv[0]``; print the result as one JSON line."""
    job = Job.from_json(argv[0])
    try:
        if job.method == "ours" and job.operation in REGRID_METHODS:
            importlib.import_module(REGRID_MODULE)
        baseline = _peak_rss_mib()
        started = time.perf_counter()
        outputs = RUNNERS[job.method](job)
    except Exception as exc:  # every failure is a result of the benchmark
        traceback.print_exc()
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    result = {
        "work_seconds": time.perf_counter() - started,
        "baseline_rss_mib": baseline,
        "outputs": outputs,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
