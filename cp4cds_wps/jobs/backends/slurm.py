"""Slurm backend: each job is one ``sbatch`` batch job on a Slurm cluster.

State comes from ``squeue`` (a cluster need not run accounting, so no ``sacct``); ``scancel``
stops a job. The batch script limits the job's address space to its memory like the local
backend does, so running out of memory is a ``MemoryError`` in the worker, which it reports.
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from cp4cds_wps.jobs.backends import BackendState

#: Seconds any Slurm command may take before the cluster counts as unreachable.
COMMAND_TIMEOUT = 60

#: Slurm job states (as ``squeue`` prints them) of a job that waits to run.
PENDING_STATES = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"}
)


class SlurmError(RuntimeError):
    """A Slurm command failed or timed out; the message holds its error output."""


def limited_command(command: list[str], memory_mb: int) -> str:
    """Return a shell script running ``command`` with its address space limited.

    Parameters
    ----------
    command
        The program and its arguments.
    memory_mb
        The limit in MiB (``ulimit -v``); allocations beyond it fail (``MemoryError``).

    Returns
    -------
    str
        A POSIX shell script that replaces itself with ``command`` (same process id).
    """
    return f"ulimit -v {memory_mb * 1024} && exec {shlex.join(command)}"


def _run(args: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except FileNotFoundError as err:
        raise SlurmError(f"{args[0]} not found: is the Slurm client installed?") from err
    except subprocess.TimeoutExpired as err:
        raise SlurmError(f"{args[0]} did not answer within {COMMAND_TIMEOUT} s") from err


def _failed(proc: subprocess.CompletedProcess) -> SlurmError:
    output = (proc.stderr or proc.stdout).strip()
    return SlurmError(f"{proc.args[0]} failed ({proc.returncode}): {output}")


class SlurmBackend:
    """Run jobs with ``sbatch``; references are Slurm job ids.

    Parameters
    ----------
    settings
        Service settings; ``settings.jobs.slurm_options`` (shell words, e.g.
        ``"--partition=wps --account=cp4cds"``) is added to every ``sbatch`` call after
        this backend's own options, so it can override them.
    """

    name = "slurm"

    def __init__(self, settings) -> None:
        self.options = shlex.split(settings.jobs.slurm_options)

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
        """Submit ``command`` as a batch job and return its Slurm job id.

        The job gets the environment of this process plus ``env``, ``--mem`` of
        ``memory_mb`` MiB and a time limit of ``wall_time`` rounded up to minutes plus one
        minute (the dispatcher stops jobs at the exact wall time and says why; Slurm's limit
        only catches jobs the dispatcher cannot). Output and errors are appended to
        ``log_path``.

        Raises
        ------
        SlurmError
            When ``sbatch`` refuses the job (e.g. more memory than any node has).
        """
        log_path = Path(log_path).absolute()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        args = [
            "sbatch",
            "--parsable",
            f"--job-name=cp4cds-{job_id}",
            f"--time={math.ceil(wall_time / 60) + 1}",
            f"--mem={memory_mb}M",
            # sbatch expands %j, %u, ... in file names; %% is a literal %
            f"--output={str(log_path).replace('%', '%%')}",
            "--open-mode=append",
            "--export=ALL",
            *self.options,
            f"--wrap={limited_command(command, memory_mb)}",
        ]
        proc = _run(args, env={**os.environ, **env})
        if proc.returncode != 0:
            raise _failed(proc)
        # --parsable prints "<job id>" or "<job id>;<cluster>"
        return proc.stdout.strip().split(";")[0]

    def state(self, ref: str) -> BackendState:
        """Return whether Slurm job ``ref`` waits, runs, or has ended (or is unknown).

        Raises
        ------
        SlurmError
            When ``squeue`` fails for another reason than an unknown job id (e.g. the
            controller is unreachable): the job's fate is then unknown, not ``gone``.
        """
        proc = _run(["squeue", "--noheader", f"--jobs={ref}", "--format=%T"])
        if proc.returncode != 0:
            if "Invalid job id" in proc.stderr:
                return "gone"
            raise _failed(proc)
        # squeue lists only jobs that wait or hold resources; ended jobs print nothing
        states = proc.stdout.split()
        if not states:
            return "gone"
        return "pending" if states[0] in PENDING_STATES else "running"

    def stop(self, ref: str) -> None:
        """Cancel Slurm job ``ref``; nothing happens when it has already ended."""
        proc = _run(["scancel", ref])
        if proc.returncode != 0 and "Invalid job id" not in proc.stderr:
            raise _failed(proc)
