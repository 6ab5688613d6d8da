"""Open the files of one dataset as a single lazy (dask-backed) xarray Dataset."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import netCDF4
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.ops.notes import note
from cp4cds_wps.ops.repeated import check_equal, drop_repeats, find_repeats

__all__ = ["open_dataset", "open_parts", "time_steps_per_chunk"]

#: Largest dask chunk of a data variable, in bytes.
CHUNK_BYTES = 32 * 2**20


def open_dataset(
    paths: Sequence[str | Path], *, time_chunk: int = 120, keep_repeated: str | None = None
) -> xr.Dataset:
    """Open one dataset's files (already in time order) lazily with dask.

    Time steps the files hold twice (a December at the end of one file and the start of the
    next, or a step repeated within a file) are dropped when every time-dependent variable
    is equal there, and the dataset is refused when they differ, naming the files and the
    first time that differs; ``keep_repeated`` (the operator's declared fix) keeps the first
    or last file's steps instead, whatever their values. Either is noted
    (:func:`cp4cds_wps.ops.notes.note`). Gaps between files are kept as they are.

    Times are decoded to cftime objects whatever the calendar (360_day, noleap, gregorian,
    proleptic_gregorian, ...), so that selections behave the same in all calendars. Variables
    without a time dimension (bounds such as ``lat_bnds``, grid variables) are taken from the
    first file and do not gain a time dimension. Attributes and encodings (``units``,
    ``calendar``, ``_FillValue``, ``bounds``) are those of the files, so that a writer can
    produce a faithful CF file.

    Parameters
    ----------
    paths
        The dataset's netCDF files in time order; one file, or an fx dataset without time,
        is fine.
    time_chunk
        Most time steps per dask chunk; fewer when a chunk would exceed ``CHUNK_BYTES``. The
        archive's files often store one step per netCDF chunk; using those chunks makes
        every operation tens of times slower.
    keep_repeated
        None to drop repeated steps only when their values are equal; ``"first"`` or
        ``"last"`` to keep the steps of the first or last file holding them regardless.

    Returns
    -------
    xarray.Dataset
        The dataset, nothing loaded but coordinates.

    Raises
    ------
    ValueError
        When ``paths`` is empty.
    DatasetInconsistent
        When the files cannot be combined into one dataset along time (repeated steps with
        other values, overlapping or unordered times, different variables).
    """
    if not paths:
        raise ValueError("open_dataset needs at least one file")
    # netCDF-C caches 64 MiB of decompressed chunks per variable and open file; a streaming
    # read uses each chunk once, so the cache only costs memory, growing with the file count
    # (1.8 GB for a time mean over 20 files; 0.34 GB without: benchmarks/).
    netCDF4.set_chunk_cache(size=0)
    opened = open_parts(paths, time_chunk=time_chunk)
    try:
        parts = _without_repeats(opened, [Path(p).name for p in paths], keep_repeated)
        combined = xr.combine_by_coords(
            parts,
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="override",
            combine_attrs="override",
        )
    except (ValueError, DatasetInconsistent) as exc:
        for part in opened:
            part.close()
        if isinstance(exc, DatasetInconsistent):
            raise
        raise DatasetInconsistent(
            "collection", f"the dataset's {len(paths)} files cannot be combined along time: {exc}"
        ) from exc
    combined.set_close(lambda: [part.close() for part in opened])
    combined.attrs = opened[0].attrs
    return combined


def open_parts(paths: Sequence[str | Path], *, time_chunk: int = 120) -> list[xr.Dataset]:
    """Open each file of a dataset lazily as :func:`open_dataset` does, without combining
    them (the caller closes them)."""
    chunks = {"time": time_steps_per_chunk(paths[0], time_chunk)}
    return [
        xr.open_dataset(
            str(p),
            chunks=chunks,
            decode_times=xr.coders.CFDatetimeCoder(use_cftime=True),
            decode_timedelta=False,
        )
        for p in paths
    ]


def _without_repeats(
    parts: list[xr.Dataset], names: list[str], keep: str | None
) -> list[xr.Dataset]:
    """The parts without the time steps they repeat (see :mod:`cp4cds_wps.ops.repeated`)."""
    repeats = find_repeats(parts, names)
    if not repeats:
        return parts
    if keep is None:
        check_equal(parts, repeats)
        how = "with equal values, dropped"
    else:
        how = f"the {keep} file's kept as declared, whatever their values"
    for repeat in repeats:
        note(f"time: {repeat.describe()} repeated, {how}")
    return drop_repeats(parts, repeats, keep or "first")


def time_steps_per_chunk(path: str | Path, most: int) -> int:
    """Time steps per chunk: ``most``, or fewer so that no chunk exceeds ``CHUNK_BYTES``.

    Parameters
    ----------
    path
        A file of the dataset, whose variables give the size of one time step.
    most
        The upper limit.
    """
    with netCDF4.Dataset(path) as nc:
        step_bytes = [
            var.dtype.itemsize
            * math.prod(n for d, n in zip(var.dimensions, var.shape, strict=True) if d != "time")
            for var in nc.variables.values()
            if "time" in var.dimensions and hasattr(var.dtype, "itemsize")  # not vlen strings
        ]
    largest = max(step_bytes, default=1)
    return max(1, min(most, CHUNK_BYTES // largest))
