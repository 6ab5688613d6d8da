"""Workflows (rook's format) end to end on real archive data, checked with plain numpy."""

from __future__ import annotations

import copy
import functools
import json

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.tasks.runner import RunContext
from cp4cds_wps.tasks.workflow import parse_workflow, plan_workflow, run_workflow
from tests.cf_check import cf_failures

pytestmark = pytest.mark.realdata

RLDS = "CMIP6.ScenarioMIP.INM.INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"
SEA_ICE = "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.SImon.siconc.gn.latest"
AREACELLO = "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.Ofx.areacello.gn.v20190726"
MEMBERS = [
    f"CMIP6.DCPP.DWD.MPI-ESM1-2-LR.dcppA-hindcast.s1980-r{i}i1p1f1.day.tasmax.gn.v20220126"
    for i in (1, 2, 3)
]
CFTIME = xr.coders.CFDatetimeCoder(use_cftime=True)

#: The example of the issue: a subset, then a time mean of it.
SUBSET_AVERAGE = {
    "doc": "subset then average",
    "inputs": {"rlds": [RLDS]},
    "outputs": {"output": "average/output"},
    "steps": {
        "subset": {"run": "subset", "in": {"collection": "inputs/rlds", "time": "2016/2020"}},
        "average": {"run": "average", "in": {"collection": "subset/output", "dims": "time"}},
    },
}


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


@functools.cache
def source(inventory, dataset_id) -> xr.Dataset:
    """The dataset's files opened with plain xarray, values loaded."""
    paths = [f.path for f in inventory.get(dataset_id).files]
    return xr.open_mfdataset(
        paths,
        decode_times=CFTIME,
        data_vars="minimal",
        coords="minimal",
        compat="override",
        chunks={"time": -1},
    ).load()


def run(doc, inventory, tmp_path, **kwargs):
    """Run the workflow ``doc``; return the result and its files opened."""
    workflow = parse_workflow(json.dumps(doc))
    result = run_workflow(
        workflow,
        plan_workflow(workflow, inventory),
        RunContext(
            out_dir=tmp_path / "job", out_url="http://test/outputs/job", time_chunk=120, **kwargs
        ),
    )
    files = [xr.open_dataset(tmp_path / "job" / f.name, decode_times=CFTIME) for f in result.files]
    return result, files


def days(bounds: np.ndarray) -> np.ndarray:
    """Length in days of each (start, end) pair of cftime dates."""
    return np.array([(b - a).total_seconds() / 86400 for a, b in bounds])


def prov_records(result, kind: str) -> dict:
    return json.loads(result.provenance.json()).get(kind, {})


# -- workflows on real data -------------------------------------------------------------------


def test_subset_then_time_mean_equals_numpy(inventory, tmp_path):
    result, (out,) = run(SUBSET_AVERAGE, inventory, tmp_path)
    src = source(inventory, RLDS).sel(time=slice("2016-01-01", "2020-12-31"))
    weights = days(src.time_bnds.values)
    expected = (src.rlds.values * weights[:, None, None]).sum(axis=0) / weights.sum()
    np.testing.assert_allclose(out.rlds.values, expected, rtol=1e-6)
    assert out.rlds.dims == ("lat", "lon")
    assert out.time_bnds.values[0].year == 2016 and out.time_bnds.values[1].year == 2021
    assert result.files[0].name == "rlds_Amon_INM-CM5-0_ssp245_r1i1p1f1_gr1_201601-202101.nc"
    assert result.files[0].url == f"http://test/outputs/job/{result.files[0].name}"
    history = out.attrs["history"].splitlines()[0]
    assert history.endswith(
        f"cp4cds-wps orchestrate of {RLDS}: subset (time=2016/2020) -> average (dims=time)"
    )
    assert not cf_failures(tmp_path / "job" / result.files[0].name)


def test_curvilinear_subset_yearly_then_area_mean_uses_areacello(inventory, tmp_path):
    doc = {
        "doc": "Arctic sea ice, yearly",
        "inputs": {"siconc": SEA_ICE},
        "outputs": {"output": "area/output"},
        "steps": {
            "north": {
                "run": "subset",
                "in": {
                    "collection": "inputs/siconc",
                    "time": "2000/2004",
                    "area": [-180, 0, 180, 90],
                },
            },
            "yearly": {"run": "average_time", "in": {"collection": "north/output", "freq": "year"}},
            "area": {
                "run": "average",
                "in": {"collection": "yearly/output", "dims": ["latitude", "longitude"]},
            },
        },
    }
    result, (out,) = run(doc, inventory, tmp_path)
    src = source(inventory, SEA_ICE).sel(time=slice("2000-01-01", "2004-12-31"))
    fx = source(inventory, AREACELLO)
    rows = np.flatnonzero(np.isin(fx.y.values.round(4), src.y.values.round(4)))
    cols = np.flatnonzero(np.isin(fx.x.values.round(4), src.x.values.round(4)))
    areas = fx.areacello.values[np.ix_(rows, cols)].astype(float)
    north = src.latitude.values >= 0 if "latitude" in src else src.lat.values >= 0
    values = np.where(north, src.siconc.values.astype(float), np.nan)
    step_days = days(src.time_bnds.values)
    years = src.time.dt.year.values
    expected = []
    for year in np.unique(years):
        v, d = values[years == year], step_days[years == year, None, None]
        with np.errstate(invalid="ignore"):  # land: no value in any month
            mean = np.nansum(v * d, axis=0) / (d * ~np.isnan(v)).sum(axis=0)
        valid = ~np.isnan(mean)
        expected.append(np.nansum(mean * areas) / (areas * valid).sum())
    np.testing.assert_allclose(out.siconc.values, expected, rtol=1e-5)
    # the yearly means first, then the area mean
    assert out.siconc.attrs["cell_methods"].endswith(
        "time: mean area: mean (comment: area-weighted, cell areas from areacello)"
    )
    # the cell areas are an input of the averaging step only
    used = [(r["prov:activity"], r["prov:entity"]) for r in prov_records(result, "used").values()]
    areacello = f"esgf:{AREACELLO}"
    assert ("cp4cds:step/area", areacello) in used
    assert ("cp4cds:step/north", areacello) not in used


def test_concat_members_then_ensemble_and_yearly_means_equal_numpy(inventory, tmp_path):
    doc = {
        "doc": "ensemble mean",
        "inputs": {"tasmax": MEMBERS},
        "outputs": {"output": "yearly/output"},
        "steps": {
            "members": {
                "run": "concat",
                "in": {"collection": "inputs/tasmax", "time": "1981/1983"},
            },
            "mean": {
                "run": "average",
                "in": {"collection": "members/output", "dims": "realization"},
            },
            "yearly": {"run": "average_time", "in": {"collection": "mean/output", "freq": "year"}},
        },
    }
    result, (out,) = run(doc, inventory, tmp_path)
    members = [source(inventory, m).sel(time=slice("1981-01-01", "1983-12-31")) for m in MEMBERS]
    ensemble = np.mean([m.tasmax.values.astype(float) for m in members], axis=0)
    years = members[0].time.dt.year.values
    expected = np.stack([ensemble[years == y].mean(axis=0) for y in (1981, 1982, 1983)])
    np.testing.assert_allclose(out.tasmax.values, expected, rtol=1e-6)
    assert result.files[0].name.startswith(
        "tasmax_day_MPI-ESM1-2-LR_dcppA-hindcast_s1980-3members_"
    )
    entities = prov_records(result, "entity")
    ensemble_id = MEMBERS[0].replace(
        "s1980-r1i1p1f1", "s1980-r1i1p1f1+s1980-r2i1p1f1+s1980-r3i1p1f1"
    )
    assert f"cp4cds:step/members/{ensemble_id}" in entities
    for member in MEMBERS:
        assert f"esgf:{member}" in entities


def test_average_shape_step_over_one_whole_cell_gives_that_cell(inventory, tmp_path):
    # the polygon holds the cell lat 60..61.5, lon 199..201 of this subsampled grid, no other
    box = [[198.0, 59.0], [202.0, 59.0], [202.0, 62.0], [198.0, 62.0], [198.0, 59.0]]
    doc = {
        "inputs": {"rlds": [RLDS]},
        "outputs": {"output": "shape/output"},
        "steps": {
            "subset": {"run": "subset", "in": {"collection": "inputs/rlds", "time": "2016/2016"}},
            "shape": {
                "run": "average_shape",
                "in": {
                    "collection": "subset/output",
                    "shape": {"type": "Polygon", "coordinates": [box]},
                },
            },
        },
    }
    _, (out,) = run(doc, inventory, tmp_path)
    src = source(inventory, RLDS).sel(time=slice("2016-01-01", "2016-12-31"))
    np.testing.assert_allclose(out.rlds.values[:, 0], src.rlds.values[:, 1, 1], rtol=1e-6)


def test_regrid_nearest_then_yearly_means_equal_numpy(inventory, tmp_path):
    doc = {
        "inputs": {"rlds": [RLDS]},
        "outputs": {"output": "yearly/output"},
        "steps": {
            "subset": {"run": "subset", "in": {"collection": "inputs/rlds", "time": "2016/2017"}},
            "regrid": {
                "run": "regrid",
                "in": {
                    "collection": "subset/output",
                    "method": "nearest_s2d",
                    "grid": "custom",
                    "custom_grid": "0 200 100 -90 90 90",
                },
            },
            "yearly": {
                "run": "average_time",
                "in": {"collection": "regrid/output", "freq": "year"},
            },
        },
    }
    _, (out,) = run(doc, inventory, tmp_path)
    # target cells centred at latitudes -45, 45 and longitudes 50, 150, between the source
    # centres: the nearest are at latitudes -89.25 and 60.75, longitudes 0 and 200
    assert out.lat.values.tolist() == [-45, 45] and out.lon.values.tolist() == [50, 150]
    src = source(inventory, RLDS).sel(time=slice("2016-01-01", "2017-12-31"))
    weights, years = days(src.time_bnds.values), src.time.dt.year.values
    expected = [
        (src.rlds.values[years == y] * weights[years == y, None, None]).sum(axis=0)
        / weights[years == y].sum()
        for y in (2016, 2017)
    ]
    np.testing.assert_allclose(out.rlds.values, expected, rtol=1e-6)


def test_area_mean_after_regrid_uses_the_new_cells_not_areacello(inventory, tmp_path):
    doc = {
        "inputs": {"siconc": SEA_ICE},
        "outputs": {"output": "area/output"},
        "steps": {
            "subset": {"run": "subset", "in": {"collection": "inputs/siconc", "time": "2010/2010"}},
            "regrid": {
                "run": "regrid",
                "in": {
                    "collection": "subset/output",
                    "method": "bilinear",
                    "grid": "custom",
                    "custom_grid": "60 30",
                },
            },
            "area": {
                "run": "average",
                "in": {"collection": "regrid/output", "dims": "latitude,longitude"},
            },
        },
    }
    result, (out,) = run(doc, inventory, tmp_path)
    assert out.siconc.dims == ("time",)
    assert "cell areas from cell bounds" in out.siconc.attrs["cell_methods"]
    assert AREACELLO not in result.provenance.json()


def test_two_outputs_and_provenance_of_every_step(inventory, tmp_path):
    doc = copy.deepcopy(SUBSET_AVERAGE)
    doc["outputs"] = {"selection": "subset/output", "mean": "average/output"}
    result, (selection, mean) = run(doc, inventory, tmp_path)
    assert selection.sizes["time"] == 60 and "time" not in mean.rlds.dims
    activities = prov_records(result, "activity")
    assert set(activities) == {"cp4cds:orchestrate", "cp4cds:step/subset", "cp4cds:step/average"}
    assert activities["cp4cds:step/subset"]["cp4cds:operation"] == "subset"
    assert activities["cp4cds:step/subset"]["cp4cds:time"] == "2016/2020"
    assert activities["cp4cds:step/average"]["cp4cds:dims"] == "time"
    assert json.loads(activities["cp4cds:orchestrate"]["cp4cds:workflow"]) == doc
    subset_result = f"cp4cds:step/subset/{RLDS}"
    average_result = f"cp4cds:step/average/{RLDS}"
    used = {(r["prov:activity"], r["prov:entity"]) for r in prov_records(result, "used").values()}
    assert ("cp4cds:step/subset", f"esgf:{RLDS}") in used
    assert ("cp4cds:step/average", subset_result) in used
    generated = {
        (r["prov:entity"], r["prov:activity"])
        for r in prov_records(result, "wasGeneratedBy").values()
    }
    assert (subset_result, "cp4cds:step/subset") in generated
    assert (average_result, "cp4cds:step/average") in generated
    derived = {
        (r["prov:generatedEntity"], r["prov:usedEntity"])
        for r in prov_records(result, "wasDerivedFrom").values()
    }
    files = {f.name: f for f in result.files}
    assert set(files) == {
        "rlds_Amon_INM-CM5-0_ssp245_r1i1p1f1_gr1_201601-202012.nc",
        "rlds_Amon_INM-CM5-0_ssp245_r1i1p1f1_gr1_201601-202101.nc",
    }
    assert (f"cp4cds:output/{result.files[0].name}", subset_result) in derived
    assert (f"cp4cds:output/{result.files[1].name}", average_result) in derived
    png = result.provenance.plot(tmp_path / "prov.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_input_read_by_two_steps_is_recorded_once(inventory, tmp_path):
    doc = {
        "inputs": {"rlds": RLDS},
        "outputs": {"first": "y2016/output", "second": "y2017/output"},
        "steps": {
            "y2016": {"run": "subset", "in": {"collection": "inputs/rlds", "time": "2016/2016"}},
            "y2017": {"run": "subset", "in": {"collection": "inputs/rlds", "time": "2017/2017"}},
        },
    }
    result, (first, second) = run(doc, inventory, tmp_path)
    assert first.time.dt.year.values.tolist() == [2016] * 12
    assert second.time.dt.year.values.tolist() == [2017] * 12
    used = [(r["prov:activity"], r["prov:entity"]) for r in prov_records(result, "used").values()]
    dataset = f"esgf:{RLDS}"
    assert sorted(a for a, e in used if e == dataset) == [
        "cp4cds:orchestrate",
        "cp4cds:step/y2016",
        "cp4cds:step/y2017",
    ]
    assert isinstance(prov_records(result, "entity")[dataset], dict)  # one record, not a list


def test_progress_is_reported(inventory, tmp_path):
    seen = []
    run(SUBSET_AVERAGE, inventory, tmp_path, progress=lambda p, m: seen.append((p, m)))
    assert seen == [
        (0, "orchestrate: step subset (subset)"),
        (0, "orchestrate: step average (average)"),
        (0, f"orchestrate: writing output of {RLDS}"),
        (100, "orchestrate done: 1 file(s)"),
    ]


def test_an_error_while_running_names_the_step_and_leaves_no_folder(inventory, tmp_path):
    doc = copy.deepcopy(SUBSET_AVERAGE)
    doc["steps"]["average"]["in"]["dims"] = "level"
    with pytest.raises(InvalidParameter) as err:
        run(doc, inventory, tmp_path)
    assert err.value.name == "workflow"
    assert str(err.value).startswith(
        "workflow: step 'average' (average): dims: dataset has no level axis"
    )
    assert not (tmp_path / "job").exists()


# -- validation -------------------------------------------------------------------------------


def changed(path: str, value) -> dict:
    """SUBSET_AVERAGE with the key at ``path`` ("steps/subset/run") set to ``value`` (or
    removed when ``value`` is ``...``)."""
    doc = copy.deepcopy(SUBSET_AVERAGE)
    *parents, key = path.split("/")
    target = functools.reduce(lambda d, k: d[k], parents, doc)
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return doc


CYCLE = {
    "inputs": {"rlds": RLDS},
    "outputs": {"output": "c/output"},
    "steps": {
        "a": {"run": "subset", "in": {"collection": ["inputs/rlds", "c/output"]}},
        "b": {"run": "subset", "in": {"collection": "a/output"}},
        "c": {"run": "subset", "in": {"collection": "b/output"}},
    },
}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"inputs": ', "is not valid JSON: Expecting value at line 1, column 12"),
        ("[" * 50000, "nests lists and objects deeper than 64 levels"),  # was RecursionError
        ("[1, 2]", "must be a JSON object with the keys inputs, steps and outputs"),
        (
            changed("steps", ...),
            "the key 'steps' is missing; a workflow has inputs, steps, outputs",
        ),
        (changed("step", {}), "the workflow has unknown key(s) 'step'; known keys are doc, "),
        (changed("inputs", {}), "'inputs' must be a non-empty JSON object"),
        (changed("inputs/rlds", 5), "input 'rlds' must be a dataset id or a list of dataset ids"),
        (changed("inputs/rlds", []), "input 'rlds' names no dataset id"),
        (
            changed("inputs/rlds", [RLDS, RLDS]),
            f"input 'rlds': dataset id given more than once: {RLDS}",
        ),
        (changed("steps/sub set", {}), "step name 'sub set' may hold only letters, digits"),
        (changed("steps/subset/run", ...), "step 'subset' has no 'run'"),
        (changed("steps/inputs", {}), "the step name 'inputs' is kept for references to workflow"),
        (
            changed("steps/subset/run", ["subset"]),
            "step 'subset' runs the unknown operation ['subset']",
        ),
        (
            changed("steps/subset/with", 1),
            "step 'subset' has unknown key(s) 'with'; known keys are run, in",
        ),
        (changed("steps/subset/in", "inputs/rlds"), "step 'subset': 'in' must be a JSON object"),
        (
            changed("steps/subset/run", "regridd"),
            "step 'subset' runs the unknown operation 'regridd'; known operations are subset, "
            "average, average_time, average_shape, regrid, concat",
        ),
        (
            changed("steps/average/in/freq", "year"),
            "step 'average': average has no input 'freq'; its inputs are collection, dims",
        ),
        (
            changed("steps/average/in/dims", ...),
            "step 'average' (average): input 'dims' is required",
        ),
        (
            changed("steps/average/in/collection", ...),
            "step 'average' (average): input 'collection' is required",
        ),
        (
            changed("steps/subset/in/collection", "inputs/tas"),
            "step 'subset' refers to the unknown input 'tas'; the inputs are rlds",
        ),
        (
            changed("steps/average/in/collection", "subst/output"),
            "step 'average' refers to the unknown step 'subst'; the steps are subset, average",
        ),
        (
            changed("steps/average/in/collection", RLDS),
            f"step 'average': the collection {RLDS!r} is not a reference; write "
            "'inputs/<input name>' or '<step name>/output'",
        ),
        (
            changed("steps/average/in/collection", ["subset/output", "subset/output"]),
            "step 'average': the collection names a reference more than once",
        ),
        (
            changed("outputs/output", "averag/output"),
            "output 'output' refers to the unknown step 'averag'; the steps are subset, average",
        ),
        (changed("outputs/output", "inputs/rlds"), "output 'output' must be a step's result"),
        (
            changed("outputs/output", "subset/output"),
            "no output needs the step(s) 'average'; name their result in 'outputs' or leave",
        ),
        (CYCLE, "the steps 'a' -> 'b' -> 'c' -> 'a' form a cycle"),
        (
            changed("steps/subset/in/collection", "subset/output"),
            "the steps 'subset' -> 'subset' form a cycle",
        ),
        (
            changed("steps/subset/in/time", "2020/2016"),
            "step 'subset' (subset): time: in '2020/2016' the start 2020-01-01T00:00:00 is after "
            "the end 2016-12-31T23:59:59",
        ),
        (
            changed("steps/subset/in/area", [0, 1, 2]),
            "step 'subset' (subset): area: '0,1,2' must be 4",
        ),
        (
            changed("steps/subset/in/level", "a/b"),
            "step 'subset' (subset): level: 'a' in 'a/b' is not a number",
        ),
        (
            changed("steps/subset/in/time_components", "month:13"),
            "step 'subset' (subset): time_components: invalid month values '13'",
        ),
        (
            changed("steps/average/in/dims", "tme"),
            "step 'average' (average): dims: unknown dimension 'tme'",
        ),
        (
            changed(
                "steps/average",
                {"run": "average_time", "in": {"collection": "subset/output", "freq": "week"}},
            ),
            "step 'average' (average_time): freq: 'week' is not one of day, month, season, year",
        ),
        (
            changed(
                "steps/average",
                {"run": "average_shape", "in": {"collection": "subset/output", "shape": "{"}},
            ),
            "step 'average' (average_shape): shape: is not GeoJSON",
        ),
        (
            changed(
                "steps/average",
                {"run": "regrid", "in": {"collection": "subset/output", "method": "nearest"}},
            ),
            "step 'average' (regrid): method: 'nearest' is not one of nearest_s2d, bilinear, "
            "conservative",
        ),
        (
            changed(
                "steps/average",
                {
                    "run": "regrid",
                    "in": {
                        "collection": "subset/output",
                        "method": "bilinear",
                        "grid": "1deg",
                        "custom_grid": "1 1",
                    },
                },
            ),
            "step 'average' (regrid): custom_grid: is only used with grid custom",
        ),
        (
            changed(
                "steps/average",
                {"run": "concat", "in": {"collection": "subset/output", "apply_average": "maybe"}},
            ),
            "step 'average' (concat): apply_average: 'maybe' is not true or false",
        ),
    ],
)
def test_invalid_workflows_are_refused_naming_step_and_problem(doc, message):
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(InvalidParameter) as err:
        parse_workflow(text)
    assert err.value.name == "workflow"
    assert str(err.value).startswith(f"workflow: {message}")


def test_no_workflow_is_a_missing_parameter():
    with pytest.raises(MissingParameter, match="workflow: a value is required"):
        parse_workflow("  ")


def test_steps_are_ordered_after_their_sources_and_values_read_from_json():
    doc = changed(
        "steps",
        {
            "mean": {
                "run": "average",
                "in": {"collection": "sub/output", "dims": ["latitude", "longitude"]},
            },
            "sub": {
                "run": "subset",
                "in": {"collection": "inputs/rlds", "area": [0, -10.5, 20, 10], "level": 850},
            },
        },
    )
    doc["outputs"] = {"output": "mean/output"}
    workflow = parse_workflow(json.dumps(doc))
    assert [s.name for s in workflow.steps] == ["sub", "mean"]
    sub, mean = workflow.steps
    assert str(sub.request.area) == "0,-10.5,20,10"
    assert str(sub.request.level) == "850/850"
    assert sub.given == {"area": "0,-10.5,20,10", "level": "850"}
    assert mean.request.dims == ("latitude", "longitude")
    assert workflow.inputs == {"rlds": (RLDS,)}
    assert workflow.outputs == {"output": "mean"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            changed("inputs/rlds", RLDS + "x"),
            f"input 'rlds': unknown dataset id '{RLDS}x'; did you mean: {RLDS}",
        ),
        (
            changed("steps/subset/in/time", "1990/2000"),
            "step 'subset' (subset): time: 1990-01-01T00:00:00/2000-12-31T23:59:59 is outside "
            f"the time range of {RLDS}",
        ),
        (
            changed("inputs", {"a": RLDS, "b": RLDS.replace(".v20190619", "")})
            | {
                "steps": {
                    "subset": {"run": "subset", "in": {"collection": ["inputs/a", "inputs/b"]}},
                    "average": SUBSET_AVERAGE["steps"]["average"],
                }
            },
            f"step 'subset' (subset) gets the dataset(s) {RLDS} more than once",
        ),
        (
            changed("steps/average", {"run": "concat", "in": {"collection": "subset/output"}}),
            "step 'average' (concat): collection: concat needs two or more dataset ids",
        ),
        (
            {
                "inputs": {"m": MEMBERS},
                "outputs": {"output": "twice/output"},
                "steps": {
                    "once": {"run": "concat", "in": {"collection": "inputs/m"}},
                    "twice": {"run": "concat", "in": {"collection": "once/output"}},
                },
            },
            "step 'twice' (concat) gets an ensemble made by another concat step",
        ),
        (
            changed("inputs/rlds", [RLDS, MEMBERS[0]])
            | {
                "steps": {
                    "subset": {"run": "concat", "in": {"collection": "inputs/rlds"}},
                    "average": SUBSET_AVERAGE["steps"]["average"],
                }
            },
            "step 'subset' (concat): collection: member",
        ),
    ],
)
def test_dataset_problems_are_refused_before_running(inventory, doc, message):
    with pytest.raises(InvalidParameter) as err:
        plan_workflow(parse_workflow(json.dumps(doc)), inventory)
    assert err.value.name == "workflow"
    assert str(err.value).startswith(f"workflow: {message}")
