"""Where job workers run: this machine (``local``), Slurm (``slurm``) or dask (``dask``).

A backend starts one worker command per job and answers whether it still runs; it knows
nothing about jobs beyond that. Chosen by ``[jobs] backend``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

BackendState = Literal["pending", "running", "gone"]


class Backend(Protocol):
    """What the dispatcher needs of a backend."""

    name: str

    def start(
        self,
        job_id: str,
        command: list[str],
        *,
        env: Mapping[str, str],
        wall_time: int,
        memory_mb: int,
        log_path: Path,
    ) -> str:
        """Start ``command`` for job ``job_id``; return the backend's reference to it."""
        ...

    def state(self, ref: str) -> BackendState:
        """``pending`` (waiting for resources), ``running``, or ``gone`` (ended or unknown)."""
        ...

    def stop(self, ref: str) -> None:
        """Stop the worker (idempotent)."""
        ...


def backend_from_settings(settings, *, preload: Sequence[str] = ()) -> Backend:
    """The backend named by ``settings.jobs.backend``.

    Parameters
    ----------
    settings
        The service's settings.
    preload
        Modules the local backend imports once and shares with every worker it starts
        (ignored by the other backends).
    """
    name = settings.jobs.backend
    if name == "local":
        from cp4cds_wps.jobs.backends.local import LocalBackend

        return LocalBackend(settings, preload=preload)
    if name == "slurm":
        from cp4cds_wps.jobs.backends.slurm import SlurmBackend

        return SlurmBackend(settings)
    if name == "dask":
        from cp4cds_wps.jobs.backends.dask import DaskBackend

        return DaskBackend(settings)
    raise ValueError(f"unknown job backend {name!r}")
