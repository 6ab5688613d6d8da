"""The ``local`` backend: one worker process per job on this machine.

Workers are forked by a fork server (``multiprocessing``'s ``forkserver``) that has imported
the worker's modules once and has never run any job, so each job starts in a fresh process
within milliseconds instead of paying Python's imports (seconds) again. Forking is only safe
from a single-threaded process (a lock held by another thread stays locked in the child for
good), so the fork server is started with the thread pools that libraries start at import
switched off (OpenBLAS, pyarrow's jemalloc), and a worker whose fork server has threads
anyway runs its command as a new program instead. Each worker is the leader of its own
session (a service restart does not stop it), has its address space limited to the job's
memory limit, and writes its output to the job's log file.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import runpy
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cp4cds_wps.jobs.backends import BackendState

#: Environment that keeps libraries from starting threads when the fork server imports them.
SINGLE_THREADED = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}
#: Imported once by the fork server: what every worker needs before it reads its job.
WORKER_DEPENDENCIES = ("pywps.processing.job", "cp4cds_wps.jobs.store", "lxml.etree")


class LocalBackend:
    """Run each job's command in its own process on this machine.

    Parameters
    ----------
    settings
        The service's settings (unused: the limits come with each job).
    preload
        Modules imported by the fork server besides the worker's own dependencies (the
        processes' modules, typically).
    """

    name = "local"

    def __init__(self, settings=None, *, preload: Sequence[str] = ()):
        for name, value in SINGLE_THREADED.items():  # inherited by the fork server
            os.environ.setdefault(name, value)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([*WORKER_DEPENDENCIES, *preload])
        self._children: dict[str, multiprocessing.process.BaseProcess] = {}

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
        """Start ``command`` in a new session; return its pid.

        ``python -m <module> ...`` (with this Python) runs in the forked process itself, like
        ``python -m`` but with the fork server's interpreter options and ``sys.path``; any
        other command is executed in it. ``env`` is added to this process's environment (not
        the fork server's).
        The wall time is enforced by the dispatcher.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        child = self._context.Process(
            target=_run,
            args=(list(command), {**os.environ, **env}, memory_mb, str(log_path)),
            name=f"cp4cds-wps job {job_id}",
            daemon=False,
        )
        child.start()
        ref = str(child.pid)
        self._children[ref] = child
        return ref

    def state(self, ref: str) -> BackendState:
        """``running`` while the process lives, else ``gone``."""
        child = self._children.get(ref)
        if child is not None:
            if child.is_alive():
                return "running"
            del self._children[ref]
            return "gone"
        return "running" if _alive(int(ref)) else "gone"

    def wait(self, ref: str, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for worker ``ref``, started by this backend, to end.

        Returns
        -------
        int or None
            Its exit code (negative: the number of the signal that ended it), or None when
            it still runs.
        """
        child = self._children[ref]
        child.join(timeout)
        if child.exitcode is not None:
            del self._children[ref]
        return child.exitcode

    def stop(self, ref: str) -> None:
        """Kill the worker and everything it started (its process group)."""
        pid = int(ref)
        child = self._children.pop(ref, None)
        try:
            if os.getpgid(pid) == pid and _alive(pid):
                os.killpg(pid, signal.SIGKILL)
            elif child is not None:  # ours, just forked: not yet in its own session
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if child is not None:
            child.join(5)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # "pid (comm) S ...": the state follows the last parenthesis
            return fh.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _threads(pid: int) -> int:
    """Number of threads of process ``pid`` (0 when unknown)."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _run(command: list[str], env: dict[str, str], memory_mb: int, log_path: str) -> None:
    """Body of a forked worker: detach, limit memory, redirect output, run the command."""
    os.setsid()
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.clear()
    os.environ.update(env)
    in_fork = command[:2] == [sys.executable, "-m"] and len(command) > 2
    if in_fork and _threads(os.getppid()) == 1:
        sys.argv = [command[2], *command[3:]]
        runpy.run_module(command[2], run_name="__main__", alter_sys=True)
        return
    os.execvpe(command[0], command, os.environ)
