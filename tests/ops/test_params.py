"""Parsing of the rook-style subset inputs (time, time_components, area, level)."""

from __future__ import annotations

import pytest

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.ops.params import (
    Area,
    LevelRange,
    TimeRange,
    parse_area,
    parse_json,
    parse_level,
    parse_time,
    parse_time_components,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1860-01-01/1900-12-30", TimeRange("1860-01-01T00:00:00", "1900-12-30T23:59:59")),
        ("1990/2000", TimeRange("1990-01-01T00:00:00", "2000-12-31T23:59:59")),
        ("1990-03/2000-02", TimeRange("1990-03-01T00:00:00", "2000-02-31T23:59:59")),
        ("/2000-12-31", TimeRange(None, "2000-12-31T23:59:59")),
        ("1990-01-01/", TimeRange("1990-01-01T00:00:00", None)),
        (
            "2085-01-01T12:00:00Z/2120-12-30T06:30:00Z",
            TimeRange("2085-01-01T12:00:00", "2120-12-30T06:30:00"),
        ),
        ("850-01-01/0900-02-30", TimeRange("0850-01-01T00:00:00", "0900-02-30T23:59:59")),
    ],
)
def test_parse_time_forms(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", [None, "", "  ", "/"])
def test_parse_time_nothing(text):
    assert parse_time(text) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2000-01-01/1990-01-01", "start 2000-01-01T00:00:00 is after the end 1990-01-01"),
        ("2000-13-01/2001", "Invalid input 13 for month"),
        ("yesterday/2001", "'yesterday' in 'yesterday/2001' is not an ISO 8601 date"),
        ("2000-01-01", "must be one range 'start/end'"),
        ("1990/2000/2010", "must be one range 'start/end'"),
    ],
)
def test_parse_time_errors_name_input_and_value(text, fragment):
    with pytest.raises(InvalidParameter) as info:
        parse_time(text)
    assert info.value.name == "time"
    assert fragment in info.value.reason


def test_parse_time_uses_given_input_name():
    with pytest.raises(InvalidParameter) as info:
        parse_time("2001/2000", name="period")
    assert info.value.name == "period"


def test_parse_time_components():
    parsed = parse_time_components("year:1970,1980|month:01,02")
    assert parsed.components == {"year": [1970, 1980], "month": [1, 2]}
    assert parse_time_components("month:jan,Feb,december").components == {"month": [1, 2, 12]}
    assert parse_time_components("") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("season:djf", "unknown time component 'season'"),
        ("month:13", "out of range for month"),
        ("month:foo", "invalid month values 'foo': expected whole numbers or month names"),
        ("year:abc", "invalid year values 'abc': expected whole numbers"),
        ("year", "must be 'component:value,value'"),
        ("year:2000|year:2001", "'year' is given twice"),
    ],
)
def test_parse_time_components_errors(text, fragment):
    with pytest.raises(InvalidParameter) as info:
        parse_time_components(text)
    assert info.value.name == "time_components"
    assert fragment in info.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.,49.,10.,65", Area(0, 49, 10, 65)),
        ("-10,40,20,60", Area(-10, 40, 20, 60)),
        ("170,-10,-170,10", Area(170, -10, -170, 10)),
        (" 170, -10, 190, 10 ", Area(170, -10, 190, 10)),
    ],
)
def test_parse_area(text, expected):
    assert parse_area(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0,49,10", "must be 4 comma-separated numbers W,S,E,N, got 3 values"),
        ("0,49,10,65,3", "got 5 values"),
        ("0,north,10,65", "'north' in '0,north,10,65' is not a number"),
        ("0,nan,10,65", "'nan' in '0,nan,10,65' is not a number"),
        ("0,60,10,50", "south 60 is greater than north 50"),
        ("0,-95,10,50", "south latitude -95 in '0,-95,10,50' is outside [-90, 90]"),
        ("0,0,10,91", "north latitude 91"),
        ("-400,0,10,50", "west longitude -400"),
    ],
)
def test_parse_area_errors(text, fragment):
    with pytest.raises(InvalidParameter) as info:
        parse_area(text)
    assert info.value.name == "area"
    assert fragment in info.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000/2000", LevelRange(1000, 2000)),
        ("85000/50000", LevelRange(85000, 50000)),
        ("/2000", LevelRange(None, 2000)),
        ("1000/", LevelRange(1000, None)),
        ("850", LevelRange(850, 850)),
    ],
)
def test_parse_level(text, expected):
    assert parse_level(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("low/2000", "'low' in 'low/2000' is not a number"),
        ("1/2/3", "must be one range 'start/end'"),
    ],
)
def test_parse_level_errors(text, fragment):
    with pytest.raises(InvalidParameter) as info:
        parse_level(text)
    assert info.value.name == "level"
    assert fragment in info.value.reason


def test_parse_level_nothing():
    assert parse_level(None) is None
    assert parse_level("/") is None


def test_json_documents_are_parsed_up_to_a_depth():
    assert parse_json('{"a": [[1, 2], {"b": []}]}', "shape") == {"a": [[1, 2], {"b": []}]}
    assert parse_json("[" * 64 + "]" * 64, "shape")
    with pytest.raises(InvalidParameter, match="^shape: nests lists and objects deeper than 64"):
        parse_json("[" * 65 + "]" * 65, "shape")
    with pytest.raises(InvalidParameter, match="^workflow: nests lists and objects deeper"):
        parse_json("[" * 50000, "workflow")  # Python's own decoder: RecursionError
    with pytest.raises(InvalidParameter, match="^body: is not valid JSON: Expecting value at"):
        parse_json('{"a": ', "body")
