"""Settings: defaults, a file on top, environment overrides and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cp4cds_wps.config import PROJECT_DIR, ConfigError, load_settings


def test_defaults_serve_the_test_archive_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    settings = load_settings(env={})
    assert settings.base_dir == (PROJECT_DIR.parent / "shared/testdata/mini-esgf-data").resolve()
    assert settings.url == "http://127.0.0.1:5000"
    assert settings.wps_url == "http://127.0.0.1:5000/wps"
    assert settings.jobs_db.suffix == ".sqlite"
    assert settings.var_dir == PROJECT_DIR / "var"
    assert {root.project for root in settings.roots} == {
        "cmip5", "cmip6", "cordex", "c3s-cmip5", "c3s-cordex", "c3s-cica-atlas",
    }  # fmt: skip


def test_file_on_top_resolves_paths_against_itself(tmp_path):
    config = tmp_path / "site" / "site.toml"
    config.parent.mkdir()
    config.write_text(
        '[server]\nport = 5123\n[paths]\nvar_dir = "state"\n'
        '[archive]\nbase_dir = "/data/esgf"\n'
        '[[archive.roots]]\nname = "c6"\npath = "CMIP6"\nproject = "cmip6"\n'
    )
    settings = load_settings(config, env={})
    assert settings.port == 5123
    assert settings.var_dir == tmp_path / "site" / "state"
    assert settings.output_dir == tmp_path / "site" / "state" / "outputs"
    assert [(r.name, r.path) for r in settings.roots] == [("c6", Path("/data/esgf/CMIP6"))]
    assert settings.sources[-1] == config


def test_environment_overrides_file_and_defaults(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text("[server]\nport = 5123\n")
    env = {"CP4CDS_WPS_CONFIG": str(config), "CP4CDS_WPS_SERVER__PORT": "6001"}
    settings = load_settings(env=env)
    assert settings.port == 6001
    assert settings.url == "http://127.0.0.1:6001"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 'many'\n", r"\[server\] port must be an integer"),
        ("[server]\nport = 70000\n", r"\[server\] port must be at most 65535"),
        ("[jobs]\nmax_running = 0\n", r"\[jobs\] max_running must be positive"),
        ("[jobs]\nbackend = 'pbs'\n", r"\[jobs\] backend must be one of local, slurm, dask"),
        ("[jobs]\nbackend = 'dask'\n", r"\[jobs\] dask_scheduler must be set"),
        ("[server]\nurl = 'ftp://x'\n", r"\[server\] url must start with http"),
        ("[archive]\nroots = []\n", r"\[archive\] roots must list at least one root"),
        (
            "[[archive.roots]]\nname='x'\npath='y'\nproject='cmip7'\n",
            r"\[archive\] roots\[0\] project 'cmip7' is unknown",
        ),
        ("[server\n", "is not valid TOML"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env={})


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})
