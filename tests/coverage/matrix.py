"""The coverage matrix: every dataset of the archive x every operation, run in-process
through the tasks layer (as a process's handler calls them), each result CF-checked and
compared with an independent computation on the same input files (numpy on the raw values,
:mod:`tests.coverage.reference`; the ``cdo`` program for regrids).

Each cell ends ``pass``, ``refused`` (a typed error of :mod:`cp4cds_wps.errors` that
:mod:`tests.coverage.refusals` lists with its reason) or ``fail`` (anything else: an
unlisted or untyped error, a listed refusal that did not happen, CF failures, wrong values).

To stay cheap, operations over whole datasets read only their first files (up to
:data:`MAX_STEPS` time steps; regrids their first file, as CDO does), and the subset
selects the first :data:`SUBSET_STEPS` steps.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from cp4cds_wps.errors import ServiceError
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.operations.average import (
    AverageRequest,
    AverageTimeRequest,
    plan_average,
    run_average,
    run_average_time,
)
from cp4cds_wps.operations.plot import PlotRequest, plan_plot, run_plot
from cp4cds_wps.operations.regrid import RegridRequest, plan_regrid, run_regrid
from cp4cds_wps.operations.subset import SubsetRequest, plan_subset, run_subset
from cp4cds_wps.ops.params import Area, TimeRange
from cp4cds_wps.ops.regrid import GridSpec
from cp4cds_wps.tasks.runner import RunContext
from tests.cdo_reference import cdo_remap, gaps_as_missing_cells
from tests.cf_check import CFTIME, cf_failures
from tests.coverage import reference
from tests.coverage.refusals import ALL, Refusal, expected_refusal

#: Time steps read by the operations over whole datasets (whole first files, at least one).
MAX_STEPS = 400
#: Time steps the subset selects.
SUBSET_STEPS = 3
#: The regrid target: a global 2.5 degree grid.
TARGET = GridSpec("2pt5deg", 2.5, 2.5)
#: Relative tolerance of values against numpy (float32 data summed in float64) and CDO.
RTOL = 1e-5
CDO_RTOL = 1e-6


def context(out: Path) -> RunContext:
    """How the matrix runs an operation: into ``out``, as the service runs it."""
    return RunContext(out, "http://test/outputs", 120, data_url="http://test/data")


#: The operations, each a column of the matrix.
OPERATIONS = ALL


@dataclass(frozen=True)
class Outcome:
    """How one cell of the matrix ended."""

    dataset: str
    operation: str
    status: str  # pass | refused | fail
    detail: str = ""


class Mismatch(AssertionError):
    """A result that is not CF-compliant or differs from the reference."""


# -- files ------------------------------------------------------------------------------------


def first_files(files: tuple[FileRecord, ...]) -> tuple[FileRecord, ...]:
    """The first files holding up to :data:`MAX_STEPS` time steps (at least one file)."""
    chosen, steps = [], 0
    for f in files:
        if chosen and steps + f.n_times > MAX_STEPS:
            break
        chosen.append(f)
        steps += f.n_times
    return tuple(chosen)


def restricted(plans):
    """Plans reading only their first files."""
    return tuple(dataclasses.replace(p, files=first_files(p.files)) for p in plans)


def raw_of(files: tuple[FileRecord, ...], variable: str) -> reference.Raw:
    return reference.read_raw([f.path for f in files], variable)


def only_file(folder: Path) -> Path:
    found = sorted(folder.glob("*.nc"))
    if len(found) != 1:
        raise Mismatch(f"expected one netCDF output, got {[p.name for p in found]}")
    return found[0]


def check_cf(path: Path) -> None:
    failures = cf_failures(path)
    if failures:
        raise Mismatch(f"CF failures in {path.name}: {'; '.join(sorted(failures))}")


def assert_close(ours, expected, what: str, rtol: float = RTOL) -> None:
    ours, expected = np.asarray(ours, dtype=float), np.asarray(expected, dtype=float)
    if ours.shape != expected.shape:
        raise Mismatch(f"{what}: shape {ours.shape}, expected {expected.shape}")
    if not np.array_equal(np.isnan(ours), np.isnan(expected)):
        raise Mismatch(
            f"{what}: {np.isnan(ours).sum()} missing values, expected {np.isnan(expected).sum()}"
        )
    if not np.allclose(ours, expected, rtol=rtol, atol=0, equal_nan=True):
        worst = np.nanmax(np.abs(ours - expected) / np.maximum(np.abs(expected), 1e-30))
        raise Mismatch(f"{what}: differs from the reference by up to {worst:.3g} (relative)")


def output_variable(path: Path, variable: str, like: xr.DataArray) -> xr.DataArray:
    """The variable of an output file, with its dimensions in the order of ``like``."""
    with xr.open_dataset(path, decode_times=CFTIME) as out:
        da = out[variable].load()
    extra = [d for d in da.dims if d not in like.dims]
    da = da.squeeze(extra) if all(da.sizes[d] == 1 for d in extra) else da
    return da.transpose(*like.dims)


# -- operations -------------------------------------------------------------------------------


def _iso(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def subset_area(raw: reference.Raw) -> Area:
    """A box round the middle cell of the grid, a quarter of the grid's extent each way."""
    lat, lon = raw.lat.values, raw.lon.values
    if raw.lat.dims == raw.lon.dims:
        centre = tuple(n // 2 for n in lat.shape)
        c_lat, c_lon = float(lat[centre]), float(lon[centre])
    else:
        c_lat, c_lon = float(lat[len(lat) // 2]), float(lon[len(lon) // 2])
    span_lat = max((np.nanmax(lat) - np.nanmin(lat)) / 4, 1.0)
    span_lon = max(min((np.nanmax(lon) - np.nanmin(lon)) / 4, 90.0), 1.0)
    west = (c_lon - span_lon + 180) % 360 - 180
    east = (c_lon + span_lon + 180) % 360 - 180
    return Area(west, max(c_lat - span_lat, -90.0), east, min(c_lat + span_lat, 90.0))


def in_area(raw: reference.Raw, area: Area) -> xr.DataArray:
    """Whether each cell's centre lies in ``area``."""
    lat, lon = raw.lat, (raw.lon + 180) % 360 - 180
    inside_lon = (
        (lon >= area.west) & (lon <= area.east)
        if area.west <= area.east
        else (lon >= area.west) | (lon <= area.east)
    )
    return (lat >= area.south) & (lat <= area.north) & inside_lon


def run_subset_cell(inventory: Inventory, dataset: Dataset, out: Path) -> None:
    raw = raw_of(dataset.files[:1], dataset.variable)
    time = area = None
    if "time" in raw.data.dims:
        times = raw.data.indexes["time"]
        time = TimeRange(_iso(times[0]), _iso(times[min(SUBSET_STEPS, len(times)) - 1]))
    if raw.lat is not None and raw.lon is not None:
        area = subset_area(raw)
    request = SubsetRequest((dataset.id,), time=time, area=area)
    result = run_subset(
        request,
        plan_subset(request, inventory),
        context(out),
    )
    if area is None and raw.data.sizes.get("time", 0) <= SUBSET_STEPS:
        # the whole first file is selected: the service answers with the original file
        if [f.name for f in result.files] != [dataset.files[0].path.name]:
            raise Mismatch(f"subset: expected the original file, got {result.files}")
        return
    path = only_file(out)
    check_cf(path)
    expected = raw.data
    if time is not None:
        expected = expected.isel(time=slice(0, SUBSET_STEPS))
    with xr.open_dataset(path, decode_times=CFTIME) as result:
        ours = result[dataset.variable].load()
    if time is not None and list(ours.indexes["time"]) != list(expected.indexes["time"]):
        raise Mismatch("subset: the time steps differ from the first steps of the first file")
    if area is not None:
        expected = expected.where(in_area(raw, area))
    # the selected cells, as a multiset of values: the same whatever the order of the cells
    ours_values = np.sort(ours.values[np.isfinite(ours.values)].astype(float))
    expected_values = np.sort(expected.values[np.isfinite(expected.values)])
    assert_close(ours_values, expected_values, "subset: values of the cells in the area")


def grid_areas(plan, raw: reference.Raw) -> np.ndarray:
    """The cell areas the reference weighs with: the planned ``areacella``/``areacello``,
    else those of the file's own bounds."""
    if getattr(plan, "areas", None) is not None:
        fx = raw_of(plan.areas.files, plan.areas.variable).data
        # the cells of the data (a selection of the model's grid), by their index labels
        labels = {d: raw.data[d].values for d in raw.grid_dims if d in fx.indexes}
        return fx.sel(labels).transpose(*raw.grid_dims).values
    areas = reference.cell_areas(raw)
    if areas is None:
        raise Mismatch("reference: the file has no cell bounds to weigh with")
    return areas


def run_mean_cell(inventory: Inventory, dataset: Dataset, out: Path, dims) -> None:
    request = AverageRequest((dataset.id,), dims)
    plans = restricted(plan_average(request, inventory))
    run_average(request, plans, context(out))
    path = only_file(out)
    check_cf(path)
    raw = raw_of(plans[0].files, dataset.variable)
    if dims == ("time",):
        if "time" not in raw.data.dims:
            raise Mismatch("the data have no time axis, yet their time mean succeeded")
        expected = reference.time_mean(raw.data, reference.step_weights(raw))
    else:
        if not raw.grid_dims:
            raise Mismatch("the data have no grid, yet their grid mean succeeded")
        expected = reference.grid_mean(raw.data, raw.grid_dims, grid_areas(plans[0], raw))
    ours = output_variable(path, dataset.variable, expected)
    assert_close(ours.values, expected.values, f"mean over {','.join(dims)}")


def run_periods_cell(inventory: Inventory, dataset: Dataset, out: Path, freq: str) -> None:
    request = AverageTimeRequest((dataset.id,), freq)
    plans = restricted(plan_average(request, inventory))
    run_average_time(request, plans, context(out))
    path = only_file(out)
    check_cf(path)
    raw = raw_of(plans[0].files, dataset.variable)
    expected = reference.period_means(raw, freq)
    ours = output_variable(path, dataset.variable, expected)
    assert_close(ours.values, expected.values, f"{freq}ly means")


def run_regrid_cell(inventory: Inventory, dataset: Dataset, out: Path, method: str) -> None:
    request = RegridRequest((dataset.id,), method, TARGET)
    plans = tuple(
        dataclasses.replace(p, files=p.files[:1]) for p in plan_regrid(request, inventory)
    )
    run_regrid(request, plans, context(out))
    path = only_file(out)
    check_cf(path)
    work = out.parent / "cdo"
    work.mkdir(exist_ok=True)
    source = cdo_source(plans[0].files[0].path, dataset.variable, method)
    expected = cdo_remap(source, method, TARGET, work, dataset.variable)
    with xr.open_dataset(path, decode_times=CFTIME) as result:
        ours = result[dataset.variable]
        # time first, as CDO writes it
        ours = ours.transpose("time", ...) if "time" in ours.dims else ours
        ours = ours.values.astype(float)
    assert_close(ours.reshape(expected.shape), expected, f"{method} regrid vs CDO", CDO_RTOL)


def cdo_source(path: Path, variable: str, method: str) -> xr.Dataset | Path:
    """The input of CDO: the file itself, or on a regular grid (1-D latitude and longitude)
    that grid alone, without the 2-D copies of its coordinates some files add (CDO would
    take the grid for a curvilinear one without corners); where a regular grid has no
    bounds, with bounds midway between the centres (as the service takes them); time
    first (CDO skips variables whose first dimension is another); for
    conservative regrids of cells that leave gaps between them (a sparse selection of a
    grid), with each cell covering only its own bounds
    (:func:`tests.cdo_reference.gaps_as_missing_cells`)."""
    ds = xr.open_dataset(path, decode_times=False).load()
    # both decoded to NaN: one of them to write (the IPCC atlas files have two)
    ds[variable].encoding.pop("missing_value", None)
    if "time" in ds[variable].dims:
        # CDO reads only variables whose first dimension is time (the IPCC atlas files put
        # their ensemble member first): a time-first copy
        ds[variable] = ds[variable].transpose("time", ...)
    for dim in ds[variable].dims:
        if dim not in ("time", "lat", "lon") and dim not in ds.indexes:
            # CDO knows no ensemble axis: the members as levels (numbered, labels dropped,
            # and scalar coordinates, such as a height CDO would take for another level)
            labels = [n for n, c in ds.coords.items() if dim in c.dims or not c.dims]
            levels = (dim, np.arange(ds.sizes[dim], dtype=float), {"axis": "Z", "units": "1"})
            ds = ds.drop_vars(labels).assign_coords({dim: levels})
    regular = [
        n
        for n in ("lat", "lon")
        if n in ds.coords and ds[n].dims == (n,) and n in ds[variable].dims
    ]
    if len(regular) < 2:
        return _as_unstructured(ds, variable) if method == "conservative" else path
    two_d = [n for n, v in ds.coords.items() if v.ndim == 2 and n not in ds[variable].dims]
    ds = ds.drop_vars(two_d)
    ds[variable].attrs.pop("coordinates", None)
    ds[variable].encoding.pop("coordinates", None)
    for name in ("lat", "lon"):
        bounds = ds[name].attrs.get("bounds", f"{name}_bnds")
        if bounds not in ds.variables and ds.sizes[name] > 1:
            edges = reference.midway(ds[name].values)
            ds[f"{name}_bnds"] = (
                (name, "bnds"),
                np.clip(edges, -90, 90) if name == "lat" else edges,
            )
            ds[name].attrs["bounds"] = f"{name}_bnds"
        elif bounds != f"{name}_bnds":
            ds = ds.rename({bounds: f"{name}_bnds"})
            ds[name].attrs["bounds"] = f"{name}_bnds"
    if method == "conservative" and _has_gaps(ds):
        return gaps_as_missing_cells(ds, variable)
    return ds


def _as_unstructured(ds: xr.Dataset, variable: str) -> xr.Dataset | Path:
    """A 2-D grid as an unstructured grid of the same cells with their corners
    (:func:`tests.coverage.reference.corners`: the file's vertices, or corners derived where
    it has none or corrupt ones), which CDO remaps cell by cell (as a curvilinear grid, CDO
    finds no overlaps of sparse cells, and without corners it cannot remap at all)."""
    raw = reference.read_raw([Path(ds.encoding["source"])], variable)
    found = None if raw.lat is None or raw.lat.ndim != 2 else reference.corners(raw)
    if found is None:
        return Path(ds.encoding["source"])
    dims = raw.lat.dims
    lat_b, lon_b = found
    data = raw.data.stack(cell=dims).drop_vars([*dims, "cell"], errors="ignore")
    corners = lat_b.shape[-1]
    flat = {"lat": raw.lat.values.ravel(), "lon": raw.lon.values.ravel()}
    lat_attrs = {"standard_name": "latitude", "units": "degrees_north", "bounds": "lat_bnds"}
    lon_attrs = {"standard_name": "longitude", "units": "degrees_east", "bounds": "lon_bnds"}
    out = xr.Dataset(
        {
            variable: data.drop_vars([c for c in data.coords if c != "time"]).variable,
            "lat_bnds": (("cell", "nv"), lat_b.reshape(-1, corners)),
            "lon_bnds": (("cell", "nv"), lon_b.reshape(-1, corners)),
        },
        coords={
            "lat": ("cell", flat["lat"], lat_attrs),
            "lon": ("cell", flat["lon"], lon_attrs),
        },
    )
    out[variable].attrs = {"coordinates": "lat lon"}
    if "time" in out.dims:
        out = out.assign_coords(time=("time", np.arange(out.sizes["time"], dtype=float),
                                      {"units": "days since 2000-1-1"}))  # fmt: skip
    return out


def _has_gaps(ds: xr.Dataset) -> bool:
    for name in ("lat_bnds", "lon_bnds"):
        b = ds[name].values
        if len(b) > 1 and not np.allclose(b[1:, 0], b[:-1, 1]):
            return True
    lon = ds["lon_bnds"].values
    return not np.isclose(lon[-1, 1] - lon[0, 0], 360.0)


def run_plot_cell(inventory: Inventory, dataset: Dataset, out: Path, kind: str) -> None:
    request = PlotRequest((dataset.id,), kind=kind)
    plan = plan_plot(request, inventory)
    plan = dataclasses.replace(plan, files=first_files(plan.files))
    result = run_plot(request, plan, context(out))
    table = pd.read_csv(result.table)
    raw = raw_of(plan.files, dataset.variable)
    data = raw.data
    keep = ("time", *raw.grid_dims)
    data = data.isel({d: 0 for d in data.dims if d not in keep})
    if kind == "map":
        if "time" in data.dims:
            data = data.isel(time=0)
        lat, lon = xr.broadcast(raw.lat, raw.lon)
        frame = pd.DataFrame(
            {
                "lat": lat.transpose(*raw.grid_dims).values.ravel(),
                "value": data.transpose(*raw.grid_dims).values.ravel(),
            }
        ).dropna()
        expected = frame.sort_values(["lat", "value"]).to_numpy()
        ours = table[["lat", "value"]].sort_values(["lat", "value"]).to_numpy()
        assert_close(ours, expected, "map table (lat, value)")
    else:
        if raw.grid_dims:
            data = reference.grid_mean(data, raw.grid_dims, grid_areas(plan, raw))
        times = [t.isoformat() for t in raw.data.indexes["time"]]
        if list(table["time"]) != times:
            raise Mismatch("timeseries table: the times differ from the files' time steps")
        assert_close(table["value"].to_numpy(), data.values, "timeseries table values")


CELLS: dict[str, Callable[[Inventory, Dataset, Path], None]] = {
    "subset": run_subset_cell,
    "mean_time": lambda i, d, o: run_mean_cell(i, d, o, ("time",)),
    "mean_grid": lambda i, d, o: run_mean_cell(i, d, o, ("latitude", "longitude")),
    "average_year": lambda i, d, o: run_periods_cell(i, d, o, "year"),
    "average_month": lambda i, d, o: run_periods_cell(i, d, o, "month"),
    "regrid_bilinear": lambda i, d, o: run_regrid_cell(i, d, o, "bilinear"),
    "regrid_conservative": lambda i, d, o: run_regrid_cell(i, d, o, "conservative"),
    "plot_map": lambda i, d, o: run_plot_cell(i, d, o, "map"),
    "plot_timeseries": lambda i, d, o: run_plot_cell(i, d, o, "timeseries"),
}


def run_cell(inventory: Inventory, dataset_id: str, operation: str, work: Path) -> Outcome:
    """Run one operation on one dataset, check it, and say how it ended."""
    refusal: Refusal | None = expected_refusal(dataset_id, operation)
    dataset = inventory.get(dataset_id)
    out = work / "job"
    try:
        CELLS[operation](inventory, dataset, out)
    except ServiceError as err:
        if refusal is not None and refusal.matches(err):
            return Outcome(dataset_id, operation, "refused", refusal.reason)
        wanted = f" (listed refusal: {refusal.describe()})" if refusal else ""
        return Outcome(dataset_id, operation, "fail", f"{type(err).__name__}: {err}{wanted}")
    except subprocess.CalledProcessError as err:
        return Outcome(dataset_id, operation, "fail", f"cdo failed: {err.stderr}")
    except Mismatch as err:
        return Outcome(dataset_id, operation, "fail", str(err))
    except Exception as err:  # noqa: BLE001 - any other error is a failure of the cell
        where = traceback.format_exception(err)[-3:]
        return Outcome(dataset_id, operation, "fail", f"{type(err).__name__}: {err} {where}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if refusal is not None:
        return Outcome(dataset_id, operation, "fail", f"listed as refused but passed: {refusal}")
    return Outcome(dataset_id, operation, "pass")
