"""PyWPS's working folders (``pywps_process_*`` in ``[paths] work_dir``): none left behind.

PyWPS makes a working folder for every Execute before it even parses the inputs, and
removes it only when a process ends normally: every refused request (bad input, over the
limits, ServerBusy) left one. :class:`Service` removes the folder when its request ends,
unless the request became a queued job (the job's worker, or the dispatcher when the job
ends otherwise, removes it then). What web server processes that died in the middle of a
request left (working folders, the files handing synchronous executions to their workers)
is found by :func:`sweep`: each is named after the host and process that made it
(:func:`owned_prefix`).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pywps
from pywps import configuration
from pywps.exceptions import InvalidParameterValue

#: Names of what this module sweeps: PyWPS's working folders, synchronous handovers.
PREFIXES = ("pywps_process_", "sync_")
_NAME = re.compile(rf"(?:{'|'.join(PREFIXES)})(?P<host>[^_]+)_(?P<pid>\d+)_")


def _host() -> str:
    return socket.gethostname().replace("_", "-")


def owned_prefix(kind: str) -> str:
    """Start of the name of a folder or file of ``kind`` (one of ``PREFIXES``) that this
    process makes in the work folder: ``<kind><host>_<pid>_``."""
    return f"{kind}{_host()}_{os.getpid()}_"


def make_work_folder(work_dir: str | Path) -> str:
    """A new working folder in ``work_dir``, named after this host and process."""
    return tempfile.mkdtemp(prefix=owned_prefix("pywps_process_"), dir=work_dir)


class Service(pywps.Service):
    """PyWPS's ``Service``, leaving no working folder behind an Execute request.

    The folder of a request is removed when the request ends, however it ends, except when
    it became a queued job (``process.async_`` and accepted), whose worker needs it.
    """

    def prepare_process_for_execution(self, identifier):
        """PyWPS's copy of the process for one request, its working folder named after this
        host and process (as PyWPS's own method does, but for the name)."""
        try:
            process = copy.deepcopy(self.processes[identifier])
        except KeyError as err:
            raise InvalidParameterValue(f"Unknown process '{identifier}'", "Identifier") from err
        process.service = self
        work_dir = os.path.abspath(configuration.get_config_value("server", "workdir"))
        process.set_workdir(make_work_folder(work_dir))
        return process

    def _parse_and_execute(self, process, wps_request, uuid):
        try:
            response = super()._parse_and_execute(process, wps_request, uuid)
        except BaseException:
            shutil.rmtree(process.workdir, ignore_errors=True)
            raise
        if not process.async_:
            shutil.rmtree(process.workdir, ignore_errors=True)
        return response


def sweep(work_dir: Path, keep: Iterable[str]) -> list[Path]:
    """Remove what processes of this host that no longer run left in the work folder.

    Parameters
    ----------
    work_dir
        The service's work folder.
    keep
        Working folders still needed (those of queued and running jobs).

    Returns
    -------
    list of Path
        The folders and files removed.
    """
    keep = {str(Path(folder)) for folder in keep}
    removed = []
    host = _host()
    for path in work_dir.iterdir() if work_dir.is_dir() else ():
        match = _NAME.match(path.name)
        if match is None or match["host"] != host or str(path) in keep:
            continue
        if not _alive(int(match["pid"])):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
