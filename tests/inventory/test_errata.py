"""The known-issues register: errata records (the ESGF errata service's form) and fixes."""

from __future__ import annotations

import json
import os

import pytest

from cp4cds_wps.inventory.errata import KnownIssues, KnownIssuesError, read_register

ID = "CMIP6.CMIP.INST.MODEL.historical.r1i1p1f1.day.tas.gn.v20200101"
TOML = """
[[errata]]
uid = "E-units"
datasets = ["CMIP6.CMIP.INST.MODEL.historical.*.day.tas.gn"]
severity = "medium"
title = "Wrong units"
description = "tas is in K, the files say degC"
url = "https://errata.example.org/E-units"
fixes = [
    { action = "set_units", variable = "tas", units = "K" },
    { action = "drop_duplicate_steps", keep = "last" },
]

[[errata]]
uid = "E-other-version"
datasets = "cmip6.CMIP.INST.MODEL.historical.r1i1p1f1.day.tas.gn#20190101"
severity = "critical"
description = "an older version"
"""


def test_toml_register(tmp_path):
    (tmp_path / "errata.toml").write_text(TOML)
    units, older = read_register(tmp_path / "errata.toml")
    assert (units.uid, units.severity, units.urls) == (
        "E-units",
        "medium",
        ("https://errata.example.org/E-units",),
    )
    assert [f.describe() for f in units.fixes] == [
        "fix of erratum E-units: tas units set to 'K'",
        "fix of erratum E-units: repeated time steps dropped, keeping the last file's",
    ]
    assert units.concerns(ID, "v20200101")  # a pattern without version: every version
    assert units.concerns(ID.replace("v20200101", "v2"), "v2")
    assert not units.concerns(ID.replace("day.tas", "day.pr"), "v20200101")
    # the errata service's <id>#<version>, with the project prefix in any case
    assert older.datasets == ("CMIP6.CMIP.INST.MODEL.historical.r1i1p1f1.day.tas.gn.v20190101",)
    assert not older.concerns(ID, "v20200101")
    assert older.concerns(ID.replace("v20200101", "v20190101"), "v20190101")


def test_errata_service_records_map_on_as_they_are(tmp_path):
    record = {  # the fields of an ESGF errata record, some the register does not use
        "uid": "5c5a6d3c-6c0e-4a8f-9b8e-1b0e2a1e0f11",
        "title": "Incorrect time axis",
        "description": "Time bounds of the December files are shifted by one month.",
        "project": "cmip6",
        "mip_era": "CMIP6",
        "severity": "High",
        "status": "resolved",
        "urls": ["https://errata.ipsl.fr/static/view.html?uid=5c5a6d3c"],
        "materials": [],
        "dateCreated": "2020-03-02 10:00:00",
        "datasets": [ID.replace(".v20200101", "#20200101")],
    }
    (tmp_path / "errata.json").write_text(json.dumps({"issues": [record]}))
    (erratum,) = read_register(tmp_path / "errata.json")
    assert (erratum.uid, erratum.severity, erratum.status) == (record["uid"], "high", "resolved")
    assert erratum.concerns(ID, "v20200101")
    assert str(erratum) == (
        f"high erratum {record['uid']}: Incorrect time axis "
        "(https://errata.ipsl.fr/static/view.html?uid=5c5a6d3c)"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"datasets": [ID], "severity": "low"}, r"entry 0 needs a uid"),
        ({"uid": "A", "severity": "low"}, r"entry 0 \(A\): datasets must list"),
        ({"uid": "A", "datasets": [ID], "severity": "bad"}, r"severity must be one of low"),
        (
            {"uid": "A", "datasets": [ID], "severity": "low", "fixes": [{"action": "delete"}]},
            r"fixes\[0\] needs an action, one of set_attributes",
        ),
        (
            {"uid": "A", "datasets": [ID], "severity": "low", "fixes": [{"action": "set_units"}]},
            r"fixes\[0\] \(set_units\) needs variable, units",
        ),
        (
            {
                "uid": "A",
                "datasets": [ID],
                "severity": "low",
                "fixes": [{"action": "set_calendar", "calendar": "360_day", "x": 1}],
            },
            r"\(set_calendar\) does not take x",
        ),
        (
            {
                "uid": "A",
                "datasets": [ID],
                "severity": "low",
                "fixes": [{"action": "set_calendar", "calendar": "mars"}],
            },
            r"calendar must be one of standard",
        ),
    ],
)
def test_invalid_entries_are_refused_naming_entry_and_key(tmp_path, entry, message):
    (tmp_path / "errata.json").write_text(json.dumps({"errata": [entry]}))
    with pytest.raises(KnownIssuesError, match=message):
        read_register(tmp_path / "errata.json")


def test_the_register_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "errata.toml"
    path.write_text("errata = []\n")
    register = KnownIssues(path)
    assert register.errata() == ()
    path.write_text(TOML)
    os.utime(path, (1, 1))
    assert [e.uid for e in register.errata() if e.concerns(ID, "v20200101")] == ["E-units"]
    with pytest.raises(KnownIssuesError, match="No such file"):
        KnownIssues(tmp_path / "missing.toml")
