"""Dask backend: each job is one task on a ``dask.distributed`` cluster.

The task runs the job's command as a subprocess of the dask worker (memory limit, environment
and log file as with the other backends) and leaves the worker's thread pool while it waits,
so a queued task never waits behind a running job: on the scheduler, "processing" means
running. Tasks are fire-and-forget, so they outlive the client (and the dispatcher) that
submitted them; references are task keys.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

from distributed import Client, Future, fire_and_forget, secede

from cp4cds_wps.config import ConfigError
from cp4cds_wps.jobs.backends import BackendState
from cp4cds_wps.jobs.backends.slurm import limited_command

#: Seconds the scheduler may take to register a submitted task.
SUBMIT_TIMEOUT = 30

#: Scheduler task states of a task that has not started yet.
PENDING_STATES = frozenset({"released", "waiting", "queued", "no-worker"})

# Per dask worker process: the running commands by task key, and the keys asked to stop
# (a stop may reach a worker before the task starts its command there).
_lock = threading.Lock()
_children: dict[str, subprocess.Popen] = {}
_stopped: set[str] = set()


def run_command(
    key: str, command: list[str], env: Mapping[str, str], memory_mb: int, log_path: str
) -> int | None:
    """Task body: run ``command`` on this dask worker until it ends.

    Parameters
    ----------
    key
        The task's key, under which :func:`stop_command` finds the command.
    command, env, memory_mb, log_path
        As for :meth:`DaskBackend.start`; ``env`` is added to the worker's environment.

    Returns
    -------
    int or None
        The command's exit status; None when the job was stopped before it started.
    """
    secede()
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        if key in _stopped:
            return None
        with path.open("ab") as log:
            child = subprocess.Popen(
                ["/bin/sh", "-c", limited_command(command, memory_mb)],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _children[key] = child
    try:
        return child.wait()
    finally:
        with _lock:
            del _children[key]


def stop_command(key: str) -> None:
    """Kill the command of task ``key`` if it runs on this dask worker (``client.run``)."""
    with _lock:
        _stopped.add(key)
        child = _children.get(key)
    if child is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


class DaskBackend:
    """Run jobs as tasks on the dask scheduler at ``settings.jobs.dask_scheduler``.

    The dask workers must be able to import ``cp4cds_wps`` (same installation) and see the
    service's files (``var_dir``, outputs, archive) at the same paths. The connection is
    opened on first use.

    Raises
    ------
    ConfigError
        When no scheduler address is configured.
    """

    name = "dask"

    def __init__(self, settings) -> None:
        self.address = settings.jobs.dask_scheduler
        if not self.address:
            raise ConfigError("[jobs] dask_scheduler must be set to use the dask backend")

    @cached_property
    def client(self) -> Client:
        """The connection to the scheduler."""
        return Client(self.address, set_as_default=False)

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
        """Submit a task running ``command`` and return its key.

        ``wall_time`` is enforced by the dispatcher only. The command's output and errors
        are appended to ``log_path``; its address space is limited to ``memory_mb`` MiB.
        """
        key = f"cp4cds-job-{job_id}-{uuid.uuid4().hex[:8]}"
        future = self.client.submit(
            run_command,
            key,
            list(command),
            dict(env),
            memory_mb,
            str(Path(log_path).absolute()),
            key=key,
            pure=False,
        )
        fire_and_forget(future)
        # the submission travels on another connection than state queries: until the
        # scheduler knows the task, state() would call it gone. While `future` lives, the
        # task stays known even when it has already ended.
        deadline = time.monotonic() + SUBMIT_TIMEOUT
        while self._task_state(key) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dask scheduler at {self.address} did not take {key}")
            time.sleep(0.05)
        return key

    def _task_state(self, key: str) -> str | None:
        return self.client.sync(self.client.scheduler.get_task_status, keys=[key]).get(key)

    def state(self, ref: str) -> BackendState:
        """Return whether task ``ref`` waits, runs, or has ended (or is unknown)."""
        state = self._task_state(ref)
        if state in PENDING_STATES:
            return "pending"
        return "running" if state == "processing" else "gone"

    def stop(self, ref: str) -> None:
        """Cancel task ``ref`` and kill its command; nothing happens when it has ended."""
        self.client.cancel([Future(ref, self.client)], force=True, reason="stopped")
        self.client.run(stop_command, ref)

    def close(self) -> None:
        """Close the connection to the scheduler (submitted tasks keep running)."""
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]
