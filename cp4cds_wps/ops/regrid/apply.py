"""Applying regridding weights lazily, one dask chunk at a time.

Weights are sparse matrices from source to target cells, of two forms:

- :class:`SeparableWeights` (rectilinear sources): one matrix per axis, so that a field
  ``X`` (latitude by longitude) regrids as ``lat @ X @ lon.T``: two small products instead
  of one with a matrix of every target cell by every source cell;
- :class:`SparseWeights` (other sources): one matrix from the flattened source cells to
  the flattened target cells;
- :class:`NearestWeights` (nearest neighbours): the source cell of each target cell.

Missing values (NaN, e.g. land cells of ocean data) are handled as CDO does. Conservative
weights are renormalised by the valid source cells (``CDO_REMAP_NORM=fracarea``): a target
cell is the area-weighted mean of the valid source cells overlapping it. Interpolation
(bilinear, nearest neighbour) gives a missing value where any source cell it draws on is
missing. A target cell that no source cell reaches is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
import xarray as xr

from cp4cds_wps.ops.open import CHUNK_BYTES
from cp4cds_wps.ops.regrid.grids import GridSpec

__all__ = ["NearestWeights", "SeparableWeights", "SparseWeights", "Weights", "regridded"]


def _links(matrix: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
    """The pattern of ``matrix``: 1 for every stored link, zero weights included."""
    pattern = matrix.copy()
    pattern.data = np.ones_like(pattern.data)
    return pattern


def _divided(sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sums / weights``, missing where ``weights`` is 0."""
    out = np.full(sums.shape, np.nan)
    np.divide(sums, weights, out=out, where=weights > 0)
    return out


@dataclass(frozen=True)
class SeparableWeights:
    """Weights of a rectilinear source: ``lat`` (target by source latitudes) and ``lon``
    (target by source longitudes); ``renormalise`` by the valid source cells
    (conservative), else missing where a linked source cell is missing."""

    lat: scipy.sparse.csr_array
    lon: scipy.sparse.csr_array
    renormalise: bool
    _totals: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        totals = np.outer(self.lat.sum(axis=1), self.lon.sum(axis=1))
        object.__setattr__(self, "_totals", totals)

    @property
    def empty(self) -> bool:
        """Whether no target cell gets a value."""
        return not (self._totals > 0).any()

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Regrid fields ``(n, nlat, nlon)`` (float64) to ``(n, *target shape)``."""
        valid = ~np.isnan(values)
        sums = _both(self.lat, self.lon, np.where(valid, values, 0.0))
        if valid.all():
            return _divided(sums, self._totals)
        if self.renormalise:
            return _divided(sums, _both(self.lat, self.lon, valid.astype(np.float64)))
        missing = _both(_links(self.lat), _links(self.lon), (~valid).astype(np.float64)) > 0
        return np.where(missing, np.nan, _divided(sums, self._totals))


def _both(lat: scipy.sparse.csr_array, lon: scipy.sparse.csr_array, x: np.ndarray) -> np.ndarray:
    """``lat @ x[k] @ lon.T`` for every field ``x[k]`` of ``x`` ``(n, nlat, nlon)``."""
    n, rows, cols = x.shape
    along_lat = lat @ x.transpose(1, 0, 2).reshape(rows, n * cols)
    along_lat = along_lat.reshape(lat.shape[0], n, cols).transpose(1, 0, 2)
    out = (lon @ along_lat.reshape(n * lat.shape[0], cols).T).T
    return out.reshape(n, lat.shape[0], lon.shape[0])


@dataclass(frozen=True)
class SparseWeights:
    """Weights from the source cells (flattened in C order) to the target cells; see
    :class:`SeparableWeights` for ``renormalise``."""

    matrix: scipy.sparse.csr_array
    renormalise: bool
    _totals: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_totals", np.asarray(self.matrix.sum(axis=1)).ravel())

    @property
    def empty(self) -> bool:
        """Whether no target cell gets a value."""
        return not (self._totals > 0).any()

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Regrid fields ``(n, *source grid)`` (float64) to ``(n, target cells)``."""
        flat = values.reshape(values.shape[0], -1).T
        valid = ~np.isnan(flat)
        sums = self.matrix @ np.where(valid, flat, 0.0)
        if valid.all():
            return _divided(sums, self._totals[:, None]).T
        if self.renormalise:
            return _divided(sums, self.matrix @ valid.astype(np.float64)).T
        missing = (_links(self.matrix) @ (~valid).astype(np.float64)) > 0
        return np.where(missing, np.nan, _divided(sums, self._totals[:, None])).T


@dataclass(frozen=True)
class NearestWeights:
    """Nearest neighbours: the source cell (flattened in C order) of each target cell, -1
    for none."""

    source: np.ndarray

    @classmethod
    def from_matrix(cls, matrix: scipy.sparse.csr_array) -> NearestWeights | None:
        """The neighbours of a weights matrix of at most one link per target, else None."""
        links = np.diff(matrix.indptr)
        if links.max(initial=0) > 1:
            return None
        source = np.full(matrix.shape[0], -1)
        source[links == 1] = matrix.indices
        return cls(source)

    @property
    def empty(self) -> bool:
        """Whether no target cell gets a value."""
        return bool((self.source < 0).all())

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Regrid fields ``(n, *source grid)`` (float64) to ``(n, target cells)``."""
        out = values.reshape(values.shape[0], -1)[:, np.maximum(self.source, 0)]
        out[:, self.source < 0] = np.nan
        return out


Weights = SeparableWeights | SparseWeights | NearestWeights


def regridded(
    var: xr.DataArray,
    grid_dims: tuple[str, ...],
    weights: Weights,
    target: GridSpec,
    left_out: np.ndarray | None = None,
) -> xr.DataArray:
    """``var`` regridded lazily with ``weights``, dimensions ``(..., lat, lon)``: each dask
    chunk holds whole source grids and is regridded in one task. The values of the source
    cells ``left_out`` (a mask of the flattened grid) count as missing."""
    nlat, nlon = target.shape
    dtype = var.dtype if var.dtype.kind == "f" else np.dtype(np.float64)

    def regrid_block(block: np.ndarray) -> np.ndarray:
        lead = block.shape[: block.ndim - len(grid_dims)]
        fields = block.reshape(-1, *block.shape[len(lead) :]).astype(np.float64)
        if left_out is not None:
            fields.reshape(fields.shape[0], -1)[:, left_out] = np.nan
        return weights.apply(fields).reshape(*lead, nlat, nlon).astype(dtype)

    return xr.apply_ufunc(
        regrid_block,
        _chunked(var, grid_dims, target),
        input_core_dims=[list(grid_dims)],
        output_core_dims=[["lat", "lon"]],
        exclude_dims=set(grid_dims),
        dask="parallelized",
        output_dtypes=[dtype],
        dask_gufunc_kwargs={"output_sizes": {"lat": nlat, "lon": nlon}},
    )


def _chunked(var: xr.DataArray, grid_dims: tuple[str, ...], target: GridSpec) -> xr.DataArray:
    """``var`` (dask-backed) with whole grids per chunk, its other dimensions cut so that one
    regridded chunk (in float64) stays within ``CHUNK_BYTES``."""
    var = var.reset_coords(drop=True)
    budget = max(1, CHUNK_BYTES // (8 * math.prod(target.shape)))
    chunks: dict[str, int] = {dim: -1 for dim in grid_dims}
    for dim in reversed([d for d in var.dims if d not in grid_dims]):
        size = var.sizes[dim]
        current = max(var.chunksizes[dim]) if var.chunks is not None else size
        chunks[dim] = max(1, min(size, budget, current))
        budget = max(1, budget // size) if chunks[dim] == size else 1
    return var.chunk(chunks)
