"""DRS paths to facets and ids, and ids back to facets."""

from __future__ import annotations

import pytest

from cp4cds_wps.inventory import drs


def _parts(path: str) -> list[str]:
    return path.split("/")


CMIP6_DIRS = _parts("CMIP/IPSL/IPSL-CM6A-LR/historical/r1i1p1f1/Amon/rlds/gr/v20180803")


def test_cmip6_path_gives_facets_and_esgf_id():
    facets = drs.facets_from_path("cmip6", CMIP6_DIRS, "rlds.nc", {})
    assert drs.build_id(facets) == (
        "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"
    )
    assert facets["frequency"] == "mon"
    assert facets["sub_experiment"] == "none"
    assert facets["model"] == "IPSL-CM6A-LR"
    assert facets["grid"] == "gr"


def test_dcpp_member_keeps_sub_experiment():
    dirs = _parts("DCPP/MOHC/HadGEM3/dcppA-hindcast/s1960-r2i1p1f2/day/tasmin/gn/v20200417")
    facets = drs.facets_from_path("cmip6", dirs, "x.nc", {})
    assert facets["member"] == "s1960-r2i1p1f2"
    assert facets["sub_experiment"] == "s1960"
    assert facets["frequency"] == "day"


def test_files_dnnn_layout_is_version_vnnn():
    dirs = _parts("ScenarioMIP/MIROC/MIROC6/ssp119/r1i1p1f1/Amon/ta/gn/files/d20190807")
    facets = drs.facets_from_path("cmip6", dirs, "ta.nc", {})
    assert facets["version"] == "v20190807"
    assert drs.build_id(facets).endswith(".Amon.ta.gn.v20190807")


@pytest.mark.parametrize(
    ("table", "frequency"),
    [
        ("Amon", "mon"),
        ("SImon", "mon"),
        ("AERmon", "mon"),
        ("Omon", "mon"),
        ("day", "day"),
        ("SIday", "day"),
        ("fx", "fx"),
        ("Ofx", "fx"),
        ("6hrPlevPt", "6hrPt"),
        ("3hr", "3hr"),
        ("Oyr", "yr"),
        ("Oclim", "monC"),
    ],
)
def test_frequency_from_cmip6_table(table, frequency):
    assert drs.frequency_from_table(table) == frequency


def test_cmip5_and_c3s_cmip5_differ_in_version_position():
    cmip5 = _parts("output1/MOHC/HadGEM2-ES/historical/mon/atmos/Amon/r1i1p1/latest/tas")
    assert drs.build_id(drs.facets_from_path("cmip5", cmip5, "t.nc", {})) == (
        "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
    )
    c3s = _parts("ICHEC/EC-EARTH/historical/day/atmos/day/r1i1p1/tas/v20131231")
    facets = drs.facets_from_path("c3s-cmip5", c3s, "t.nc", {"product": "output1"})
    assert drs.build_id(facets) == (
        "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231"
    )
    assert facets["realm"] == "atmos"


def test_cordex_model_is_the_rcm():
    dirs = "output/EUR-11/KNMI/MPI-M-MPI-ESM-LR/rcp85/r1i1p1/KNMI-RACMO22E/v1/mon/tas/v20190625"
    facets = drs.facets_from_path("cordex", dirs.split("/"), "t.nc", {})
    assert drs.build_id(facets) == (
        "cordex.output.EUR-11.KNMI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.KNMI-RACMO22E.v1.mon.tas.v20190625"
    )
    assert facets["model"] == "KNMI-RACMO22E"
    assert facets["driving_model"] == "MPI-M-MPI-ESM-LR"
    assert facets["rcm_version"] == "v1"
    assert facets["domain"] == "EUR-11"


def test_atlas_ids_follow_roocs():
    with_expt = drs.facets_from_path(
        "c3s-cica-atlas", ["CMIP5", "rcp26"], "pr_CMIP5_rcp26_mon_200601-210012.nc", {}
    )
    assert "version" not in with_expt  # the tree names none: the files' product_version does
    assert (
        drs.build_id(drs.with_version(with_expt, "v1.0")) == "c3s-cica-atlas.pr.CMIP5.rcp26.mon.v1"
    )
    no_expt = drs.facets_from_path("c3s-cica-atlas", ["E-OBS"], "t_E-OBS_mon_195001.nc", {})
    assert drs.build_id(drs.with_version(no_expt, None)) == "c3s-cica-atlas.t.E-OBS.mon.v1"
    assert drs.facets_from_path("c3s-cica-atlas", ["ERA5"], "psl_other_mon_1940.nc", {}) is None


@pytest.mark.parametrize(
    ("project", "dirs", "name", "fixed", "product_version", "expected"),
    [
        # the roocs catalogs of the Atlas v2 and v2.5: a version folder and a file name tag
        (
            "c3s-cica-atlas",
            ["v02", "CMIP6", "historical"],
            "fdbals_CMIP6_historical_mon_185001-201412_v02.nc",
            {},
            "v1.0",
            "c3s-cica-atlas.fdbals.CMIP6.historical.mon.v2",
        ),
        ("c3s-cica-atlas", ["v025", "ERA5"], "psl_ERA5_mon_194001-202512_v025.nc", {}, None,
         "c3s-cica-atlas.psl.ERA5.mon.v25"),
        ("c3s-cica-atlas", ["ERA5"], "psl_ERA5_mon_194001-202512_v03.nc", {}, None,
         "c3s-cica-atlas.psl.ERA5.mon.v3"),
        # the IPCC AR6 Interactive Atlas: its files say product_version = "v2.0-final"
        ("c3s-ipcc-ar6-atlas", ["CORDEX-ANT", "rcp45"], "tnn_CORDEX-ANT_rcp45_mon_200601.nc", {},
         "v2.0-final", "c3s-ipcc-ar6-atlas.tnn.CORDEX-ANT.rcp45.mon.v2"),
        # a root's fixed version wins over the files'
        ("c3s-ipcc-ar6-atlas", ["CMIP6", "ssp245"], "sst_CMIP6_ssp245_mon_201501-210012.nc",
         {"version": "v7"}, "v2.0-final", "c3s-ipcc-ar6-atlas.sst.CMIP6.ssp245.mon.v7"),
    ],
)  # fmt: skip
def test_atlas_versions_come_from_the_tree_the_root_or_the_files(
    project, dirs, name, fixed, product_version, expected
):
    facets = drs.facets_from_path(project, dirs, name, fixed)
    assert drs.build_id(drs.with_version(facets, product_version)) == expected


def test_atlas_version_folder_and_file_tag_must_agree():
    assert (
        drs.facets_from_path("c3s-cica-atlas", ["v02", "ERA5"], "psl_ERA5_mon_1940_v03.nc", {})
        is None
    )


@pytest.mark.parametrize(
    ("product_version", "version"),
    [
        ("v1.0", "v1"),
        ("v2.0-final", "v2"),
        ("2.5", "v25"),
        ("v3", "v3"),
        (None, "v1"),
        ("final", "v1"),
    ],
)
def test_atlas_version_from_product_version(product_version, version):
    assert drs.atlas_version(product_version) == version


def test_ipcc_atlas_ids_in_rooks_spelling_are_the_cds_names():
    assert (
        drs.canonical_id("c3s-ipcc-atlas.tnn.CMIP5.rcp45.mon")
        == "c3s-ipcc-ar6-atlas.tnn.CMIP5.rcp45.mon"
    )
    assert drs.parse_id("C3S-IPCC-AR6-ATLAS.t.CORDEX-ANT.rcp45.mon") == {
        "project": "c3s-ipcc-ar6-atlas",
        "variable": "t",
        "origin": "CORDEX-ANT",
        "experiment": "rcp45",
        "frequency": "mon",
    }


def test_path_not_fitting_the_drs_is_refused():
    assert drs.facets_from_path("cmip6", CMIP6_DIRS[:-1], "x.nc", {}) is None
    assert drs.facets_from_path("cmip6", [*CMIP6_DIRS[:-1], "notaversion"], "x.nc", {}) is None


@pytest.mark.parametrize(
    "dataset_id",
    [
        "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803",
        "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas",
        "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231",
        "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v1",
        "c3s-cmip6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803",
        "c3s-cica-atlas.pr.CMIP5.rcp26.mon.v1",
        "c3s-cica-atlas.psl.ERA5.mon.v1",
        "c3s-ipcc-ar6-atlas.tnn.CORDEX-ANT.rcp45.mon.v2",
        "c3s-cica-atlas.cd.ERA5-Land.yr.v25",
    ],
)
def test_parse_id_round_trips(dataset_id):
    assert drs.build_id(drs.parse_id(dataset_id)) == dataset_id


def test_parse_id_without_version_and_any_prefix_case():
    facets = drs.parse_id("cmip6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr")
    assert facets["project"] == "cmip6"
    assert "version" not in facets
    assert drs.parse_id("c3s-cica-atlas.psl.ERA5.mon") == {
        "project": "c3s-cica-atlas",
        "variable": "psl",
        "origin": "ERA5",
        "frequency": "mon",
    }


def test_parse_id_errors_name_the_problem():
    with pytest.raises(ValueError, match="known project"):
        drs.parse_id("CMIP7.CMIP.x")
    with pytest.raises(ValueError, match="has 3 parts"):
        drs.parse_id("CMIP6.CMIP.IPSL.IPSL-CM6A-LR")


def test_newest_version_sorts_last():
    versions = ["v20190101", "v9", "latest", "v20200101"]
    assert sorted(versions, key=drs.version_key) == ["v9", "v20190101", "v20200101", "latest"]


def test_every_configurable_project_has_a_template():
    from cp4cds_wps.config import PROJECTS

    assert set(PROJECTS) == set(drs.TEMPLATES) == set(drs.PREFIXES)
