"""Run a command in a fresh child process and measure its wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Measurement", "measure"]


@dataclass(frozen=True)
class Measurement:
    """What one child process used.

    Attributes
    ----------
    seconds
        Wall time from start to exit.
    peak_rss_mib
        Peak resident set size of the child (and of any children it waited for), in MiB.
    returncode
        Exit status (negative: killed by that signal).
    stdout, stderr
        Its output.
    timed_out
        Whether it was killed for running too long.
    """

    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def measure(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Measurement:
    """Run ``command`` and measure it with ``wait4``, which reports that very child's usage.

    Parameters
    ----------
    command
        The program and its arguments.
    env
        Its environment (default: this process's).
    timeout
        Seconds after which it is killed (default: none).

    Returns
    -------
    Measurement
        Wall time, peak RSS, exit status and output of the run.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        killer = threading.Timer(timeout, process.kill) if timeout else None
        if killer:
            killer.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        timed_out = bool(killer) and not killer.is_alive()
        if killer:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measurement(
            seconds=seconds,
            peak_rss_mib=usage.ru_maxrss / 1024,
            returncode=process.returncode,
            stdout=out.read(),
            stderr=err.read(),
            timed_out=timed_out,
        )
