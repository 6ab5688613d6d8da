"""Walking the archive roots and reading file headers (:mod:`.assemble` puts datasets together).

Links are followed whether they are real symbolic links or link stubs (a small plain file,
not ``*.nc``/``*.md5``, whose whole content is a relative path to an existing directory),
but never to a place outside the configured roots. At a dataset's version level, a link to
a sibling directory (``latest -> v20131231``) is an alias of that version, not a second
dataset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cftime
import netCDF4
import numpy as np

from cp4cds_wps.config import Root
from cp4cds_wps.inventory import drs
from cp4cds_wps.inventory.records import inside

_STUB_MAX_BYTES = 1024


@dataclass(frozen=True)
class FoundFile:
    """A netCDF file found below a root, with the dataset its path places it in."""

    root: str
    relpath: str
    path: Path
    dataset_id: str
    facets: dict[str, str]


@dataclass
class Walk:
    """What walking the roots found: files, version aliases and warnings."""

    files: list[FoundFile] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class FileHeader:
    """What the inventory keeps of a file's header."""

    start: str | None = None
    end: str | None = None
    n_times: int = 0
    calendar: str | None = None
    step_days: float | None = None
    grid: str | None = None
    realm: str | None = None
    problem: str | None = None
    product_version: str | None = None
    repeated: int = 0


def stub_target(path: str) -> str | None:
    """Return the directory a link-stub file points to, or None if ``path`` is no stub.

    Parameters
    ----------
    path
        Any path; only a small regular file that is not ``*.nc``/``*.md5`` and holds one
        relative path to an existing directory is a stub.

    Returns
    -------
    str or None
        The normalised target path (lexically joined to the stub's folder).
    """
    if path.endswith((".nc", ".md5")) or os.path.islink(path) or not os.path.isfile(path):
        return None
    if os.path.getsize(path) > _STUB_MAX_BYTES:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            content = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not content or "\n" in content or os.path.isabs(content):
        return None
    target = os.path.normpath(os.path.join(os.path.dirname(path), content))
    return target if os.path.isdir(target) else None


def _link_target(path: str) -> str | None:
    """Return where a symbolic link or link stub points (lexically), else None."""
    if os.path.islink(path):
        return os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    return stub_target(path)


def _openable(path: str) -> str | None:
    """Return a path the OS can open for a root: the folder itself or a stub's target."""
    if os.path.isdir(path):
        return path
    return stub_target(path)


def real_roots(roots: Sequence[Root]) -> tuple[str, ...]:
    """The real paths (links resolved) of the roots that exist."""
    tops = (_openable(str(root.path)) for root in roots)
    return tuple(os.path.realpath(top) for top in tops if top)


def walk_roots(roots: Sequence[Root]) -> Walk:
    """Find every netCDF file below the roots and the dataset each belongs to.

    Roots listed first win: a dataset id already found below an earlier root is skipped
    (counted in ``duplicates``) without reading its files.

    Parameters
    ----------
    roots
        The configured archive roots.

    Returns
    -------
    Walk
    """
    walk = Walk()
    tops = {root.name: _openable(str(root.path)) for root in roots}
    within = real_roots(roots)
    owner: dict[str, str] = {}
    for root in roots:
        top = tops[root.name]
        if top is None:
            walk.warnings.append(f"root {root.name}: {root.path} does not exist; skipped")
            continue
        links: list[tuple[tuple[str, ...], str, str]] = []
        found = list(_walk_dir(root, top, (), within, links, walk.warnings, set()))
        ids = {f.dataset_id for f in found}
        for dataset_id in sorted(ids):
            owner.setdefault(dataset_id, root.name)
        taken = {i for i in ids if owner[i] != root.name}
        walk.duplicates += len(taken)
        walk.files.extend(f for f in found if f.dataset_id not in taken)
        walk.aliases.update(_aliases(found, links, taken, root))
    return walk


def _walk_dir(
    root: Root,
    directory: str,
    dirs: tuple[str, ...],
    within: Sequence[str],
    links: list[tuple[tuple[str, ...], str, str]],
    warnings: list[str],
    seen: set[str],
) -> Iterator[FoundFile]:
    real = os.path.realpath(directory)
    if real in seen:
        warnings.append(f"root {root.name}: link loop at {'/'.join(dirs)}; skipped")
        return
    seen = seen | {real}
    at_version = drs.version_depth(root.project, root.fixed) == len(dirs)
    try:
        names = sorted(os.listdir(directory))
    except OSError as err:
        warnings.append(f"root {root.name}: cannot list {'/'.join(dirs) or '.'}: {err}")
        return
    for name in names:
        path = os.path.join(directory, name)
        where = "/".join((*dirs, name))
        target = _link_target(path)
        if target is not None and not inside(os.path.realpath(target), within):
            warnings.append(f"root {root.name}: {where} points outside the roots; skipped")
            continue
        if at_version and target is not None and os.path.dirname(target) == directory:
            links.append((dirs, name, os.path.basename(target)))
            continue
        if target is not None and not os.path.islink(path):
            yield from _walk_dir(root, target, (*dirs, name), within, links, warnings, seen)
        elif os.path.isdir(path):
            yield from _walk_dir(root, path, (*dirs, name), within, links, warnings, seen)
        elif name.endswith(".nc") and os.path.isfile(path):
            if not inside(os.path.realpath(path), within):
                warnings.append(f"root {root.name}: {where} points outside the roots; skipped")
                continue
            facets = drs.facets_from_path(root.project, dirs, name, root.fixed)
            if facets is None:
                warnings.append(f"root {root.name}: {where} does not fit the DRS; skipped")
                continue
            yield FoundFile(root.name, where, Path(path), drs.build_id(facets), facets)


def _aliases(
    found: Sequence[FoundFile],
    links: Sequence[tuple[tuple[str, ...], str, str]],
    taken: set[str],
    root: Root,
) -> dict[str, str]:
    """Map the ids seen through version links (``latest``) to the ids they point at."""
    aliases = {}
    depth = drs.version_depth(root.project, root.fixed)
    for dirs, link, version in links:
        for f in found:
            parts = f.relpath.split("/")
            if tuple(parts[:depth]) == dirs and parts[depth] == version:
                aliased = drs.build_id({**f.facets, "version": link})
                aliases[aliased] = f.dataset_id
    return {alias: target for alias, target in aliases.items() if target not in taken}


def read_md5(path: Path) -> str | None:
    """Return the checksum in the ``.md5`` file beside ``path``, if there is one."""
    try:
        text = Path(f"{path}.md5").read_text(encoding="ascii", errors="replace").split()
    except OSError:
        return None
    return text[0] if text else None


def read_header(path: Path, variable: str) -> FileHeader:
    """Read what the inventory needs from a netCDF file's header and time axis.

    Parameters
    ----------
    path
        The file.
    variable
        The variable the DRS path names.

    Returns
    -------
    FileHeader
        With ``problem`` set (and the rest empty) when the file cannot be read or lacks
        the variable.
    """
    try:
        with netCDF4.Dataset(path) as nc:
            return _header(nc, variable)
    except (OSError, RuntimeError, ValueError) as err:
        return FileHeader(problem=f"cannot read: {err}")


def _header(nc: netCDF4.Dataset, variable: str) -> FileHeader:
    about = {
        "realm": getattr(nc, "realm", None),
        "product_version": _text(getattr(nc, "product_version", None)),
    }
    if variable not in nc.variables:
        return FileHeader(problem=f"variable {variable!r} not in the file", **about)
    var = nc.variables[variable]
    time_dim = next((d for d in var.dimensions if _is_time(nc, d)), None)
    horizontal = [d for d in var.dimensions if d != time_dim and not _is_vertical(nc, d)]
    grid = ",".join(f"{d}={len(nc.dimensions[d])}" for d in horizontal) or None
    if time_dim is None:
        return FileHeader(grid=grid, **about)
    time = nc.variables[time_dim]
    calendar = getattr(time, "calendar", "standard")
    values = np.asarray(time[:], dtype="float64")
    if values.size == 0:
        return FileHeader(calendar=calendar, grid=grid, **about)
    start, end = cftime.num2date([values.min(), values.max()], time.units, calendar)
    factor = _days_per_unit(time.units)
    steps = np.diff(np.unique(values)) * factor
    return FileHeader(
        start=_iso(start),
        end=_iso(end),
        n_times=int(values.size),
        calendar=calendar,
        step_days=float(np.median(steps)) if steps.size else None,
        grid=grid,
        repeated=int(values.size - np.unique(values).size),
        **about,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _is_time(nc: netCDF4.Dataset, dim: str) -> bool:
    coord = nc.variables.get(dim)
    if coord is None:
        return False
    return getattr(coord, "axis", "") == "T" or " since " in getattr(coord, "units", "")


def _is_vertical(nc: netCDF4.Dataset, dim: str) -> bool:
    coord = nc.variables.get(dim)
    if coord is None:
        return False
    return getattr(coord, "axis", "") == "Z" or hasattr(coord, "positive")


def _days_per_unit(units: str) -> float:
    unit = units.split(" since ")[0].strip().lower()
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
    for name, size in seconds.items():
        if unit.startswith(name):
            return size / 86400
    return 1.0


def _iso(date: cftime.datetime) -> str:
    return (
        f"{date.year:04d}-{date.month:02d}-{date.day:02d}"
        f"T{date.hour:02d}:{date.minute:02d}:{date.second:02d}"
    )
