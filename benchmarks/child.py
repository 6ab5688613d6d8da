"""The child process of one Python run: ``python -m benchmarks.child '<job JSON>'``.

Prints one JSON line: the seconds of the work itself (after imports), the peak RSS after
imports (the floor every Python method starts from) and the output files; or the error.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import xarray as xr
from clisops.ops.average import average_over_dims as clisops_average
from clisops.ops.subset import subset as clisops_subset

from benchmarks.jobs import Job
from cp4cds_wps.ops import open_dataset, parse_area, parse_time, subset
from cp4cds_wps.ops.average import average_over_dims
from cp4cds_wps.output.netcdf import write_netcdf


def _ours_dataset(job: Job) -> xr.Dataset:
    ds = open_dataset(job.files)
    if job.operation == "mean":
        return ds.mean("time", keep_attrs=True)
    return subset(ds, time=parse_time(job.time_text), area=parse_area(job.area_text))


def _ours(job: Job) -> list[str]:
    result = _ours_dataset(job)
    return [str(write_netcdf(result, Path(job.output), history=f"benchmark {job.operation}"))]


def _ours_average(job: Job) -> list[str]:
    result = average_over_dims(open_dataset(job.files), ["time"])
    return [str(write_netcdf(result, Path(job.output), history="benchmark weighted mean"))]


def _clisops(job: Job) -> list[str]:
    options = {"output_dir": job.out_dir, "output_type": "nc"}
    if job.operation == "mean":
        outputs = clisops_average(ds=job.glob, dims=["time"], **options)
    else:
        outputs = clisops_subset(ds=job.glob, time=job.time_text, area=job.area_text, **options)
    return [str(path) for path in outputs]


RUNNERS: dict[str, Callable[[Job], list[str]]] = {
    "ours": _ours,
    "ours-average": _ours_average,
    "clisops": _clisops,
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    """Run the job given as JSON in ``argv[0]``; print the result as one JSON line."""
    job = Job.from_json(argv[0])
    baseline = _peak_rss_mib()
    started = time.perf_counter()
    try:
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
