"""The operator's command line: inventory commands, config errors, status."""

from __future__ import annotations

import pytest

from cp4cds_wps.cli import main

RLDS = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"


@pytest.fixture
def env(monkeypatch, settings_env):
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CP4CDS_WPS_CONFIG", "")  # the CLI exports --config; restore it after


def test_inventory_scan_list_and_show(env, capsys):
    assert main(["inventory", "scan"]) == 0
    assert "datasets" in capsys.readouterr().out

    assert main(["inventory", "list", "CMIP6.CMIP.IPSL.*"]) == 0
    listing = capsys.readouterr().out
    assert RLDS in listing
    assert "cmip5." not in listing

    assert main(["inventory", "show", RLDS]) == 0
    shown = capsys.readouterr().out
    assert "rlds_Amon_IPSL-CM6A-LR_historical_r1i1p1f1_gr_185001-201412.nc" in shown
    assert "overlap" in shown.lower()  # the single-step file repeats the first month


def test_show_unknown_id_suggests_close_ones(env, capsys):
    assert main(["inventory", "show", RLDS.replace("rlds", "rldz")]) == 2
    assert RLDS in capsys.readouterr().err


def test_invalid_config_stops_start_naming_the_key(env, tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nworkers = 'two'\n")
    assert main(["start", "--config", str(config)]) == 2
    assert "[server] workers must be an integer" in capsys.readouterr().err


def test_status_of_a_stopped_service(env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CP4CDS_WPS_PATHS__VAR_DIR", str(tmp_path))  # no pid file there
    assert main(["status"]) == 3
    assert "not running" in capsys.readouterr().out


def test_inventory_qc_checks_what_the_scan_found(tmp_path, monkeypatch, capsys):
    from tests.quirks import ID, write_member

    write_member(tmp_path / "CMIP6", "r1i1p1f1", 0)
    config = tmp_path / "site.toml"
    config.write_text(
        f'[paths]\nvar_dir = "{tmp_path / "var"}"\n[archive]\nbase_dir = "{tmp_path}"\n'
        '[[archive.roots]]\nname = "c6"\npath = "CMIP6"\nproject = "cmip6"\n'
        '[qc]\nchecks = ["checksum", "coordinates"]\n'
    )
    monkeypatch.setenv("CP4CDS_WPS_CONFIG", "")
    assert main(["inventory", "--config", str(config), "qc"]) == 0
    out = capsys.readouterr().out
    assert "quality control: 3 file(s) checked (0 from the cache), 1 dataset(s) judged" in out
    assert main(["inventory", "--config", str(config), "show", ID.format(member="r1i1p1f1")]) == 0
    shown = capsys.readouterr().out
    assert "quality:   warnings" in shown
    assert "no .md5 or .sha256 file" in shown


def test_an_invalid_known_issues_register_stops_naming_the_entry(tmp_path, monkeypatch, capsys):
    register = tmp_path / "errata.toml"
    register.write_text('[[errata]]\nuid = "E1"\ndatasets = ["CMIP6.*"]\nseverity = "urgent"\n')
    config = tmp_path / "site.toml"
    config.write_text(
        f'[paths]\nvar_dir = "{tmp_path / "var"}"\n[qc]\nknown_issues = "errata.toml"\n'
    )
    monkeypatch.setenv("CP4CDS_WPS_CONFIG", "")
    assert main(["inventory", "--config", str(config), "list"]) == 2
    assert (
        "entry 0 (E1): severity must be one of low, medium, high, critical"
        in capsys.readouterr().err
    )
