"""Room in the output folder: whether there is any, and whether a failed write ran out of it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

#: Free bytes below which the output folder counts as full: requests are refused, ``/health``
#: fails, and a failed write counts as one into a full file system (the netCDF library says
#: "NetCDF: HDF error", without the errno).
FULL_BELOW = 2**20


def has_room(folder: Path) -> bool:
    """Whether ``folder`` is a writable folder with at least ``FULL_BELOW`` bytes free."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return False
    return (
        folder.is_dir()
        and os.access(folder, os.W_OK | os.X_OK)
        and found.f_bavail * found.f_frsize >= FULL_BELOW
    )


def out_of_space(err: BaseException, folder: Path) -> bool:
    """Whether ``err``, raised writing into ``folder``, comes from a full file system: it
    (or an error it was raised from) says ENOSPC, or it is an I/O error and the folder has
    no room left."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        seen = seen.__cause__ or seen.__context__
    return isinstance(err, OSError | RuntimeError) and not has_room(folder)
