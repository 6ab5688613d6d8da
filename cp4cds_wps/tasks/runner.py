"""Running planned steps: open each dataset, compute, write, checksum, link, record provenance.

Every data task (subset, average, ...) plans its steps from inventory records and hands them
here, so that writing, naming, cleaning up after failures and provenance work the same way.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask
import xarray as xr

from cp4cds_wps.inventory import Dataset, FileRecord
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.output.metalink import LinkedFile, file_digest
from cp4cds_wps.output.naming import output_filename
from cp4cds_wps.output.netcdf import write_netcdf
from cp4cds_wps.output.provenance import Provenance
from cp4cds_wps.tasks.software import software_versions

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Step:
    """One dataset of a request: its files and what to compute from them.

    ``compute`` None means the files are returned as they are (linked, not copied).
    ``also_used`` lists datasets read besides (e.g. cell areas), for the provenance.
    """

    dataset: Dataset
    files: tuple[FileRecord, ...]
    compute: Callable[[xr.Dataset], xr.Dataset] | None
    also_used: tuple[Dataset, ...] = ()


@dataclass(frozen=True)
class TaskResult:
    """Files a task produced (or selected) and the provenance of the run."""

    files: tuple[LinkedFile, ...]
    provenance: Provenance


def run_steps(
    process: str,
    parameters: Mapping[str, str],
    steps: Sequence[Step],
    *,
    out_dir: Path,
    out_url: str,
    data_url: str,
    time_chunk: int,
    progress: Progress | None = None,
) -> TaskResult:
    """Carry out ``steps`` and write one CF-compliant netCDF file per computed dataset.

    Parameters
    ----------
    process
        Name of the operation, for history, provenance and progress messages.
    parameters
        The request as text.
    steps
        What to do, one step per dataset.
    out_dir
        A folder of this run only; removed again if the run fails.
    out_url
        URL under which ``out_dir`` is served.
    data_url
        URL under which archive roots are served (``<data_url>/<root>/<relpath>``).
    time_chunk
        Time steps per dask chunk when opening datasets.
    progress
        Called with (percent, message) as the work advances.

    Returns
    -------
    TaskResult
    """
    report = progress or (lambda percent, message: None)
    prov = Provenance(process, parameters, software=software_versions())
    described = ", ".join(f"{k}={v}" for k, v in parameters.items() if k != "collection")
    linked: list[LinkedFile] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for i, step in enumerate(steps):
            dataset = step.dataset
            report(int(100 * i / len(steps)), f"{process}: {dataset.id}")
            prov.add_input(dataset.id, dataset.version, [(f.path.name, f.md5) for f in step.files])
            for other in step.also_used:
                prov.add_input(other.id, other.version, [(f.path.name, f.md5) for f in other.files])
            if step.compute is None:
                for f in step.files:
                    url = f"{data_url}/{f.root}/{f.relpath}"
                    linked.append(LinkedFile(name=f.path.name, url=url, size=f.size, md5=f.md5))
                    prov.add_output(f.path.name, url)
                continue
            # One thread: synchronous requests run inside gunicorn workers, which must not
            # hold dask thread pools, and netCDF reads and writes on dask's thread pool can
            # deadlock on xarray's locks; decompression is serialised by a lock anyway.
            with dask.config.set(scheduler="synchronous"):
                ds = open_dataset([f.path for f in step.files], time_chunk=time_chunk)
                result = step.compute(ds)
                name = output_filename(step.files[0].path.name, result)
                path = write_netcdf(
                    result,
                    _unique(out_dir / name),
                    history=f"cp4cds-wps {process} of {dataset.id} with {described}",
                )
            md5, sha256 = file_digest(path)
            url = f"{out_url}/{path.name}"
            size = path.stat().st_size
            linked.append(LinkedFile(name=path.name, url=url, size=size, md5=md5, sha256=sha256))
            prov.add_output(path.name, url)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    report(100, f"{process} done: {len(linked)} file(s)")
    return TaskResult(files=tuple(linked), provenance=prov)


def _unique(path: Path) -> Path:
    """``path``, or a numbered variant when two datasets give the same file name."""
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate
