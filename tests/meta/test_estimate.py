"""Estimates of main-WPS requests against real runs of the tasks on the archive, and limits."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
import xarray as xr

from cp4cds_wps.config import ConfigError, LimitSettings, load_settings
from cp4cds_wps.errors import InvalidParameter, MissingParameter, UnknownDataset
from cp4cds_wps.meta.estimate import check_limits, estimate, over_limit, wps_inputs
from cp4cds_wps.operations.average import (
    AverageRequest,
    AverageTimeRequest,
    plan_average,
    run_average,
    run_average_time,
)
from cp4cds_wps.operations.subset import SubsetRequest, plan_subset, run_subset
from cp4cds_wps.ops.average import parse_dims
from cp4cds_wps.ops.params import parse_area, parse_level, parse_time, parse_time_components
from cp4cds_wps.tasks.runner import RunContext

pytestmark = pytest.mark.realdata

HADGEM_TAS = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
MIROC_TA = "CMIP6.ScenarioMIP.MIROC.MIROC6.ssp119.r1i1p1f1.Amon.ta.gn.v20190807"
MIROC_SICONC = "CMIP6.CMIP.MIROC.MIROC6.historical.r1i1p1f1.SImon.siconc.gn.latest"
CORDEX_PSL = (
    "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212"
)
EC_EARTH = "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231"


def subset_bytes(inventory, tmp_path, **inputs) -> int:
    """Bytes the subset task really writes for these inputs."""
    request = SubsetRequest(
        collection=tuple(inputs["collection"].split(",")),
        time=parse_time(inputs.get("time")),
        area=parse_area(inputs.get("area")),
        level=parse_level(inputs.get("level")),
    )
    result = run_subset(
        request,
        plan_subset(request, inventory),
        RunContext(
            out_dir=tmp_path / "out", out_url="http://x", data_url="http://y", time_chunk=120
        ),
    )
    return sum(f.size for f in result.files)


@pytest.mark.parametrize(
    "inputs",
    [
        {"collection": HADGEM_TAS, "time": "1900-01-01/1920-12-30", "area": "100,-10,200,60"},
        {"collection": MIROC_TA, "time": "2016/2019", "level": "85000/50000"},
        {"collection": MIROC_SICONC, "time": "1950/2000", "area": "-60,50,20,85"},
        {"collection": CORDEX_PSL, "time": "2010/2030", "area": "0,40,20,60"},
        {"collection": EC_EARTH, "area": "0,-90,90,0"},
        {"collection": f"{HADGEM_TAS},{MIROC_TA}", "time": "2000/2020"},
    ],
    ids=["regular", "levels", "curvilinear", "rotated-pole", "16-files", "two-datasets"],
)
def test_subset_estimate_is_within_10_percent_of_the_written_bytes(
    inventory, settings, tmp_path, inputs
):
    found = estimate("subset", inputs, inventory, max_file_mb=settings.max_file_mb)
    real = subset_bytes(inventory, tmp_path, **inputs)
    assert found.write_bytes == pytest.approx(real, rel=0.10)
    assert found.files == sum(d.files for d in found.datasets) > 0


def test_read_bytes_count_the_time_steps_taken_from_each_file(inventory, settings):
    dataset = inventory.get(HADGEM_TAS)
    whole = estimate(
        "subset", {"collection": HADGEM_TAS, "area": "-180,-90,180,90"}, inventory, max_file_mb=1
    )
    assert whole.read_bytes == dataset.size and whole.files == len(dataset.files)
    first = dataset.files[0]  # 1859-12 to 1884-11: 300 months; half of them
    half = estimate(
        "subset",
        {"collection": HADGEM_TAS, "time": "1859-12/1872-05", "area": "-180,-90,180,90"},
        inventory,
        max_file_mb=1,
    )
    assert half.files == 1 and half.read_bytes == round(first.size * 150 / 300)
    assert half.datasets[0].shape["time"] == 150


def test_whole_files_are_returned_as_they_are(inventory, settings):
    found = estimate("subset", {"collection": HADGEM_TAS}, inventory, max_file_mb=1)
    dataset = inventory.get(HADGEM_TAS)
    assert (found.read_bytes, found.write_bytes, found.files) == (0, 0, 0)
    assert found.datasets[0].linked == len(dataset.files)


def test_large_results_are_split_into_files_of_max_file_mb(inventory):
    one = estimate(
        "subset", {"collection": EC_EARTH, "area": "0,-90,90,0"}, inventory, max_file_mb=100
    )
    split = estimate(
        "subset", {"collection": EC_EARTH, "area": "0,-90,90,0"}, inventory, max_file_mb=1
    )
    # 58408 days of 4 + 8 + 16 bytes (tas, time, time_bnds): 1.6 MB
    assert one.datasets[0].outputs == 1 and split.datasets[0].outputs == 2


@pytest.mark.parametrize(
    ("process", "dataset_id", "extra"),
    [
        ("average", HADGEM_TAS, {"dims": "latitude,longitude"}),
        ("average", MIROC_TA, {"dims": "time"}),
        ("average_time", MIROC_TA, {"freq": "year"}),
        ("average_time", CORDEX_PSL, {"freq": "month"}),
    ],
)
def test_average_estimates(inventory, settings, tmp_path, process, dataset_id, extra):
    found = estimate(
        process, {"collection": dataset_id, **extra}, inventory, max_file_mb=settings.max_file_mb
    )
    if process == "average":
        request = AverageRequest(collection=(dataset_id,), dims=parse_dims(extra["dims"]))
        run = run_average
    else:
        request = AverageTimeRequest(collection=(dataset_id,), freq=extra["freq"])
        run = run_average_time
    result = run(
        request,
        plan_average(request, inventory),
        RunContext(out_dir=tmp_path, out_url="x", time_chunk=120),
    )
    assert found.write_bytes == pytest.approx(sum(f.size for f in result.files), rel=0.15)
    assert found.read_bytes == inventory.get(dataset_id).size


def test_expected_shapes(inventory):
    time_mean = estimate(
        "average", {"collection": MIROC_TA, "dims": "time"}, inventory, max_file_mb=1
    )
    assert time_mean.datasets[0].shape == {"plev": 19, "lat": 3, "lon": 6}
    yearly = estimate(
        "average_time", {"collection": MIROC_TA, "freq": "year"}, inventory, max_file_mb=1
    )
    assert yearly.datasets[0].shape == {"time": 10, "plev": 19, "lat": 3, "lon": 6}


def test_time_components_keep_their_share_of_the_steps(inventory, tmp_path):
    inputs = {"collection": HADGEM_TAS, "time": "1900/1929", "time_components": "month:01,02,12"}
    found = estimate("subset", inputs, inventory, max_file_mb=1)
    request = SubsetRequest(
        collection=(HADGEM_TAS,),
        time=parse_time(inputs["time"]),
        time_components=parse_time_components(inputs["time_components"]),
    )
    result = run_subset(
        request,
        plan_subset(request, inventory),
        RunContext(out_dir=tmp_path, out_url="x", data_url="y", time_chunk=120),
    )
    with xr.open_dataset(tmp_path / result.files[0].name) as ds:
        assert found.datasets[0].shape["time"] == ds.sizes["time"] == 30 * 3


def test_regrid_gives_the_target_grid(inventory):
    inputs = {"collection": MIROC_TA, "method": "bilinear", "grid": "2pt5deg"}
    found = estimate("regrid", inputs, inventory, max_file_mb=1)
    assert found.datasets[0].shape == {"time": 120, "plev": 19, "lat": 72, "lon": 144}
    with pytest.raises(InvalidParameter, match="grid"):
        estimate("regrid", {**inputs, "grid": "3deg"}, inventory, max_file_mb=1)


def test_other_processes_are_sized_by_what_they_read(inventory):
    found = estimate("plot", {"collection": MIROC_TA}, inventory, max_file_mb=1)
    assert found.write_bytes is None
    assert found.read_bytes == inventory.get(MIROC_TA).size
    workflow = {
        "inputs": {"ta": [MIROC_TA]},
        "steps": {"mean": {"run": "average", "in": {"collection": "inputs/ta", "dims": "time"}}},
        "outputs": {"output": "mean/output"},
    }
    nothing = estimate("orchestrate", {"workflow": json.dumps(workflow)}, inventory, max_file_mb=1)
    assert (nothing.files, nothing.read_bytes, nothing.write_bytes) == (0, 0, 0)
    with pytest.raises(InvalidParameter, match="workflow: the key 'inputs' is missing"):
        estimate("orchestrate", {"workflow": "{}"}, inventory, max_file_mb=1)


@pytest.mark.parametrize(
    ("process", "inputs", "error", "text"),
    [
        ("subset", {"collection": "CMIP6.x.y"}, UnknownDataset, "unknown dataset id"),
        ("subset", {"collection": MIROC_TA.replace("ta.", "tx.")}, UnknownDataset, "did you mean"),
        ("subset", {"collection": MIROC_TA, "time": "1990/1991"}, InvalidParameter, "outside"),
        ("subset", {}, MissingParameter, "collection: a value is required"),
        ("average", {"collection": MIROC_TA}, MissingParameter, "dims: a value is required"),
        ("average_time", {"collection": MIROC_TA, "freq": "week"}, InvalidParameter, "freq:"),
        ("concat", {"collection": MIROC_TA}, InvalidParameter, "concat needs two or more"),
        ("plot", {"collection": MIROC_TA, "kind": "bar"}, InvalidParameter, "kind:"),
        ("regrid", {"collection": MIROC_TA, "method": "cubic"}, InvalidParameter, "method:"),
        ("nothing", {"collection": MIROC_TA}, InvalidParameter, "process: unknown process"),
    ],
)
def test_invalid_requests_are_refused_as_the_main_wps_refuses_them(
    inventory, process, inputs, error, text
):
    with pytest.raises(error) as err:
        estimate(process, inputs, inventory, max_file_mb=1)
    assert text in str(err.value)


def test_limits(inventory, settings):
    inputs = {"collection": CORDEX_PSL, "time": "2010/2030", "area": "0,40,20,60"}
    found = check_limits("subset", inputs, inventory, settings)
    assert found.to_dict(settings.limits)["within_limits"] is True

    small = replace(settings, limits=LimitSettings(max_read_mb=51200, max_write_mb=1, max_files=2))
    answer = estimate("subset", inputs, inventory, max_file_mb=1).to_dict(small.limits)
    assert answer["within_limits"] is False
    with pytest.raises(InvalidParameter) as err:
        check_limits("subset", inputs, inventory, small)
    assert err.value.name == "collection"
    assert err.value.reason == answer["reason"]
    assert err.value.reason.startswith("the request would open 3 files, more than this service's")
    assert "(max_files)" in err.value.reason

    tiny = LimitSettings(max_read_mb=51200, max_write_mb=1, max_files=100)
    big = estimate(
        "subset", {"collection": EC_EARTH, "area": "0,-90,90,0"}, inventory, max_file_mb=9
    )
    problem = over_limit(big, tiny)
    assert problem.reason.startswith("the request would write about 2 MiB, more than this")
    assert "limit of 1 MiB (max_write_mb)" in problem.reason


def test_limits_are_settings(tmp_path, archive_dir):
    env = {"CP4CDS_WPS_LIMITS__MAX_FILES": "7", "CP4CDS_WPS_ARCHIVE__BASE_DIR": str(archive_dir)}
    assert load_settings(env=env).limits.max_files == 7
    with pytest.raises(ConfigError, match=r"\[limits\] max_read_mb must be positive"):
        load_settings(env={**env, "CP4CDS_WPS_LIMITS__MAX_READ_MB": "0"})


def test_wps_inputs_join_repeated_values():
    request = SimpleNamespace(
        inputs={
            "collection": [SimpleNamespace(data="a"), SimpleNamespace(data="b")],
            "original_files": [SimpleNamespace(data=True)],
            "time": [],
        }
    )
    assert wps_inputs(request) == {"collection": "a,b", "original_files": "True"}


def test_a_repeated_estimate_samples_the_data_once(inventory, monkeypatch):
    """Every submission is estimated: the same selection of the same file is sampled once
    per process (it cost 15 ms of each of 200 identical submissions)."""
    from cp4cds_wps.operations import sizing as module

    calls = []
    sample = module.compressed_fraction

    def counted(*args, **kwargs):
        calls.append(args[0])
        return sample(*args, **kwargs)

    monkeypatch.setattr(module, "compressed_fraction", counted)
    monkeypatch.setattr(module, "_RATIOS", {})
    inputs = {"collection": EC_EARTH, "time": "1900/1901", "area": "0,-90,90,0"}
    first, second = (estimate("subset", inputs, inventory, max_file_mb=10) for _ in range(2))
    assert first == second and len(calls) == 1
    estimate("subset", {**inputs, "time": "1902/1903"}, inventory, max_file_mb=10)
    assert len(calls) == 2  # another selection is sampled again
