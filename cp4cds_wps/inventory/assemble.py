"""Putting a dataset together from its files' headers, and reporting how the files fit:
overlaps, gaps, steps repeated within a file, calendars or grids that differ, files that
cannot be read."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

import cftime

from cp4cds_wps.inventory.records import Dataset, FileRecord, Issue
from cp4cds_wps.inventory.scan import FileHeader

#: Nominal step in days of each frequency, used when no file holds two time steps.
_NOMINAL_STEP_DAYS = {
    "1hr": 1 / 24,
    "3hr": 1 / 8,
    "6hr": 1 / 4,
    "day": 1.0,
    "mon": 30.4375,
    "yr": 365.25,
    "dec": 3652.5,
}
#: A gap is reported when consecutive files lie further apart than this many steps.
_GAP_FACTOR = 1.5
_CALENDAR_ALIASES = {"gregorian": "standard", "365_day": "noleap", "366_day": "all_leap"}


def _parse_iso(value: str, calendar: str) -> cftime.datetime:
    day, _, clock = value.partition("T")
    year, month, dom = (int(x) for x in day.rsplit("-", 2))
    hour, minute, second = (int(x) for x in clock.split(":"))
    return cftime.datetime(year, month, dom, hour, minute, second, calendar=calendar)


def assemble(
    dataset_id: str, facets: dict[str, str], files: Sequence[tuple[FileRecord, FileHeader]]
) -> Dataset:
    """Put a dataset together from its files and report how they fit.

    Files are sorted by their first time step. Issues name overlapping files, gaps between
    files (more than 1.5 typical steps apart), files repeating time steps within
    themselves, calendars or grids that differ between files, and files that cannot be
    read.

    Parameters
    ----------
    dataset_id
        The dataset's id.
    facets
        Its facets from the DRS path (``realm`` is added from the files when missing).
    files
        Its files with their headers.

    Returns
    -------
    Dataset
    """
    ordered = sorted(files, key=lambda fh: (fh[1].start is None, fh[1].start or "", fh[0].relpath))
    headers = [h for _, h in ordered]
    names = [Path(r.relpath).name for r, _ in ordered]
    named = list(zip(names, headers, strict=True))
    issues = [Issue(f"{n}: {h.problem}", (n,), "unreadable") for n, h in named if h.problem]
    issues += [
        Issue(f"{n} repeats {h.repeated} time step(s) within itself", (n,), "repeated")
        for n, h in named
        if h.repeated
    ]
    calendars = _grouped(named, lambda h: _CALENDAR_ALIASES.get(h.calendar, h.calendar))
    if len(calendars) > 1:
        text = f"files use different calendars: {_listed(calendars)}"
        issues.append(Issue(text, tuple(n for n, h in named if h.calendar), "calendar"))
    grids = _grouped(named, lambda h: h.grid)
    if len(grids) > 1:
        text = f"files have different grids: {_listed(grids)}"
        issues.append(Issue(text, tuple(n for n, h in named if h.grid), "grid"))
    timed = [(r, h) for r, h in ordered if h.start and h.end]
    if len(calendars) == 1 and len(timed) > 1:
        issues.extend(_time_issues(timed, next(iter(calendars)), facets.get("frequency")))
    realm = next((h.realm for h in headers if h.realm), None)
    if realm and "realm" not in facets:
        facets = {**facets, "realm": realm}
    return Dataset(
        id=dataset_id,
        project=facets["project"],
        version=facets["version"],
        facets=facets,
        variable=facets.get("variable"),
        files=tuple(r for r, _ in ordered),
        start=min((h.start for h in headers if h.start), default=None),
        end=max((h.end for h in headers if h.end), default=None),
        calendar=next((h.calendar for h in headers if h.calendar), None),
        size=sum(r.size for r, _ in ordered),
        issues=tuple(issues),
    )


def _grouped(
    named: Sequence[tuple[str, FileHeader]], value: Callable[[FileHeader], str | None]
) -> dict[str, list[str]]:
    """File names by a value of their headers (files without it left out)."""
    groups: dict[str, list[str]] = {}
    for name, header in named:
        if value(header):
            groups.setdefault(value(header), []).append(name)
    return groups


def _listed(groups: dict[str, list[str]]) -> str:
    """``value (file, file); value (file)``, for an issue's text."""
    return "; ".join(f"{value} ({', '.join(names)})" for value, names in sorted(groups.items()))


def _time_issues(
    timed: Sequence[tuple[FileRecord, FileHeader]], calendar: str, frequency: str | None
) -> list[Issue]:
    steps = [h.step_days for _, h in timed if h.step_days]
    step = statistics.median(steps) if steps else _NOMINAL_STEP_DAYS.get(frequency or "")
    issues = []
    for (prev, a), (nxt, b) in zip(timed, timed[1:], strict=False):
        pair = (Path(prev.relpath).name, Path(nxt.relpath).name)
        names = " and ".join(pair)
        if b.start <= a.end:
            issues.append(Issue(f"{names} overlap in time ({b.start} <= {a.end})", pair, "overlap"))
            continue
        delta = _parse_iso(b.start, calendar) - _parse_iso(a.end, calendar)
        days = delta.total_seconds() / 86400
        if step and days > _GAP_FACTOR * step:
            text = f"gap between {names}: {a.end} to {b.start} ({days:g} days, step {step:g} days)"
            issues.append(Issue(text, pair, "gap"))
    return issues
