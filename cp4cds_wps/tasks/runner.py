"""Running planned steps: open each dataset, compute, write, checksum, link, record provenance.

Every data task (subset, average, ...) plans its steps from inventory records and hands them
here, so that writing, naming, cleaning up after failures and provenance work the same way.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from cp4cds_wps.errors import ArchiveFileUnreadable
from cp4cds_wps.inventory import Dataset, FileRecord
from cp4cds_wps.inventory.geometry import opened
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.output.metalink import LinkedFile, file_digest
from cp4cds_wps.output.naming import output_filename
from cp4cds_wps.output.netcdf import write_netcdf
from cp4cds_wps.output.provenance import Provenance
from cp4cds_wps.output.split import split_by_size
from cp4cds_wps.tasks.files import open_files, record_input
from cp4cds_wps.tasks.software import software_versions

Progress = Callable[[int, str], None]
#: Bytes read at once when looking for an archive file that cannot be read.
READ_BYTES = 64 * 2**20


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

    @property
    def inputs(self) -> tuple[tuple[Dataset, tuple[FileRecord, ...]], ...]:
        """The datasets read and their files."""
        return ((self.dataset, self.files),)

    @property
    def source_name(self) -> str:
        """The file name the output is named after (with the time range of the result)."""
        return self.files[0].path.name

    def run(self, opened: list[xr.Dataset]) -> xr.Dataset:
        """The result computed from the opened dataset."""
        return self.compute(opened[0])


@dataclass(frozen=True)
class CombinedStep:
    """Several datasets of a request read into one output (e.g. members of an ensemble).

    ``compute`` gets the opened datasets in the order of ``inputs``; the output is named
    after ``source_name``. ``also_used`` as in :class:`Step`.
    """

    inputs: tuple[tuple[Dataset, tuple[FileRecord, ...]], ...]
    compute: Callable[[list[xr.Dataset]], xr.Dataset]
    source_name: str
    also_used: tuple[Dataset, ...] = ()

    def run(self, opened: list[xr.Dataset]) -> xr.Dataset:
        """The result computed from the opened datasets."""
        return self.compute(opened)


@dataclass(frozen=True)
class RunContext:
    """Where a run writes and how: the options every operation runs with.

    Attributes
    ----------
    out_dir
        A folder of this run only; removed again if the run fails.
    out_url
        URL under which ``out_dir`` is served.
    time_chunk
        Time steps per dask chunk when opening datasets.
    data_url
        URL under which archive roots are served (``<data_url>/<root>/<relpath>``), for
        original files returned as they are.
    max_file_mb
        Largest output file (uncompressed MiB); larger results are split along time into
        several files (see :func:`write_outputs`). None: one file per result.
    progress
        Called with (percent, message) as the work advances.
    """

    out_dir: Path
    out_url: str
    time_chunk: int
    data_url: str = ""
    max_file_mb: int | None = None
    progress: Progress | None = None

    def report(self, percent: int, message: str) -> None:
        """Tell ``progress`` (if any) how far the work is."""
        if self.progress is not None:
            self.progress(percent, message)


@dataclass(frozen=True)
class TaskResult:
    """Files a task produced (or selected) and the provenance of the run."""

    files: tuple[LinkedFile, ...]
    provenance: Provenance


def run_steps(
    process: str,
    parameters: Mapping[str, str],
    steps: Sequence[Step | CombinedStep],
    context: RunContext,
) -> TaskResult:
    """Carry out ``steps`` and write CF-compliant netCDF files of each computed step.

    Parameters
    ----------
    process
        Name of the operation, for history, provenance and progress messages.
    parameters
        The request as text.
    steps
        What to do: one step per output (a dataset, or several datasets combined).
    context
        Where outputs go and how they are written; ``context.out_dir`` is removed again if
        the run fails.

    Returns
    -------
    TaskResult
    """
    report = context.report
    prov = Provenance(process, parameters, software=software_versions())
    described = ", ".join(f"{k}={v}" for k, v in parameters.items() if k != "collection")
    linked: list[LinkedFile] = []
    with job_folder(context):
        for i, step in enumerate(steps):
            ids = ", ".join(dataset.id for dataset, _ in step.inputs)
            report(int(100 * i / len(steps)), f"{process}: {ids}")
            for dataset, files in step.inputs:
                record_input(prov, dataset, files)
            for other in step.also_used:
                record_input(prov, other, other.files)
            if step.compute is None:
                for f in step.files:
                    url = f"{context.data_url}/{f.root}/{f.relpath}"
                    linked.append(LinkedFile(name=f.path.name, url=url, size=f.size, md5=f.md5))
                    prov.add_output(f.path.name, url)
                continue
            # The files are closed when the step ends, also when it fails (before a failure
            # to read is traced to its file): a failed step's datasets would otherwise stay
            # open until the garbage collector closes them, possibly while the next step
            # opens the same file, which crashes HDF5 on files with string variables
            # (netCDF4-python; xarray issue 9093).
            with (
                one_thread(),
                recorded_notes() as notes,
                naming_unreadable([f for _, files in step.inputs for f in files]),
                contextlib.ExitStack() as files_open,
            ):
                opened = [
                    files_open.enter_context(
                        open_files(dataset, files, time_chunk=context.time_chunk)
                    )
                    for dataset, files in step.inputs
                ]
                result = step.run(opened)
                history = with_notes(f"cp4cds-wps {process} of {ids} with {described}", notes)
                written = write_outputs(result, step.source_name, context, history=history)
            for text in notes:
                prov.add_note(text)
            for output in written:
                linked.append(output)
                prov.add_output(output.name, output.url)
    return finished(process, linked, prov, context)


@contextlib.contextmanager
def job_folder(context: RunContext) -> Iterator[Path]:
    """The run's output folder, created, and removed again (with all in it) when the run
    fails."""
    context.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield context.out_dir
    except BaseException:
        shutil.rmtree(context.out_dir, ignore_errors=True)
        raise


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Compute with dask on the calling thread only.

    Synchronous requests run inside gunicorn workers, which must not hold dask thread pools,
    and netCDF reads and writes on dask's thread pool can deadlock on xarray's locks;
    decompression is serialised by a lock anyway.
    """
    with dask.config.set(scheduler="synchronous"):
        yield


def finished(
    process: str, files: Sequence[LinkedFile], prov: Provenance, context: RunContext
) -> TaskResult:
    """The result of a run that wrote (or linked) ``files``, reported as done."""
    context.report(100, f"{process} done: {len(files)} file(s)")
    return TaskResult(files=tuple(files), provenance=prov)


@contextlib.contextmanager
def naming_unreadable(files: Sequence[FileRecord]) -> Iterator[None]:
    """Turn a failure to read archive data into one naming the file that cannot be read.

    The netCDF library's errors (``RuntimeError: NetCDF: HDF error`` for a corrupt chunk)
    come from deep inside a computation and do not say which file; when one comes, the
    ``files`` are read until one fails. Failures that are not the files' (e.g. writing)
    pass unchanged.

    Raises
    ------
    ArchiveFileUnreadable
        When one of ``files`` cannot be read.
    """
    try:
        yield
    except (OSError, RuntimeError) as err:
        culprit = first_unreadable(files)
        if culprit is None:
            raise
        raise ArchiveFileUnreadable(*culprit) from err


def first_unreadable(files: Sequence[FileRecord]) -> tuple[str, str] | None:
    """The first of ``files`` whose values cannot all be read, and why; None if all can."""
    for record in files:
        try:
            with opened(record.path) as nc:
                for var in nc.variables.values():
                    _read_all(var)
        except (OSError, RuntimeError) as err:
            return str(record.path), str(err)
    return None


def _read_all(var) -> None:
    """Read every value of a netCDF variable, at most about ``READ_BYTES`` at a time."""
    if var.ndim == 0 or var.shape[0] == 0:
        var[...]
        return
    itemsize = getattr(np.dtype(var.dtype), "itemsize", 8) or 8
    rows = max(1, READ_BYTES // max(1, var.size // var.shape[0] * itemsize))
    for start in range(0, var.shape[0], rows):
        var[start : start + rows]


def with_notes(history: str, notes: Sequence[str]) -> str:
    """A history line followed by the notes on the data taken while computing the result
    (see :mod:`cp4cds_wps.ops.notes`)."""
    return "; ".join([history, *notes])


def write_outputs(
    result: xr.Dataset, source_name: str, context: RunContext, *, history: str
) -> list[LinkedFile]:
    """Write a result as CF netCDF into the context's ``out_dir``: one file, or several
    along time.

    Parameters
    ----------
    result
        The (lazy) result.
    source_name
        Name of a source file; outputs are named after it with their own time range (see
        :func:`cp4cds_wps.output.naming.output_filename`).
    context
        Where the files go (``out_dir``, served at ``out_url``) and the largest file
        (``max_file_mb``, MiB of uncompressed data): a larger result is split along time
        into consecutive files (see :func:`cp4cds_wps.output.split.split_by_size`).
    history
        Line added to the files' ``history`` attribute.

    Returns
    -------
    list of LinkedFile
        The files written, in time order, with size and checksums.
    """
    max_file_mb = context.max_file_mb
    parts = [result] if max_file_mb is None else split_by_size(result, max_file_mb * 2**20)
    written = []
    for part in parts:
        name = output_filename(source_name, part)
        path = write_netcdf(part, _unique(context.out_dir / name), history=history)
        md5, sha256 = file_digest(path)
        url = f"{context.out_url}/{path.name}"
        size = path.stat().st_size
        written.append(LinkedFile(name=path.name, url=url, size=size, md5=md5, sha256=sha256))
    return written


def _unique(path: Path) -> Path:
    """``path``, or a numbered variant when two datasets give the same file name."""
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate
