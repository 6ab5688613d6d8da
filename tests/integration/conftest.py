"""A real cp4cds-wps server over HTTP on 127.0.0.1, started with the CLI as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

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
def wps_url(server) -> str:
    """URL of the WPS endpoint."""
    return f"{server}/wps"
