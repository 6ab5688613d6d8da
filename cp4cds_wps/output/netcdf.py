"""Write datasets to CF-compliant netCDF files, atomically.

The datasets come from the archive (usually a selection of it), so they carry the encodings of
their source files: on-disk chunk sizes, compression settings, fill values. Some of those no
longer fit the selection (chunks larger than the new dimensions) and some break the CF
conventions once xarray adds its defaults (a ``_FillValue`` on coordinates and bounds). This
module rebuilds each variable's encoding from the parts that describe the values (dtype, fill
value, time units and calendar, packing) and sets its own storage options.
"""

from __future__ import annotations

import contextlib
import math
import os
import uuid
from collections.abc import Hashable
from datetime import UTC, datetime
from pathlib import Path

import dask
import dask.threaded
import numpy as np
import xarray as xr
from dask.base import get_scheduler

from cp4cds_wps.errors import NoSpaceLeft
from cp4cds_wps.output.space import out_of_space

#: Encoding keys kept from the source: those that describe the values (dtype, fill value,
#: packing, and the units and calendar of dates). All others are storage details of the
#: source file (chunk sizes, compression, ``contiguous``, ``source``...) and are dropped.
VALUE_ENCODINGS = (
    "dtype",
    "_FillValue",
    "missing_value",
    "scale_factor",
    "add_offset",
    "units",
    "calendar",
)
#: Keys removed from coordinates and bounds, in attributes as well as encodings.
FILL_KEYS = ("_FillValue", "missing_value")
#: zlib compression level of data variables.
COMPRESSION_LEVEL = 1
#: Upper size of one on-disk chunk of a data variable, in bytes.
CHUNK_BYTES = 4 * 2**20
#: Smallest on-disk chunk made to fit the dask chunks written.
MIN_ALIGNED_BYTES = 16 * 2**10


def write_netcdf(ds: xr.Dataset, path: Path, *, history: str) -> Path:
    """Write a CF-compliant netCDF file atomically; return its path.

    The file is written under a temporary name in the folder of ``path`` and renamed to
    ``path`` once complete; on any error the temporary file is removed and an existing file
    at ``path`` is left as it was. Dask-backed data is written chunk by chunk, not loaded.

    Coordinates and bounds are written without ``_FillValue``/``missing_value``; data
    variables keep theirs (none if their source file had none) and are compressed (zlib
    level 1, shuffle); time variables keep their source units and calendar.

    Parameters
    ----------
    ds
        The dataset to write; it is not modified.
    path
        The file to write (its folder must exist).
    history
        What was done to the data; prepended to the ``history`` global attribute as
        ``"<UTC ISO timestamp> <history>"``, above the source's history lines.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    NoSpaceLeft
        When the file system of ``path`` is full (no partial file is left).
    """
    path = Path(path)
    out, encoding = _prepared(ds, history)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with _one_thread_if_local(out):
            out.to_netcdf(partial, engine="netcdf4", format="NETCDF4", encoding=encoding)
        partial.replace(path)
    except BaseException as err:
        full = out_of_space(err, path.parent)  # before the partial file frees its space
        with contextlib.suppress(OSError):
            # emptied first: the netCDF library may keep the file open after a failure,
            # which would hold its space until this process ends
            os.truncate(partial, 0)
            partial.unlink()
        if full:
            raise NoSpaceLeft() from err
        raise
    return path


def history_line(history: str, previous: str | None) -> str:
    """Return ``history`` stamped with the current UTC time, above the ``previous`` lines.

    Parameters
    ----------
    history
        What was done.
    previous
        The existing ``history`` attribute, if any.

    Returns
    -------
    str
        The new value of the ``history`` global attribute.
    """
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = f"{stamp} {history}"
    return f"{line}\n{previous}" if previous else line


def coordinate_like(ds: xr.Dataset) -> set[Hashable]:
    """Names of the variables that must not have a fill value: coordinates and cell bounds.

    Parameters
    ----------
    ds
        A dataset.

    Returns
    -------
    set
        The coordinates of ``ds`` (dimension, auxiliary and scalar ones, e.g. ``lat``,
        ``rlat``, 2-D ``latitude``, ``height``) and every variable named by a ``bounds`` or
        ``climatology`` attribute (e.g. ``time_bnds``, ``vertices_latitude``).
    """
    names: set[Hashable] = set(ds.coords)
    for var in ds.variables.values():
        for key in ("bounds", "climatology"):
            bounds = var.attrs.get(key, var.encoding.get(key))
            if bounds in ds.variables:
                names.add(bounds)
    return names


def _one_thread_if_local(ds: xr.Dataset) -> contextlib.AbstractContextManager:
    """Run dask's local scheduler in one thread while writing ``ds``.

    xarray combines its netCDF locks through a ``set``, so a reading and a writing task can
    take the netCDF-C and HDF5 locks in opposite orders: with dask's threaded scheduler,
    writing data read from netCDF4 files to a netCDF4 file deadlocks now and then. The
    netCDF library runs one call at a time anyway, so one thread is not slower. Other
    schedulers (e.g. a distributed client) are left as they are.
    """
    if get_scheduler(collections=[ds]) is dask.threaded.get:
        return dask.config.set(scheduler="synchronous")
    return contextlib.nullcontext()


def _prepared(ds: xr.Dataset, history: str) -> tuple[xr.Dataset, dict[Hashable, dict]]:
    """A shallow copy of ``ds`` ready to write (new history, no fill attributes on
    coordinates and bounds) and the encoding of each of its variables."""
    out = ds.copy(deep=False)
    out.encoding = {}
    out.attrs = {**ds.attrs, "history": history_line(history, ds.attrs.get("history"))}
    coords = coordinate_like(ds)
    encoding = {}
    for name, var in out.variables.items():
        encoding[name] = {k: v for k, v in var.encoding.items() if k in VALUE_ENCODINGS}
        if name in coords:
            var.attrs = {k: v for k, v in var.attrs.items() if k not in FILL_KEYS}
            if var.dtype.kind in "OmM":
                # dates: xarray spells the units of in-memory and dask-backed dates differently
                # ("days since 1850-01-01" / "days since 1850-1-1"); time and its bounds must agree
                var.load()
            for key in FILL_KEYS:
                encoding[name].pop(key, None)
            encoding[name]["_FillValue"] = None
            if name in out.data_vars:
                # bounds: no "coordinates" attribute (xarray would list the scalar coordinates)
                var.encoding = {**var.encoding, "coordinates": None}
            continue
        if var.encoding.get("coordinates"):
            # the source's list, which may name variables that the file lacks (as some files
            # of the IPCC atlas do) or that an operation removed: CF wants only existing ones
            listed = str(var.encoding["coordinates"]).split()
            var.encoding = {k: v for k, v in var.encoding.items() if k != "coordinates"}
            if kept := [c for c in listed if c in out.variables]:
                var.encoding["coordinates"] = " ".join(kept)
        if "dtype" in var.encoding and "_FillValue" not in var.encoding:
            # read from a file where it had no fill value (e.g. the hybrid level coefficients
            # a, b, p0): none either, instead of xarray's default NaN
            encoding[name]["_FillValue"] = None
        dtype = np.dtype(encoding[name].get("dtype", var.dtype))
        for key in FILL_KEYS:
            if encoding[name].get(key) is not None and dtype.kind in "iuf":
                # of the variable's type, as CF asks (some sources have a double missing_value
                # on float data)
                encoding[name][key] = dtype.type(encoding[name][key])
        fill, missing = (encoding[name].get(key) for key in FILL_KEYS)
        if fill is not None and missing is not None and fill != missing:
            # both were decoded to NaN on reading; one value marks them all when writing
            encoding[name]["missing_value"] = fill
        if var.size and var.ndim and dtype.kind in "iuf":
            encoding[name].update(
                zlib=True,
                complevel=COMPRESSION_LEVEL,
                shuffle=True,
                chunksizes=chunk_shape(var.shape, dtype, var.chunks),
            )
    return out, encoding


def chunk_shape(
    shape: tuple[int, ...],
    dtype: np.dtype,
    dask_chunks: tuple[tuple[int, ...], ...] | None = None,
) -> tuple[int, ...]:
    """On-disk chunk sizes of an array: whole trailing dimensions, at most ``CHUNK_BYTES``.

    Leading dimensions (usually time) are cut so that a chunk holds as many whole trailing
    slices (e.g. whole fields) as fit in ``CHUNK_BYTES``; a single slice larger than that is
    cut along its own leading dimension in turn. When the array is written from dask chunks,
    the leading size divides the dask chunks' length: each dask chunk then fills whole disk
    chunks, which netCDF compresses once instead of reading, decompressing and compressing
    a shared chunk again for every dask chunk; unless that makes chunks smaller than
    ``MIN_ALIGNED_BYTES``, which would compress badly (e.g. monthly means of a small domain
    computed four months at a time).

    Parameters
    ----------
    shape
        The shape of the array (no zero sizes).
    dtype
        Its on-disk type.
    dask_chunks
        The dask chunks of the array written, if any.

    Returns
    -------
    tuple of int
        The chunk sizes, one per dimension.
    """
    sizes = [
        max(1, min(size, CHUNK_BYTES // (dtype.itemsize * math.prod(shape[i + 1 :]))))
        for i, size in enumerate(shape)
    ]
    if dask_chunks and len(dask_chunks[0]) > 1:
        step = dask_chunks[0][0]
        aligned = next(n for n in range(min(sizes[0], step), 0, -1) if step % n == 0)
        if aligned * dtype.itemsize * math.prod(shape[1:]) >= MIN_ALIGNED_BYTES:
            sizes[0] = aligned
    return tuple(sizes)
