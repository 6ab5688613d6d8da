"""Notes on the data: what an operation found in, or did to, a dataset that users should know.

Operations stay plain functions of datasets. Where one repairs or works around something in
the data (duplicated time steps dropped, cell areas recomputed where the cell vertices are
corrupt, cell corners derived from the centres), it says so with :func:`note`. Whoever runs
the operation collects the notes with :func:`recorded_notes` and records them in the
output's ``history`` and provenance (:mod:`cp4cds_wps.tasks.runner`); outside of that they
are ordinary warnings of the category :class:`DataNote`.

Notes are taken while the lazy result is built, not inside dask tasks: the history line of
an output is written before its data are computed.

>>> with recorded_notes() as notes:
...     note("time: 31 duplicated steps dropped")
>>> notes
['time: 31 duplicated steps dropped']
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["DataNote", "note", "recorded_notes"]

#: The notes of the run in progress in this thread (or task), if one is recording.
_RECORDING: ContextVar[list[str] | None] = ContextVar("cp4cds_wps_notes", default=None)


class DataNote(UserWarning):
    """Something an operation found in or did to the data, for the output's history."""


def note(text: str) -> None:
    """Record ``text`` for the output's history and provenance (once per run).

    Parameters
    ----------
    text
        One sentence a user understands, naming what was found and what was done, e.g.
        ``"tas: cell areas from the vertices of 3 cells are implausible; computed from the
        cell centres instead"``.
    """
    notes = _RECORDING.get()
    if notes is None:
        warnings.warn(text, DataNote, stacklevel=2)
    elif text not in notes:
        notes.append(text)


@contextmanager
def recorded_notes() -> Iterator[list[str]]:
    """Collect the notes taken in this context (thread- and task-local).

    Yields
    ------
    list of str
        The notes, in the order taken, each once; filled as the context runs.
    """
    notes: list[str] = []
    token = _RECORDING.set(notes)
    try:
        yield notes
    finally:
        _RECORDING.reset(token)
