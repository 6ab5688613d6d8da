"""Checks of one archive file: its checksums, CF compliance and coordinates.

Each check returns :class:`~cp4cds_wps.inventory.records.Finding` objects; none found means
the file passed. The CF and coordinate checks read the file's content only, so their
findings do not name the file (:func:`named` adds it) and can be kept by the file's checksum
(:mod:`cp4cds_wps.qc.cache`).
"""

from __future__ import annotations

import warnings
from functools import cache
from importlib.metadata import version
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory.records import Finding
from cp4cds_wps.ops.cells import implausible_cells

#: Version of the coordinate checks, part of their cache key: raise it when they change.
COORDINATES_VERSION = "2"
#: Most failure messages quoted in a finding.
MAX_QUOTED = 3
#: How far outside its cell's bounds a centre may lie, in parts of the cell's extent: cells
#: of tripolar and other distorted grids have centres off their vertices' box.
OUTSIDE_TOLERANCE = 0.25
#: Coordinate values beyond this are missing values written without a _FillValue.
MISSING_BEYOND = 1e20
#: Bounds that leave more than this share of their centres outside are wrong (an error);
#: fewer cells outside (tripolar folds, cells at the pole, fill values as centres) are
#: reported as a warning.
WRONG_SHARE = 0.5


def read_sha256(path: Path) -> str | None:
    """The checksum in the ``.sha256`` file beside ``path``, if there is one."""
    try:
        words = Path(f"{path}.sha256").read_text(encoding="ascii", errors="replace").split()
    except OSError:
        return None
    return words[0].lower() if words else None


def checksum_findings(
    name: str, md5: str, sha256: str, archive_md5: str | None, archive_sha256: str | None
) -> list[Finding]:
    """Compare a file's checksums with those of the archive's ``.md5``/``.sha256`` files.

    Parameters
    ----------
    name
        The file's name.
    md5, sha256
        The checksums computed from the file.
    archive_md5, archive_sha256
        Those the archive gives (None: it gives none).

    Returns
    -------
    list of Finding
        An error for each checksum that differs; a warning when the archive gives none.
    """
    found = []
    for kind, computed, given in (("MD5", md5, archive_md5), ("SHA-256", sha256, archive_sha256)):
        if given is not None and given.lower() != computed:
            found.append(
                Finding(
                    "checksum",
                    "error",
                    f"{name}: its {kind} is {computed}, the archive's checksum file says {given}",
                    (name,),
                )
            )
    if archive_md5 is None and archive_sha256 is None:
        message = f"{name}: the archive has no .md5 or .sha256 file to verify it against"
        found.append(Finding("checksum", "warning", message, (name,)))
    return found


@cache
def _suite():
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    return suite


def cf_version() -> str:
    """The compliance-checker version, part of the cache key of CF results."""
    return f"compliance-checker {version('compliance-checker')}, cf:1.8"


def cf_findings(path: Path) -> list[Finding]:
    """The high-priority CF 1.8 failures of IOOS compliance-checker, as one warning.

    Returns
    -------
    list of Finding
        Nothing when the file passes; a warning counting the failures (quoting up to
        :data:`MAX_QUOTED`), or saying that the checker could not check the file.
    """
    suite = _suite()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results, errors = suite.run_all(suite.load_dataset(str(path)), ["cf:1.8"], [])["cf:1.8"]
    except Exception as err:  # noqa: BLE001 - any failure of the checker is a finding
        return [Finding("cf", "warning", f"compliance-checker failed: {err}")]
    failures = []
    for result in results:
        scored, possible = (result.value, True) if isinstance(result.value, bool) else result.value
        if result.weight == 3 and scored != possible:
            failures.extend(m for m in result.msgs if m not in failures)
    found = []
    if failures:
        quoted = "; ".join(failures[:MAX_QUOTED]) + ("; ..." if len(failures) > MAX_QUOTED else "")
        message = f"{len(failures)} high-priority CF 1.8 failure(s): {quoted}"
        found.append(Finding("cf", "warning", message))
    if errors:
        message = f"compliance-checker could not run {', '.join(sorted(errors))}"
        found.append(Finding("cf", "warning", message))
    return found


def coordinate_findings(path: Path) -> list[Finding]:
    """Coordinates that are not monotonic, bounds that do not contain their centres, and
    implausible cell areas (:func:`cell_area_findings`).

    Coordinate variables (1-D, named as their dimension) other than time must be strictly
    monotonic. Every coordinate with a ``bounds`` attribute must have a bounds variable of
    its shape and one vertex dimension; 1-D bounds must hold each centre between them,
    2-D latitude/longitude vertices (curvilinear and rotated grids) each centre inside its
    cell on the sphere (on the inner side of every edge's great circle), give or take
    :data:`OUTSIDE_TOLERANCE` of the cell's size. Cells whose centre or bounds are missing
    (masked, NaN, or beyond :data:`MISSING_BEYOND`) are not judged.

    Returns
    -------
    list of Finding
        One for each coordinate (or pair of latitude and longitude) found wrong: an error,
        but a warning for bounds that leave at most :data:`WRONG_SHARE` of their centres
        outside.
    """
    problems: list[tuple[str, float] | None] = []
    with netCDF4.Dataset(path) as nc:
        numeric = [v for v in nc.variables.values() if _numeric(v)]
        problems += [_monotonic(v) for v in numeric if _is_axis(v)]
        problems += [_bounds(nc, v) for v in numeric]
        problems += [_cells(nc, lat, lon) for lat, lon in _horizontal_pairs(numeric)]
    return [
        Finding("coordinates", "error" if share > WRONG_SHARE else "warning", text)
        for text, share in filter(None, problems)
    ] + cell_area_findings(path)


def named(findings: list[Finding], name: str) -> list[Finding]:
    """Findings of the file ``name``, the name in front of their messages."""
    return [Finding(f.check, f.severity, f"{name}: {f.message}", (name,)) for f in findings]


def cell_area_findings(path: Path) -> list[Finding]:
    """Cells whose area from their bounds is implausible (corrupt vertices, bounds beyond
    the poles, cells enclosing nothing), as :func:`cp4cds_wps.ops.cells.implausible_cells`
    finds them.

    The operations fall back to areas computed from the cell centres for such cells (and
    note it), so each is a warning.

    Returns
    -------
    list of Finding
        One ``cell_area`` warning per kind of implausible cell; none for files without a
        horizontal grid or without cell bounds.
    """
    with xr.open_dataset(path, decode_times=False, mask_and_scale=True) as ds:
        try:
            found = implausible_cells(ds)
        except InvalidParameter:  # no latitude/longitude
            return []
        if found is None or not found.count:
            return []
        return [
            Finding("cell_area", "warning", f"{', '.join(found.bounds)}: {sentence}")
            for sentence in found.summary()
        ]


def _is_axis(var: netCDF4.Variable) -> bool:
    if var.ndim != 1 or var.dimensions[0] != var.name:
        return False
    units = str(getattr(var, "units", ""))
    return getattr(var, "axis", "") != "T" and " since " not in units


def _monotonic(var: netCDF4.Variable) -> tuple[str, float] | None:
    values = _values(var)
    steps = np.diff(values)
    if values.size < 2 or np.all(steps > 0) or np.all(steps < 0):
        return None
    direction = -1.0 if values[-1] < values[0] else 1.0
    at = int(np.flatnonzero(~(steps * direction > 0))[0])
    text = (
        f"coordinate {var.name} is not strictly monotonic "
        f"({values[at]:g} then {values[at + 1]:g} at index {at})"
    )
    return text, 1.0


def _numeric(var: netCDF4.Variable) -> bool:
    return isinstance(var.dtype, np.dtype) and np.issubdtype(var.dtype, np.number)


def _is_latitude(var: netCDF4.Variable) -> bool:
    units = str(getattr(var, "units", "")).lower()
    standard = str(getattr(var, "standard_name", ""))
    return standard == "latitude" or units.startswith("degree") and "north" in units


def _values(var: netCDF4.Variable) -> np.ndarray:
    """A variable's values as floats, NaN where missing."""
    values = np.ma.filled(np.ma.asarray(var[:], dtype="float64"), np.nan)
    values[np.abs(values) > MISSING_BEYOND] = np.nan
    return values


def _is_longitude(var: netCDF4.Variable) -> bool:
    units = str(getattr(var, "units", "")).lower()
    standard = str(getattr(var, "standard_name", ""))
    return (
        standard in ("longitude", "grid_longitude")
        or units.startswith("degree")
        and "east" in units
    )


def _bounds(nc: netCDF4.Dataset, var: netCDF4.Variable) -> tuple[str, float] | None:
    """A coordinate's bounds: present, of its shape, and for 1-D ones around each centre."""
    name = getattr(var, "bounds", None)
    if not isinstance(name, str) or var.ndim == 0:
        return None
    if name not in nc.variables:
        return f"{var.name} names bounds {name!r}, which the file does not hold", 1.0
    bounds = nc.variables[name]
    if bounds.shape[: var.ndim] != var.shape or bounds.ndim != var.ndim + 1:
        return f"{name} has shape {bounds.shape}, not {var.shape} and a vertex dimension", 1.0
    if var.ndim != 1 or " since " in str(getattr(var, "units", "")):
        return None  # 2-D: see _cells; time bounds: the time checks look at those
    centres, vertices = _values(var), _values(bounds)
    if _is_longitude(var):
        vertices = (vertices - centres[:, None] + 180.0) % 360.0 - 180.0 + centres[:, None]
    with np.errstate(invalid="ignore"):
        low, high = np.min(vertices, axis=-1), np.max(vertices, axis=-1)
        slack = OUTSIDE_TOLERANCE * (high - low) + 1e-9 * np.abs(centres)
        outside = (centres < low - slack) | (centres > high + slack)
    if not outside.any():
        return None
    at = int(np.flatnonzero(outside)[0])
    text = (
        f"{name} do not contain {int(outside.sum())} of {outside.size} {var.name} value(s) "
        f"(first at index {at}: {centres[at]:g} not in [{low[at]:g}, {high[at]:g}])"
    )
    return text, _share(outside, ~np.isnan(centres) & ~np.isnan(low) & ~np.isnan(high))


def _horizontal_pairs(variables: list[netCDF4.Variable]) -> list[tuple]:
    """2-D latitude and longitude coordinates of the same dimensions, both with bounds."""
    lats = [v for v in variables if v.ndim == 2 and _is_latitude(v) and hasattr(v, "bounds")]
    lons = [v for v in variables if v.ndim == 2 and _is_longitude(v) and hasattr(v, "bounds")]
    return [(a, o) for a in lats for o in lons if a.dimensions == o.dimensions]


def _cells(
    nc: netCDF4.Dataset, lat: netCDF4.Variable, lon: netCDF4.Variable
) -> tuple[str, float] | None:
    """Centres of 2-D cells outside their cells, judged on the sphere."""
    if lat.bounds not in nc.variables or lon.bounds not in nc.variables:
        return None
    lat_v, lon_v = nc.variables[lat.bounds], nc.variables[lon.bounds]
    if lat_v.shape != lon_v.shape or lat_v.shape[:2] != lat.shape:
        return None  # reported by _bounds
    centre = _unit(_values(lat), _values(lon))  # (..., 3)
    corners = _unit(_values(lat_v), _values(lon_v))  # (..., n, 3)
    edges = np.cross(corners, np.roll(corners, -1, axis=-2))  # normals of the edges' circles
    lengths = np.linalg.norm(edges, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cells of missing values only
        side = np.einsum("...ki,...i->...k", edges, centre) / lengths
        size = np.nanmax(np.linalg.norm(corners - centre[..., None, :], axis=-1), axis=-1)
        side[~(lengths > 1e-12)] = np.nan  # repeated corners: no edge
        sign = np.where(np.nansum(side, axis=-1) < 0, -1.0, 1.0)[..., None]
        worst = np.nanmin(side * sign, axis=-1)
        outside = worst < -OUTSIDE_TOLERANCE * size
    judged = ~np.isnan(centre).any(axis=-1) & ~np.isnan(corners).any(axis=(-1, -2))
    outside &= judged
    if not outside.any():
        return None
    at = tuple(int(i) for i in np.argwhere(outside)[0])
    text = (
        f"the cells of {lat.bounds} and {lon.bounds} do not contain {int(outside.sum())} of "
        f"{outside.size} centre(s) (first at index {at}: {lat.name} {_values(lat)[at]:g}, "
        f"{lon.name} {_values(lon)[at]:g})"
    )
    return text, _share(outside, judged)


def _share(outside: np.ndarray, judged: np.ndarray) -> float:
    """The share of the judged cells that are outside."""
    return float(outside.sum() / max(int(judged.sum()), 1))


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, on a last axis of 3."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)
