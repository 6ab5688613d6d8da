"""Resolving selections on the real archive, against brute force and the main WPS's answers."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.meta.resolve import resolve
from cp4cds_wps.meta.selection import parse_selection
from cp4cds_wps.operations.subset import SubsetRequest, plan_subset
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.params import parse_area, parse_level, parse_time
from cp4cds_wps.ops.subset import subset

pytestmark = pytest.mark.realdata

CMIP6_ROOT = "badc/cmip6/data/CMIP6"
CMIP6_LEVELS = ("activity", "institute", "model", "experiment", "member", "table", "variable")
CMIP6_LEVELS += ("grid",)
IPSL = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"
MIROC_TA = "CMIP6.ScenarioMIP.MIROC.MIROC6.ssp119.r1i1p1f1.Amon.ta.gn.v20190807"
MIROC_SICONC = "CMIP6.CMIP.MIROC.MIROC6.historical.r1i1p1f1.SImon.siconc.gn.latest"
CORDEX_PSL = (
    "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212"
)


def cmip6_directories(archive_dir: Path) -> list[dict[str, str]]:
    """The CMIP6 datasets of the archive from its directory tree alone: every directory
    holding netCDF files, its levels read as the CMIP6 DRS names them."""
    top = archive_dir / CMIP6_ROOT
    found = []
    for folder, _, names in os.walk(top):
        if not any(n.endswith(".nc") for n in names):
            continue
        parts = Path(folder).relative_to(top).parts
        version = f"v{parts[9][1:]}" if parts[8] == "files" else parts[8]
        facets = dict(zip(CMIP6_LEVELS, parts[:8], strict=True))
        facets["version"] = version
        facets["id"] = ".".join(["CMIP6", *parts[:8], version])
        found.append(facets)
    return found


def answer(inventory, settings, **params):
    return resolve(inventory, parse_selection(params), settings, ("subset", "average"))


@pytest.mark.parametrize(
    "selection",
    [
        {},
        {"experiment": "historical"},
        {"experiment": "historical", "table": "SImon"},
        {"activity": "DCPP", "model": "MPI-ESM1-2-LR"},
        {"variable": "tas,pr", "grid": "gn"},
        {"institute": "MPI-M", "experiment": "historical", "variable": "siconc"},
    ],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "cmip6",
)
def test_values_equal_a_scan_of_the_directories(inventory, settings, archive_dir, selection):
    datasets = [
        d
        for d in cmip6_directories(archive_dir)
        if all(d[k] in v.split(",") for k, v in selection.items())
    ]
    found = answer(inventory, settings, project="cmip6", **selection)
    assert found["invalid"] == []
    assert found["matches"] == len(datasets)
    for name in (*CMIP6_LEVELS, "version"):
        if name in selection:
            assert name not in found["facets"]
        else:
            assert found["facets"][name] == dict(sorted(Counter(d[name] for d in datasets).items()))
    if len(datasets) <= 20:
        assert found["datasets"] == sorted(d["id"] for d in datasets)


def test_values_across_projects_equal_the_inventory_records(inventory, settings):
    records = [d for d in inventory.list() if d.variable == "tas"]
    found = answer(inventory, settings, variable="tas")
    assert found["matches"] == len(records)
    for name in ("project", "model", "experiment", "frequency", "domain", "realm"):
        expected = Counter(d.facets[name] for d in records if name in d.facets)
        assert found["facets"][name] == dict(sorted(expected.items()))


def test_a_value_no_dataset_has_is_reported_with_close_values(inventory, settings):
    found = answer(inventory, settings, project="cmip6", model="MIROC7")
    assert found["matches"] == 0 and found["facets"] == {}
    (problem,) = found["invalid"]
    assert problem["facet"] == "model" and problem["value"] == "MIROC7"
    assert problem["reason"] == "no dataset has model 'MIROC7'; did you mean MIROC6"


def test_an_impossible_combination_names_the_value_and_the_valid_ones(
    inventory, settings, archive_dir
):
    found = answer(inventory, settings, project="cmip6", experiment="ssp119", variable="siconc")
    assert found["matches"] == 0
    problems = {p["facet"]: p for p in found["invalid"]}
    assert set(problems) == {"experiment", "variable"}
    directories = cmip6_directories(archive_dir)
    with_siconc = sorted({d["experiment"] for d in directories if d["variable"] == "siconc"})
    assert problems["experiment"]["valid"] == with_siconc
    assert problems["experiment"]["reason"].startswith(
        "no dataset has experiment 'ssp119' together with project cmip6 and variable siconc; "
    )
    in_ssp119 = sorted({d["variable"] for d in directories if d["experiment"] == "ssp119"})
    assert problems["variable"]["valid"] == in_ssp119


def test_one_value_of_several_that_matches_nothing_is_reported(inventory, settings):
    found = answer(inventory, settings, project="cmip6", experiment="ssp119", variable="ta,siconc")
    assert found["matches"] == 1
    (problem,) = found["invalid"]
    assert (problem["facet"], problem["value"]) == ("variable", "siconc")


def test_unknown_facets_are_reported_and_ignored(inventory, settings):
    found = answer(inventory, settings, project="cmip6", modle="MIROC6")
    assert found["invalid"][0]["facet"] == "modle"
    assert found["invalid"][0]["valid"] == ["model"]
    assert found["matches"] == 50


def test_one_dataset_is_described_from_its_files(inventory, settings):
    found = answer(inventory, settings, project="cmip6", model="MIROC6", variable="ta")
    dataset = found["dataset"]
    assert dataset["id"] == MIROC_TA
    record = inventory.get(MIROC_TA)
    assert dataset["time"] == {
        "start": "2015-01-16T12:00:00",
        "end": "2024-12-16T12:00:00",
        "calendar": record.calendar,
        "steps": 120,
    }
    assert dataset["size"] == record.size == sum(f["size"] for f in dataset["files"])
    ds = open_dataset([f.path for f in record.files])
    assert dataset["levels"]["values"] == ds.plev.values.tolist()
    assert dataset["levels"]["units"] == ds.plev.attrs["units"] == "Pa"
    assert dataset["grid"]["type"] == "regular"
    assert dataset["grid"]["dims"] == {"lat": ds.sizes["lat"], "lon": ds.sizes["lon"]}
    assert dataset["grid"]["extent"] == {
        "west": float(ds.lon.min()),
        "east": float(ds.lon.max()),
        "south": float(ds.lat.min()),
        "north": float(ds.lat.max()),
    }
    assert {v["name"] for v in dataset["variables"]} == set(ds.variables)


@pytest.mark.parametrize(
    ("dataset_id", "grid_type"),
    [(IPSL, "regular"), (MIROC_SICONC, "curvilinear"), (CORDEX_PSL, "rotated_pole")],
)
def test_grid_types(inventory, settings, dataset_id, grid_type):
    found = answer(inventory, settings, collection=dataset_id)
    assert found["dataset"]["id"] == dataset_id
    assert found["dataset"]["grid"]["type"] == grid_type


def main_wps_error(inventory, dataset_id: str, **params) -> str | None:
    """What the main WPS's subset answers: its planning error, else the subset's error."""
    request = SubsetRequest(
        collection=(dataset_id,),
        time=parse_time(params.get("time")),
        area=parse_area(params.get("area")),
        level=parse_level(params.get("level")),
    )
    try:
        (plan,) = plan_subset(request, inventory)
        ds = open_dataset([f.path for f in plan.files])
        result = subset(ds, time=request.time, area=request.area, level=request.level)
    except InvalidParameter as err:
        return str(err)
    return {d: int(n) for d, n in result.sizes.items()}


@pytest.mark.parametrize(
    ("dataset_id", "params"),
    [
        (IPSL, {"time": "1900/1910", "area": "0,-90,60,0"}),
        (IPSL, {"time": "2050/2060"}),
        (IPSL, {"area": "300,50,310,60"}),
        (MIROC_TA, {"level": "85000/50000", "area": "10,-50,100,20"}),
        (MIROC_TA, {"level": "99999"}),
        (MIROC_SICONC, {"area": "-60,50,20,85"}),
        (MIROC_SICONC, {"area": "-60,85,20,89"}),
        (CORDEX_PSL, {"area": "0,40,20,60", "time": "2010/2012"}),
        (CORDEX_PSL, {"level": "1000/500"}),
    ],
)
def test_checks_answer_as_the_main_wps(inventory, settings, dataset_id, params):
    found = answer(inventory, settings, collection=dataset_id, **params)
    expected = main_wps_error(inventory, dataset_id, **params)
    checks = found["checks"]
    assert set(checks) - {"collection"} == set(params)
    if isinstance(expected, str):
        failed = [c["reason"] for c in checks.values() if not c["valid"]]
        assert failed[0] == expected
        return
    assert all(c["valid"] for c in checks.values())
    if "area" in params:
        for dim, size in checks["area"]["shape"].items():
            assert expected[dim] == size
    if "level" in params:
        assert len(checks["level"]["values"]) == expected["plev"]


def test_checks_wait_for_one_dataset_but_check_the_form_at_once(inventory, settings):
    found = answer(inventory, settings, project="cmip6", time="1990/1980", area="0,0,10,10")
    assert found["checks"]["time"] == {
        "valid": False,
        "reason": "time: in '1990/1980' the start 1990-01-01T00:00:00 is after the end "
        "1980-12-31T23:59:59",
    }
    assert found["checks"]["area"]["valid"] is None


def test_a_target_process_adds_the_estimate(inventory, settings):
    found = answer(inventory, settings, collection=IPSL, time="1900/1910", process="subset")
    estimate = found["estimate"]
    assert estimate["valid"] and estimate["within_limits"] and estimate["files"] == 1
    assert estimate["datasets"][0]["shape"]["time"] == 132
    unknown = answer(inventory, settings, collection=IPSL, process="subsett")
    assert unknown["checks"]["process"]["valid"] is False
    assert "the main WPS offers subset, average" in unknown["checks"]["process"]["reason"]


def test_resolving_is_fast(inventory, settings):
    selection = parse_selection({"project": "cmip6", "experiment": "historical"})
    resolve(inventory, selection, settings)
    times = []
    for _ in range(20):
        began = time.perf_counter()
        resolve(inventory, selection, settings)
        times.append(time.perf_counter() - began)
    assert np.percentile(times, 95) < 0.05
