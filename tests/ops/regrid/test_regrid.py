"""The regridded dataset: lazy, every other axis and variable carried, the source grid's
metadata replaced by the target's; and the errors of regridding."""

from __future__ import annotations

import dask
import dask.array
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.ops.open import CHUNK_BYTES, open_dataset
from cp4cds_wps.ops.regrid import METHODS, GridSpec, regrid
from cp4cds_wps.output.netcdf import write_netcdf
from tests.cf_check import cf_failures
from tests.synthetic import MEMBERS, curvilinear, ensemble_file, regular, rotated_pole


def computed(ds: xr.Dataset) -> xr.Dataset:
    with dask.config.set(scheduler="synchronous"):
        return ds.compute()


# -- the result ----------------------------------------------------------------------------


def unreadable(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` whose ``tas`` fails when computed."""

    def fail(block):
        raise AssertionError("data were read")

    data = dask.array.map_blocks(
        fail, dask.array.zeros(ds.tas.shape, chunks=(1, *ds.tas.shape[1:])), dtype=float
    )
    return ds.assign(tas=ds.tas.copy(data=data))


@pytest.mark.parametrize("source", [regular, curvilinear], ids=["regular", "curvilinear"])
def test_result_is_lazy_and_keeps_time_levels_and_attributes(source, tmp_path):
    src = source(10.0)
    src = src.assign(
        tas=src.tas.expand_dims(plev=[85000.0, 50000.0], axis=1),
        plev_bnds=(("plev", "bnds"), [[100000.0, 70000.0], [70000.0, 30000.0]]),
    )
    src.plev.attrs = {"standard_name": "air_pressure", "units": "Pa", "bounds": "plev_bnds"}
    out = regrid(
        unreadable(src), method="conservative", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path
    )
    assert out.tas.chunks is not None
    assert out.tas.dims == ("time", "plev", "lat", "lon")
    assert list(tmp_path.iterdir()) == []  # CDO's files are gone
    xr.testing.assert_identical(out.time_bnds, src.time_bnds)
    xr.testing.assert_identical(out.plev_bnds, src.plev_bnds)
    assert out.time.attrs == src.time.attrs and out.plev.attrs == src.plev.attrs
    assert out.tas.attrs == {
        "standard_name": "air_temperature",
        "units": "K",
        "cell_methods": "area: time: mean",
    }
    assert out.lat.attrs["standard_name"] == "latitude" and out.lat.attrs["bounds"] == "lat_bnds"
    assert out.lon.attrs["units"] == "degrees_east" and out.lon.attrs["bounds"] == "lon_bnds"
    np.testing.assert_array_equal(out.lat_bnds.values[[0, -1]], [[-90, -89], [89, 90]])
    np.testing.assert_array_equal(out.lon_bnds.values[[0, -1]], [[0, 1], [359, 360]])
    assert out.attrs["grid"].startswith("global 1x1 degree (lon x lat) latitude-longitude grid")
    assert "nominal_resolution" not in out.attrs and "external_variables" not in out.attrs
    # the source grid's coordinates and vertices are replaced by the target's
    assert set(out.variables) - set(src.variables) <= {"lat", "lon", "lat_bnds", "lon_bnds"}
    assert not {"i", "j", "vertices_latitude", "vertices_longitude"} & set(out.variables)


def test_chunks_of_large_targets_stay_bounded(tmp_path):
    src = regular(10.0).isel(time=[0, 1, 1, 0, 1, 0, 0, 1, 1, 0])
    out = regrid(
        src.chunk({"time": -1}),
        method="bilinear",
        grid=GridSpec("0pt25deg", 0.25, 0.25),
        work_dir=tmp_path,
    )
    steps = max(out.tas.chunks[0])
    assert steps > 1 and steps * 720 * 1440 * 8 <= CHUNK_BYTES


# -- errors --------------------------------------------------------------------------------


def test_a_dataset_without_latitude_and_longitude_is_refused(tmp_path):
    ds = xr.Dataset({"zostoga": ("time", np.zeros(3))})
    with pytest.raises(InvalidParameter, match="collection: dataset has no latitude axis"):
        regrid(ds, method="bilinear", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)


def test_an_unknown_method_is_refused(tmp_path):
    with pytest.raises(InvalidParameter, match="method: 'linear' is not one of"):
        regrid(regular(10.0), method="linear", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)


# -- datasets with other axes ----------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_an_ensemble_file_keeps_its_members_and_their_labels(method, tmp_path):
    ds = open_dataset([ensemble_file(tmp_path)])
    out = regrid(ds, method=method, grid=GridSpec("2pt5deg", 2.5, 2.5), work_dir=tmp_path)
    assert out.pr.dims == ("member", "time", "lat", "lon")
    assert list(out.member_id.values) == list(MEMBERS)
    assert "crs" not in out.variables and "grid_mapping" not in out.pr.attrs
    values = computed(out).pr.values
    # the members differ by their offsets everywhere
    offsets = np.nanmean(values - values[:1], axis=(1, 2, 3))
    np.testing.assert_allclose(offsets, list(MEMBERS.values()), rtol=1e-5)
    assert cf_failures(write_netcdf(out, tmp_path / "out.nc", history="test")) == set()


@pytest.mark.parametrize("method", METHODS)
def test_a_rotated_pole_result_is_cf_compliant(method, tmp_path):
    path = tmp_path / "tas_EUR-44.nc"
    rotated_pole(vertices=("lat_vertices", "lon_vertices")).to_netcdf(path)
    grid = GridSpec("custom", 1, 1, -30, 50, 25, 75)
    out = regrid(open_dataset([path]), method=method, grid=grid, work_dir=tmp_path)
    assert not {"rotated_pole", "rlat", "rlon", "lat_vertices"} & set(out.variables)
    assert cf_failures(write_netcdf(out, tmp_path / "out.nc", history="test")) == set()
