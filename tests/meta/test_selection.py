"""Parsing selections from request parameters."""

from __future__ import annotations

import pytest

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.meta.selection import Selection, parse_selection


def test_facets_options_and_several_values():
    selection = parse_selection(
        {
            "project": "cmip6",
            "Model": "MIROC6, IPSL-CM6A-LR",
            "variable": ["tas", "pr,tas"],
            "member": "",
            "time": " 1990/2000 ",
            "area": ["0,0,10,10"],
            "process": "subset",
        }
    )
    assert selection == Selection(
        facets={
            "project": ("cmip6",),
            "model": ("MIROC6", "IPSL-CM6A-LR"),
            "variable": ("tas", "pr"),
        },
        time="1990/2000",
        area="0,0,10,10",
        process="subset",
    )


def test_esgf_and_cmip6_attribute_names_are_aliases():
    selection = parse_selection(
        {"source_id": "MIROC6", "experiment_id": "historical", "grid_label": "gn"}
    )
    assert selection.facets == {
        "model": ("MIROC6",),
        "experiment": ("historical",),
        "grid": ("gn",),
    }


def test_a_collection_selects_the_facets_of_its_id():
    selection = parse_selection(
        {"collection": "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr"}
    )
    assert selection.facets["model"] == ("IPSL-CM6A-LR",)
    assert selection.facets["project"] == ("cmip6",)
    assert "version" not in selection.facets
    latest = parse_selection(
        {"collection": "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"}
    )
    assert "version" not in latest.facets and latest.facets["variable"] == ("tas",)


def test_json_values_of_other_types_are_text():
    assert parse_selection({"member": [1, None, "r2"]}).facets == {"member": ("1", "r2")}


@pytest.mark.parametrize(
    ("params", "name", "reason"),
    [
        ({"collection": "nothing.x"}, "collection", "does not start with a known project"),
        ({"time": ["1990/2000", "2001/2002"]}, "time", "give one value, not 2"),
    ],
)
def test_malformed_parameters_name_the_input(params, name, reason):
    with pytest.raises(InvalidParameter) as err:
        parse_selection(params)
    assert err.value.name == name and reason in err.value.reason
