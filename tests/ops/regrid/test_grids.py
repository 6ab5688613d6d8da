"""Target grids: parsing the inputs, and the grid ``auto`` picks."""

from __future__ import annotations

import re

import pytest

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.ops.regrid import (
    GRIDS,
    METHODS,
    GridSpec,
    cell_size,
    parse_grid,
    parse_method,
    target_grid,
)
from tests.synthetic import curvilinear, regular

# -- parsing -------------------------------------------------------------------------------


def test_parse_method_accepts_the_three_methods_in_any_case():
    assert [parse_method(m.upper()) for m in METHODS] == list(METHODS)


def test_parse_method_errors_name_the_input():
    with pytest.raises(
        InvalidParameter, match="method: 'patch' is not one of nearest_s2d, bilinear"
    ) as info:
        parse_method("patch")
    assert info.value.name == "method"


def test_method_and_grid_default_to_rooks_defaults():
    assert parse_method(" ") == "nearest_s2d"
    assert parse_grid(None, None) == GridSpec("auto")


def test_parse_grid_named_and_custom_grids():
    assert parse_grid("1pt25deg", None) == GridSpec("1pt25deg", 1.25, 1.25)
    assert parse_grid("0pt25deg", "").shape == (720, 1440)
    assert parse_grid("AUTO", None) == GridSpec("auto")
    spec = parse_grid("custom", "2, 1.5")
    assert (spec.shape, spec.lon_edges()[[0, -1]].tolist()) == ((120, 180), [0.0, 360.0])
    spec = parse_grid("custom", "-30 50 0.5 30 75 0.5")
    assert spec.shape == (90, 160)
    assert spec.lon_edges()[0] == -30 and spec.lat_edges()[-1] == 75
    assert spec.custom_grid == "-30 50 0.5 30 75 0.5"


@pytest.mark.parametrize(
    ("grid", "custom", "name", "text"),
    [
        ("2deg", None, "grid", "'2deg' is not one of auto, 0pt25deg, 0pt5deg, 1deg, 1pt25deg"),
        ("custom", None, "custom_grid", "grid custom needs a custom_grid: give 'dlon dlat'"),
        ("custom", "1 a", "custom_grid", "'1 a' is not numbers"),
        ("custom", "1 2 3", "custom_grid", "'1 2 3' has 3 numbers"),
        ("custom", "0 360 -1 -90 90 1", "custom_grid", "steps dlon and dlat must be positive"),
        ("custom", "0 360 1 -95 90 1", "custom_grid", "-90 <= lat0 < lat1 <= 90"),
        ("custom", "50 -30 1 30 75 1", "custom_grid", "lon0 < lon1 <= lon0 + 360"),
        ("custom", "0.7 1", "custom_grid", "longitude step 0.7 does not divide 360 degrees"),
        ("custom", "0.01 0.01", "custom_grid", "cells are too many"),
        ("1deg", "1 1", "custom_grid", "only used with grid custom, not with grid 1deg"),
    ],
)
def test_parse_grid_errors_name_the_input(grid, custom, name, text):
    with pytest.raises(InvalidParameter, match=re.escape(text)) as info:
        parse_grid(grid, custom)
    assert info.value.name == name


def test_grids_and_methods_are_those_rook_offers():
    assert METHODS == ("nearest_s2d", "bilinear", "conservative")
    assert list(GRIDS) == ["auto", "0pt25deg", "0pt5deg", "1deg", "1pt25deg", "2pt5deg", "custom"]


# -- auto grid -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "name"), [(0.3, "0pt25deg"), (0.6, "0pt5deg"), (1.0, "1deg"), (2.0, "2pt5deg")]
)
def test_auto_picks_the_named_grid_closest_to_the_cell_size(step, name):
    ds = regular(step, south=-30, north=30)
    assert cell_size(ds) == pytest.approx(step, rel=0.02)
    assert target_grid(ds, GridSpec("auto")) == GridSpec(name, GRIDS[name], GRIDS[name])


def test_auto_takes_the_model_resolution_from_the_bounds_of_scattered_cells():
    # every 30th cell of a 1-degree grid, as in the test archive: cells far apart
    ds = regular(1.0).isel(lat=slice(None, None, 30), lon=slice(None, None, 30))
    assert cell_size(ds) == pytest.approx(1.0, rel=0.02)
    assert target_grid(ds, GridSpec("auto")).name == "1deg"


def test_auto_without_bounds_uses_the_distance_between_cells():
    assert cell_size(regular(2.0).drop_vars(["lat_bnds", "lon_bnds"])) == pytest.approx(2.0, 1e-4)
    # a turned grid: its cells' latitudes are not those of the turned grid, as with bounds
    without = curvilinear(3.0, bounds=False)
    assert cell_size(without) == pytest.approx(cell_size(curvilinear(3.0)), rel=1e-3)
    assert target_grid(without, GridSpec("auto")).name == "2pt5deg"


def test_grid_spec_describes_itself():
    assert GridSpec("1deg", 1, 1).describe() == (
        "global 1x1 degree (lon x lat) latitude-longitude grid of 180x360 cells"
    )
    assert parse_grid("custom", "-30 50 0.5 30 75 0.5").describe() == (
        "regional (-30 to 50 E, 30 to 75 N) 0.5x0.5 degree (lon x lat) latitude-longitude grid "
        "of 90x160 cells"
    )
