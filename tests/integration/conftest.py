"""A real cp4cds-wps server over HTTP on 127.0.0.1, started with the CLI as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from cp4cds_wps.inventory import Inventory

from ..conftest import copy_inventory


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server_env(settings_env) -> dict[str, str]:
    """Environment of the test server: the test archive, a tmp var dir and a free port."""
    return {
        **os.environ,
        **settings_env,
        "CP4CDS_WPS_SERVER__BIND": "127.0.0.1",
        "CP4CDS_WPS_SERVER__PORT": str(_free_port()),
    }


def cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``cp4cds-wps ARGS`` with ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "cp4cds_wps.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def server(server_env, settings, inventory_db) -> str:
    """Base URL of a running service; stopped at the end of the session."""
    copy_inventory(inventory_db, settings.var_dir)
    started = cli(server_env, "start", "--daemon")
    assert started.returncode == 0, started.stdout + started.stderr
    yield f"http://127.0.0.1:{server_env['CP4CDS_WPS_SERVER__PORT']}"
    stopped = cli(server_env, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="session")
def inventory(settings, server) -> Inventory:
    """The inventory the server scanned (the server has started, so the scan is done)."""
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


@pytest.fixture(scope="session")
def wps_url(server) -> str:
    """URL of the WPS endpoint."""
    return f"{server}/wps"


#: The operator of the catalogue's test service ([provider] settings).
PROVIDER = {
    "NAME": "Example Climate Centre",
    "URL": "https://climate.example.org",
    "CONTACT_NAME": "Doe, Jane",
    "CONTACT_EMAIL": "help@example.org",
    "CONTACT_PHONE": "+49 40 000000",
    "CITY": "Hamburg",
}
#: The dataset of the catalogue's test service with an erratum, and the erratum.
ERRATUM_DATASET = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"
ERRATUM = f"""
[[errata]]
uid = "5c1f0d2e-test-erratum"
datasets = ["{ERRATUM_DATASET.rsplit(".", 1)[0]}"]
severity = "medium"
title = "Single-step file repeats the first month"
description = "The file of 185001 holds the first step of the full file again."
url = "https://errata.example.org/5c1f0d2e"
fixes = [{{ action = "drop_duplicate_steps" }}]
"""


@pytest.fixture(scope="session")
def catalogue_service(settings_env, tmp_path_factory):
    """A service of the test archive for the catalogue's tests (HTTP and browser), with a
    [provider] and a known-issues register naming :data:`ERRATUM_DATASET`."""
    from .test_jobs_http import service

    folder = tmp_path_factory.mktemp("catalogue")
    register = folder / "known_issues.toml"
    register.write_text(ERRATUM)
    env = {
        **settings_env,
        "CP4CDS_WPS_QC__KNOWN_ISSUES": str(register),
        **{f"CP4CDS_WPS_PROVIDER__{key}": value for key, value in PROVIDER.items()},
    }
    with service(env, folder / "var") as running:
        yield running
