"""DRS templates: directory path -> facets, and ESGF-style dataset ids both ways.

A dataset id is the project prefix followed by the DRS directory levels below the root,
joined with dots (the order of the path), for example::

    CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803
    cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas
    c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231
    cordex.output.EUR-11.KNMI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.KNMI-RACMO22E.v1.mon.tas.v20190625

``c3s-cmip6`` and ``c3s-cordex`` use the CMIP6 and CORDEX forms with their own prefix.

The C3S Atlas (``c3s-cica-atlas``) and the IPCC AR6 Interactive Atlas (``c3s-ipcc-ar6-atlas``,
the Climate Data Store's name; ``c3s-ipcc-atlas`` is accepted for it too) keep one file per
dataset in ``[v<NN>/]<origin>[/<experiment>]/<variable>_<origin>[_<experiment>]_<frequency>
_<range>[_v<NN>].nc``; their ids follow the roocs services (rook, the intake catalogs of the
CDS): ``<project>.<variable>.<origin>[.<experiment>].<frequency>.<version>``, e.g.
``c3s-cica-atlas.pr.CMIP5.rcp26.mon.v1`` or ``c3s-ipcc-ar6-atlas.tnn.CORDEX-ANT.rcp45.mon.v2``.
The version is the tree's: a ``v<NN>`` folder above the origin or a ``_v<NN>`` end of the file
name (``v02`` -> ``v2``, ``v025`` -> ``v25``); else the root's ``fixed`` version; else the
files' ``product_version`` attribute (``v1.0`` -> ``v1``, ``v2.0-final`` -> ``v2``, ``v2.5`` ->
``v25``, see :func:`atlas_version`); else ``v1``.

Facets use one vocabulary across projects: ``project``, ``product`` (CMIP5, CORDEX),
``activity`` (CMIP6), ``institute``, ``model`` (CMIP6 source_id, CMIP5 model, and for
CORDEX the regional model ``rcm_name``, with ``driving_model`` and ``rcm_version`` kept
beside it), ``experiment``, ``sub_experiment`` (CMIP6: ``s1960`` of a DCPP member
``s1960-r2i1p1f1``, else ``none``), ``member`` (the whole ensemble member), ``frequency``
(CMIP6: derived from the table), ``realm``, ``table``, ``variable``, ``grid`` (grid_label),
``domain``, ``version``, and for the Atlas ``origin`` (the source of the data: CMIP5, ERA5,
E-OBS, CORDEX-CORE). A root's ``fixed`` facets fill levels its tree leaves out.

Archive layout quirks understood here: ``<grid>/files/dYYYYMMDD/`` (version
``vYYYYMMDD``) and real ``latest`` directories holding files (version ``latest``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

#: Canonical id prefix of each project (ids are matched case-insensitively on it).
PREFIXES = {
    "cmip5": "cmip5",
    "cmip6": "CMIP6",
    "c3s-cmip5": "c3s-cmip5",
    "c3s-cmip6": "c3s-cmip6",
    "cordex": "cordex",
    "c3s-cordex": "c3s-cordex",
    "c3s-cica-atlas": "c3s-cica-atlas",
    "c3s-ipcc-ar6-atlas": "c3s-ipcc-ar6-atlas",
}
#: Other spellings of a project prefix in ids (rook's, and the THREDDS data root's, name of
#: the IPCC AR6 Atlas), by the canonical prefix they mean.
PREFIX_ALIASES = {"c3s-ipcc-atlas": "c3s-ipcc-ar6-atlas"}

_CMIP6 = (
    "activity",
    "institute",
    "model",
    "experiment",
    "member",
    "table",
    "variable",
    "grid",
    "version",
)
_CORDEX = (
    "product",
    "domain",
    "institute",
    "driving_model",
    "experiment",
    "member",
    "model",
    "rcm_version",
    "frequency",
    "variable",
    "version",
)
_CMIP5 = ("product", "institute", "model", "experiment", "frequency", "realm", "table", "member")
_ATLAS = ("variable", "origin", "experiment", "frequency", "version")

#: Facets of each dataset id, in id (and directory) order.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "cmip5": (*_CMIP5, "version", "variable"),
    "c3s-cmip5": (*_CMIP5, "variable", "version"),
    "cmip6": _CMIP6,
    "c3s-cmip6": _CMIP6,
    "cordex": _CORDEX,
    "c3s-cordex": _CORDEX,
    "c3s-cica-atlas": _ATLAS,
    "c3s-ipcc-ar6-atlas": _ATLAS,
}

#: Projects laid out as the Atlas (one file per dataset, facets from the file name).
ATLASES = ("c3s-cica-atlas", "c3s-ipcc-ar6-atlas")
#: The version of an Atlas dataset whose tree, root and files name none.
ATLAS_VERSION = "v1"
_ATLAS_TAG = re.compile(r"^v(\d+)$")
_PRODUCT_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?")
_VERSION = re.compile(r"^(v\d+|latest)$")
_FILES_VERSION = re.compile(r"^d(\d+)$")
_DCPP_MEMBER = re.compile(r"^(s\d{4})-(r\d+i\d+p\d+f\d+)$")

_TABLE_FREQUENCIES = {
    "Oclim": "monC",
    "E1hrClimMon": "1hrCM",
    "6hrPlevPt": "6hrPt",
    "CF3hr": "3hrPt",
    "E3hrPt": "3hrPt",
    "CFsubhr": "subhrPt",
    "Esubhr": "subhrPt",
}
_FREQUENCY_SUFFIXES = ("mon", "monZ", "day", "dayZ", "fx", "yr", "dec")
_FREQUENCY_PREFIXES = ("1hr", "3hr", "6hr")


def frequency_from_table(table: str) -> str | None:
    """Return the frequency of a CMIP6 table (``Amon`` -> ``mon``, ``Ofx`` -> ``fx``).

    Parameters
    ----------
    table
        A CMIP6 MIP table id.

    Returns
    -------
    str or None
        The CMIP6 frequency, or None for a table name that tells none.
    """
    if table in _TABLE_FREQUENCIES:
        return _TABLE_FREQUENCIES[table]
    for suffix in _FREQUENCY_SUFFIXES:
        if table.endswith(suffix):
            return suffix.removesuffix("Z")
    for prefix in _FREQUENCY_PREFIXES:
        if prefix in table:
            return prefix
    return None


def directory_facets(project: str, fixed: Mapping[str, str]) -> tuple[str, ...]:
    """Return the facets that a root's directory levels hold, top down.

    Parameters
    ----------
    project
        The root's project.
    fixed
        The root's fixed facets (levels its tree leaves out).

    Returns
    -------
    tuple of str
        Facet names of the directory levels (for the Atlas: ``origin``, ``experiment``).
    """
    if project in ATLASES:
        return ("origin", "experiment")
    return tuple(name for name in TEMPLATES[project] if name not in fixed)


def version_depth(project: str, fixed: Mapping[str, str]) -> int | None:
    """Return the index of the version level among the directory levels, if there is one."""
    levels = directory_facets(project, fixed)
    return levels.index("version") if "version" in levels else None


def facets_from_path(
    project: str, dirs: Sequence[str], filename: str, fixed: Mapping[str, str]
) -> dict[str, str] | None:
    """Return the facets of a netCDF file from its directories below the root.

    Parameters
    ----------
    project
        The root's project.
    dirs
        The directory names between the root and the file, as found (``files/dNNN``
        included).
    filename
        The file's name (only the Atlas reads facets from it).
    fixed
        The root's fixed facets, added to the result.

    Returns
    -------
    dict or None
        All facets including ``project``, or None when the path does not fit the DRS. An
        Atlas file whose tree and root name no version has none: see :func:`with_version`.
    """
    if project in ATLASES:
        facets = _atlas_facets(dirs, filename)
        if facets is None:
            return None
    else:
        levels = directory_facets(project, fixed)
        dirs = _merge_files_version(list(dirs), levels)
        if len(dirs) != len(levels):
            return None
        facets = dict(zip(levels, dirs, strict=True))
        if not _VERSION.match(facets["version"]):
            return None
    facets = {**fixed, **facets, "project": project}
    if project in ("cmip6", "c3s-cmip6"):
        match = _DCPP_MEMBER.match(facets["member"])
        facets["sub_experiment"] = match.group(1) if match else "none"
        frequency = frequency_from_table(facets["table"])
        if frequency:
            facets["frequency"] = frequency
    return facets


def _merge_files_version(dirs: list[str], levels: tuple[str, ...]) -> list[str]:
    """Turn ``files/dYYYYMMDD`` at the version level into ``vYYYYMMDD``."""
    if "version" not in levels:
        return dirs
    at = levels.index("version")
    if len(dirs) == len(levels) + 1 and dirs[at] == "files":
        match = _FILES_VERSION.match(dirs[at + 1])
        if match:
            return [*dirs[:at], f"v{match.group(1)}", *dirs[at + 2 :]]
    return dirs


def _atlas_facets(dirs: Sequence[str], filename: str) -> dict[str, str] | None:
    dirs = list(dirs)
    versions = []
    if dirs and _ATLAS_TAG.match(dirs[0]):
        versions.append(_atlas_tag(dirs.pop(0)))
    if not 1 <= len(dirs) <= 2 or not filename.endswith(".nc"):
        return None
    origin = dirs[0]
    experiment = dirs[1] if len(dirs) == 2 else None
    head = [origin] if experiment is None else [origin, experiment]
    parts = filename.removesuffix(".nc").split("_")
    if len(parts) == len(head) + 4 and _ATLAS_TAG.match(parts[-1]):
        versions.append(_atlas_tag(parts.pop()))
    # <variable>_<origin>[_<experiment>]_<frequency>_<range>
    if len(parts) != len(head) + 3 or parts[1 : 1 + len(head)] != head:
        return None
    if len(set(versions)) > 1:  # the folder and the file name disagree
        return None
    facets = {"variable": parts[0], "origin": origin, "frequency": parts[-2]}
    if experiment is not None:
        facets["experiment"] = experiment
    if versions:
        facets["version"] = versions[0]
    return facets


def _atlas_tag(tag: str) -> str:
    """``v02`` -> ``v2``, ``v025`` -> ``v25``: the Atlas' folder and file tags as versions."""
    return f"v{int(tag[1:])}"


def atlas_version(product_version: str | None) -> str:
    """The version of an Atlas dataset from its files' ``product_version`` attribute.

    Parameters
    ----------
    product_version
        The attribute, e.g. ``"v1.0"``, ``"v2.0-final"``, ``"2.5"``; None when absent.

    Returns
    -------
    str
        ``v<major>`` (``v1``, ``v2``), ``v<major><minor>`` for a minor version other than 0
        (``v25``, as the roocs catalogs name the Atlas v2.5), or :data:`ATLAS_VERSION` when
        the attribute is absent or has no number.
    """
    match = _PRODUCT_VERSION.match((product_version or "").strip())
    if match is None:
        return ATLAS_VERSION
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return f"v{major}{minor}" if minor else f"v{major}"


def with_version(facets: Mapping[str, str], product_version: str | None) -> dict[str, str]:
    """Facets with a version: as they are when they have one, else (Atlas files whose tree
    and root name none) from the files' ``product_version`` (:func:`atlas_version`)."""
    if "version" in facets:
        return dict(facets)
    return {**facets, "version": atlas_version(product_version)}


def build_id(facets: Mapping[str, str], with_version: bool = True) -> str:
    """Return the dataset id of a dataset's facets.

    Parameters
    ----------
    facets
        Facets as from :func:`facets_from_path` (``project`` and the template's facets).
    with_version
        False to leave the version out (the id any version of the dataset answers to).

    Returns
    -------
    str
    """
    project = facets["project"]
    names = TEMPLATES[project]
    if not with_version:
        names = tuple(name for name in names if name != "version")
    values = [facets[name] for name in names if name in facets]
    return ".".join([PREFIXES[project], *values])


def parse_id(dataset_id: str) -> dict[str, str]:
    """Return the facets of a dataset id; the version may be absent.

    The project prefix is matched case-insensitively.

    Parameters
    ----------
    dataset_id
        An id such as ``cmip6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr``.

    Returns
    -------
    dict
        Facets including ``project`` (and ``version`` when the id gives one).

    Raises
    ------
    ValueError
        When the id has no known project prefix or the wrong number of parts.
    """
    prefix, _, rest = canonical_id(dataset_id).partition(".")
    project = next((p for p, pre in PREFIXES.items() if pre == prefix), None)
    if project is None:
        known = ", ".join(sorted(set(PREFIXES.values())))
        raise ValueError(f"{dataset_id!r} does not start with a known project ({known})")
    parts = rest.split(".") if rest else []
    names = list(TEMPLATES[project])
    if project in ATLASES:
        if parts and not _VERSION.match(parts[-1]):
            names.remove("version")
        if len(parts) == len(names) - 1:
            names.remove("experiment")
    elif len(parts) == len(names) - 1:
        names.remove("version")
    if len(parts) != len(names):
        raise ValueError(
            f"{dataset_id!r} has {len(parts)} parts after the project; "
            f"a {PREFIXES[project]} id has {len(TEMPLATES[project])} ({'.'.join(names)})"
        )
    return {"project": project, **dict(zip(names, parts, strict=True))}


def canonical_id(dataset_id: str) -> str:
    """Return the id with its project prefix spelled as the inventory stores it (in its
    case, and an alias of :data:`PREFIX_ALIASES` replaced)."""
    prefix, dot, rest = dataset_id.partition(".")
    prefix = PREFIX_ALIASES.get(prefix.lower(), prefix)
    for canonical in PREFIXES.values():
        if canonical.lower() == prefix.lower():
            return canonical + dot + rest
    return dataset_id


def version_key(version: str) -> tuple[bool, int, str]:
    """Sort key of versions: a real ``latest`` directory counts as the newest."""
    digits = version[1:]
    return (version == "latest", int(digits) if digits.isdigit() else -1, version)
