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


def _site_root(tmp_path, mode: str | None, name: str = "site") -> Path:
    config = tmp_path / "site.toml"
    head = "[archive]\n" + (f'roots_mode = "{mode}"\n' if mode else "")
    config.write_text(
        head + f'[[archive.roots]]\nname = "{name}"\npath = "/data/site"\nproject = "cmip6"\n'
    )
    return config


def test_roots_mode_extend_adds_the_sites_roots_before_the_defaults(tmp_path):
    defaults = load_settings(env={}).roots
    settings = load_settings(_site_root(tmp_path, "extend"), env={})
    assert [r.name for r in settings.roots] == ["site", *(r.name for r in defaults)]
    assert settings.roots[0].path == Path("/data/site")
    assert settings.roots[1:] == defaults


@pytest.mark.parametrize("mode", ["replace", None])
def test_roots_mode_replace_is_the_default_and_lists_only_the_sites_roots(tmp_path, mode):
    settings = load_settings(_site_root(tmp_path, mode), env={})
    assert [r.name for r in settings.roots] == ["site"]


def test_roots_mode_from_the_environment(tmp_path):
    config = _site_root(tmp_path, None)
    settings = load_settings(config, env={"CP4CDS_WPS_ARCHIVE__ROOTS_MODE": "extend"})
    assert len(settings.roots) == 1 + len(load_settings(env={}).roots)


def test_roots_mode_extend_refuses_a_default_roots_name(tmp_path):
    with pytest.raises(ConfigError, match=r"'cmip6' is the name of a default root"):
        load_settings(_site_root(tmp_path, "extend", name="cmip6"), env={})


def test_roots_mode_must_be_known(tmp_path):
    with pytest.raises(ConfigError, match=r"\[archive\] roots_mode must be one of replace, extend"):
        load_settings(_site_root(tmp_path, "append"), env={})


def test_qc_settings(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(
        '[qc]\nserve = "passed"\nchecks = ["checksum"]\nknown_issues = "errata.toml"\n'
    )
    settings = load_settings(config, env={})
    assert settings.qc.serve == "passed"
    assert settings.qc.checks == ("checksum",)
    assert settings.qc.known_issues == tmp_path / "errata.toml"
    assert settings.qc.cache == settings.var_dir / "qc-cache.sqlite"
    env = {"CP4CDS_WPS_QC__CHECKS": "cf, coordinates"}
    assert load_settings(env=env).qc.checks == ("cf", "coordinates")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[qc]\nserve = "some"\n', r"\[qc\] serve must be one of all, passed"),
        ('[qc]\nchecks = ["md5"]\n', r"\[qc\] checks must list some of checksum, cf"),
        ("[qc]\nworkers = 0\n", r"\[qc\] workers must be positive"),
    ],
)
def test_invalid_qc_settings_name_the_key(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[processing]\ntime_chunks = 5\n",
            r"unknown setting \[processing\] time_chunks \(did you mean time_chunk\?\); "
            r"known: time_chunk, max_file_mb",
        ),
        (
            "[limit]\nmax_files = 5\n",
            r"unknown section \[limit\] \(did you mean limits\?\); known: server, paths, .*limits",
        ),
        (
            "[[archive.roots]]\nname='x'\npath='y'\nproject='cmip6'\nfixd={a='b'}\n",
            r"unknown setting fixd of \[\[archive.roots\]\] number 1 \(did you mean fixed\?\); "
            "known: name, path, project, fixed",
        ),
        ("server = 5\n", r"\[server\] must be a table"),
    ],
)
def test_unknown_names_in_a_file_are_errors(tmp_path, text, message):
    config = tmp_path / "typo.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(config, env={})
    assert str(config) in str(raised.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("CP4CDS_WPS_PROCESSING__TIME_CHUNKS", r"unknown setting \[processing\] time_chunks"),
        ("CP4CDS_WPS_LIMIT__MAX_FILES", r"unknown section \[limit\]"),
    ],
)
def test_unknown_names_in_the_environment_are_errors(name, message):
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(env={name: "5"})
    assert str(raised.value).startswith(f"environment variable {name}: ")


def test_known_names_come_from_the_defaults(tmp_path):
    # every key of etc/default.toml is accepted in a file and in the environment
    import tomllib

    from cp4cds_wps.config import DEFAULT_CONFIG

    defaults = tomllib.loads(DEFAULT_CONFIG.read_text())
    lines = []
    for section, table in defaults.items():
        scalars = {k: v for k, v in table.items() if not isinstance(v, list)}
        lines.append(f"[{section}]")
        lines += [f"{key} = {value!r}".replace("True", "true").replace("False", "false")
                  for key, value in scalars.items()]  # fmt: skip
    config = tmp_path / "all.toml"
    config.write_text("\n".join(lines) + "\n")
    load_settings(config, env={"CP4CDS_WPS_PROCESSING__TIME_CHUNK": "60"})


def test_provider_settings_from_file_and_environment(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(
        '[provider]\nname = "Example Climate Centre"\nurl = "https://climate.example.org"\n'
        'contact_name = "Doe, Jane"\ncontact_email = "help@example.org"\n'
    )
    provider = load_settings(config, env={"CP4CDS_WPS_PROVIDER__CITY": "Hamburg"}).provider
    assert provider.name == "Example Climate Centre"
    assert provider.url == "https://climate.example.org"
    assert provider.contact_name == "Doe, Jane"
    assert provider.city == "Hamburg"
    assert provider.contact_phone == ""
    assert load_settings(env={}).provider.name == "cp4cds-wps"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[provider]\nname = ""\n', r"\[provider\] name must not be empty"),
        ('[provider]\nurl = "www.example.org"\n', r"\[provider\] url must start with http"),
        ('[provider]\ncontact_email = "nobody"\n', r"\[provider\] contact_email must be an e-mail"),
        ("[provider]\ncontact_phone = 12345\n", r"\[provider\] contact_phone must be a string"),
    ],
)
def test_invalid_provider_settings_name_the_key(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env={})
