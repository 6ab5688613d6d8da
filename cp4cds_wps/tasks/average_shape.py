"""The average_shape task: area-weighted means over GeoJSON polygons, written as netCDF.

Free of WPS code, like :mod:`cp4cds_wps.tasks.average`, whose planning it shares: the
dataset's cell areas (``areacella``/``areacello``) are used when the archive has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from cp4cds_wps.inventory import Inventory
from cp4cds_wps.ops.shape import Shapes, average_shape
from cp4cds_wps.tasks.average import AveragePlan, area_weighted_step, plan_average
from cp4cds_wps.tasks.runner import Progress, TaskResult, run_steps


@dataclass(frozen=True)
class AverageShapeRequest:
    """Means over the polygons of ``shape``."""

    collection: tuple[str, ...]
    shape: Shapes

    #: Cell areas are needed (see :func:`cp4cds_wps.tasks.average.plan_average`).
    spatial = True

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance and history (the shape summarised)."""
        return {"collection": ",".join(self.collection), "shape": str(self.shape)}


def plan_average_shape(
    request: AverageShapeRequest, inventory: Inventory
) -> tuple[AveragePlan, ...]:
    """Resolve the datasets of a request, their files and cell areas, without reading data.

    See :func:`cp4cds_wps.tasks.average.plan_average`.
    """
    return plan_average(request, inventory)


def run_average_shape(
    request: AverageShapeRequest,
    plans: tuple[AveragePlan, ...],
    *,
    out_dir: Path,
    out_url: str,
    time_chunk: int,
    max_file_mb: int | None = None,
    progress: Progress | None = None,
) -> TaskResult:
    """Average each planned dataset over the request's polygons; write CF netCDF.

    Arguments as :func:`cp4cds_wps.tasks.runner.run_steps`; ``out_dir`` is removed if the
    run fails.
    """

    def mean(ds: xr.Dataset, weights: xr.DataArray | None) -> xr.Dataset:
        return average_shape(ds, request.shape, weights=weights)

    return run_steps(
        "average_shape",
        request.parameters(),
        [area_weighted_step(plan, mean) for plan in plans],
        out_dir=out_dir,
        out_url=out_url,
        data_url="",
        time_chunk=time_chunk,
        max_file_mb=max_file_mb,
        progress=progress,
    )
