"""The operator's command line: inventory commands, config errors, status."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cp4cds_wps.cli import main

from .integration.conftest import _free_port as free_port

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


def test_stop_ends_a_service_started_in_the_foreground(settings_env, tmp_path):
    """``make start`` runs ``cp4cds-wps start`` in the foreground, in the process group of
    make and the shell: ``stop`` must end it (and gunicorn and the dispatcher with it)."""
    env = {
        **os.environ,
        **settings_env,
        "CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path / "var"),
        "CP4CDS_WPS_SERVER__BIND": "127.0.0.1",
        "CP4CDS_WPS_SERVER__PORT": str(free_port()),
    }
    command = [sys.executable, "-m", "cp4cds_wps.cli"]
    foreground = subprocess.Popen([*command, "start"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
    children = []
    try:
        url = f"http://127.0.0.1:{env['CP4CDS_WPS_SERVER__PORT']}/health"
        deadline = time.monotonic() + 120
        while not answers(url):
            assert foreground.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        children = descendants(foreground.pid)
        assert len(children) >= 3  # gunicorn, its workers, the dispatcher

        stopped = subprocess.run([*command, "stop"], env=env, capture_output=True, text=True,
                                 timeout=120)  # fmt: skip
        assert stopped.returncode == 0, stopped.stderr
        assert foreground.wait(timeout=5) == 0
        assert f"cp4cds-wps stopped (pid {foreground.pid})" in stopped.stdout
        assert not answers(url)
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    finally:
        for pid in [foreground.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        foreground.wait()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            parents[int(stat.parent.name)] = int(stat.read_text().rpartition(")")[2].split()[1])
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += frontier
    return found


def test_a_dispatcher_that_keeps_dying_is_restarted_three_times_then_the_service_stops(
    settings, monkeypatch, tmp_path, capfd
):
    from cp4cds_wps import cli

    settings = dataclasses.replace(settings, var_dir=tmp_path, port=free_port())
    sleeping = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(cli, "_gunicorn_command", lambda _: sleeping)
    monkeypatch.setattr(cli, "_dispatcher_command", lambda: [sys.executable, "-c", "exit(3)"])
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # pytest keeps its handlers
    assert cli._supervise(settings) == 1
    err = capfd.readouterr().err
    assert err.count("dispatcher exited with code 3; starting it again") == 3
    assert "dispatcher exited with code 3; stopping" in err
    assert not (tmp_path / "cp4cds-wps.pid").exists()
