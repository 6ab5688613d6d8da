"""Resolve a partial selection: what is still valid, and the dataset once one is chosen.

:func:`resolve` answers the meta-WPS process ``resolve`` and ``/api/constraints`` alike:

- ``facets``: for every facet not fixed yet, its values among the matching datasets with
  their dataset counts;
- ``invalid``: selected values that match nothing (unknown, or not together with the other
  selections), each with the reason and the values that would match;
- ``dataset``: once the selection names one dataset (or versions of one; the newest is
  taken), its id, time range and calendar, grid, levels, variables, size and files;
- ``checks``: whether the given ``time``, ``area`` and ``level`` select data of that dataset,
  with the reason when not, as the main WPS would answer;
- ``estimate``: with a ``process``, what that request would read and write, and whether
  the service's limits allow it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from cp4cds_wps.config import Settings
from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.inventory import Dataset, Inventory, drs
from cp4cds_wps.inventory.facet_index import FacetIndex, Matched
from cp4cds_wps.inventory.geometry import Geometry
from cp4cds_wps.meta.checks import area_cells, selected_levels, time_files
from cp4cds_wps.meta.estimate import estimate
from cp4cds_wps.meta.selection import Selection
from cp4cds_wps.operations.registry import operation
from cp4cds_wps.ops.params import LevelRange, TimeRange, parse_area, parse_level, parse_time
from cp4cds_wps.tasks.files import check_consistent

#: Most dataset ids listed with a result.
MAX_LISTED = 20
#: Most alternative values named in the reason of an invalid selection.
MAX_ALTERNATIVES = 20
_SUGGESTIONS = 5


def resolve(
    inventory: Inventory,
    selection: Selection,
    settings: Settings,
    processes: Sequence[str] = (),
) -> dict:
    """Resolve a partial selection against the inventory.

    Parameters
    ----------
    inventory
        The archive inventory (its facet index is loaded once per generation).
    selection
        Facet values and options.
    settings
        The service settings (limits and output file size, for ``estimate``).
    processes
        The processes of the main WPS, which ``process`` may name (any when empty).

    Returns
    -------
    dict
        JSON-ready: ``selection`` (values as the inventory spells them), ``matches``,
        ``facets``, ``invalid``, ``datasets`` (ids, when at most :data:`MAX_LISTED`),
        ``dataset``, ``checks`` and ``estimate`` (see the module documentation).
    """
    index = inventory.facet_index()
    invalid: list[dict] = []
    codes: dict[str, list[int]] = {}
    for name, values in selection.facets.items():
        if name not in index.names:
            close = difflib.get_close_matches(name, index.names, n=_SUGGESTIONS)
            reason = f"unknown facet {name!r}; facets are {', '.join(index.names)}"
            invalid.append(_problem(name, ",".join(values), reason, close))
            continue
        codes[name] = []
        for value in values:
            code = index.code(name, value)
            if code is None:
                invalid.append(_unknown_value(index, name, value))
            else:
                codes[name].append(code)
    matched = index.select({n: c for n, c in codes.items() if c}) if all(codes.values()) else None
    if matched is not None and matched.matches == 0:
        invalid.extend(_conflicts(index, codes))
    elif matched is not None:
        invalid.extend(_unmatched_values(index, codes))
    facets = {} if matched is None else _facet_counts(index, matched, codes)
    result = {
        "generation": index.generation,
        "selection": {n: [index.values[n][c] for c in cs] for n, cs in codes.items() if cs},
        "matches": 0 if matched is None else matched.matches,
        "facets": facets,
        "invalid": invalid,
        "datasets": [] if matched is None else _listed(index, matched),
        "dataset": None,
        "checks": {},
        "estimate": None,
    }
    dataset_id = None if matched is None else _chosen(index, matched, codes, facets)
    dataset = None if dataset_id is None else inventory.get(dataset_id)
    geometry = None if dataset is None else inventory.geometry(dataset)
    if dataset is not None:
        result["dataset"] = describe_dataset(dataset, geometry)
    result["checks"] = _checks(selection, dataset, geometry)
    if selection.process and processes and selection.process not in processes:
        result["checks"]["process"] = {
            "valid": False,
            "reason": f"process: unknown process {selection.process!r}; the main WPS offers "
            f"{', '.join(processes)}",
        }
    elif selection.process:
        result["estimate"] = _estimate(selection, dataset, inventory, settings)
    return result


def _problem(facet: str, value: str, reason: str, valid: Sequence[str] = ()) -> dict:
    return {"facet": facet, "value": value, "reason": reason, "valid": list(valid)}


def _unknown_value(index: FacetIndex, name: str, value: str) -> dict:
    known = index.values[name][1:]
    close = difflib.get_close_matches(value, known, n=_SUGGESTIONS, cutoff=0.6)
    reason = f"no dataset has {name} {value!r}"
    if close:
        reason += f"; did you mean {', '.join(close)}"
    return _problem(name, value, reason, close)


def _describe(index: FacetIndex, selection: Mapping[str, Sequence[int]]) -> str:
    return " and ".join(
        f"{name} {'|'.join(index.values[name][c] for c in codes)}"
        for name, codes in selection.items()
    )


def _alternatives(counts: np.ndarray, values: Sequence[str]) -> list[str]:
    codes = [c for c in np.flatnonzero(counts) if c]
    ranked = sorted(codes, key=lambda c: -counts[c])[:MAX_ALTERNATIVES]
    return [values[c] for c in sorted(ranked)]


def _conflicts(index: FacetIndex, codes: Mapping[str, list[int]]) -> list[dict]:
    """Explain an empty selection: the values that match nothing under the other facets."""
    found = []
    for name, own in codes.items():
        others = {n: c for n, c in codes.items() if n != name}
        if not others:
            continue
        matched = index.select(others)
        if matched.matches == 0:
            continue
        counts = index.counts(name, matched)
        valid = _alternatives(counts, index.values[name])
        for code in own:
            value = index.values[name][code]
            reason = (
                f"no dataset has {name} {value!r} together with {_describe(index, others)}; "
                f"{len(np.flatnonzero(counts[1:]))} {name} value(s) do, e.g. "
                f"{', '.join(valid[:_SUGGESTIONS])}"
                if valid
                else f"no dataset with {_describe(index, others)} has a {name}"
            )
            found.append(_problem(name, value, reason, valid))
    if found:
        return found
    names = list(codes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pair = {a: codes[a], b: codes[b]}
            if index.select(pair).matches == 0:
                reason = f"no dataset has {_describe(index, pair)}"
                found.append(_problem(a, "|".join(index.values[a][c] for c in codes[a]), reason))
    if not found:
        reason = f"no dataset has all of {_describe(index, codes)}, although any two of them match"
        found.append(_problem(names[0], "", reason))
    return found


def _unmatched_values(index: FacetIndex, codes: Mapping[str, list[int]]) -> list[dict]:
    """Values of facets given several values that match nothing under the other facets."""
    found = []
    for name, own in codes.items():
        if len(own) < 2:
            continue
        others = {n: c for n, c in codes.items() if n != name}
        counts = index.counts(name, index.select(others))
        for code in own:
            if counts[code] == 0:
                value = index.values[name][code]
                reason = f"no dataset has {name} {value!r} together with {_describe(index, others)}"
                found.append(
                    _problem(name, value, reason, _alternatives(counts, index.values[name]))
                )
    return found


def _facet_counts(
    index: FacetIndex, matched: Matched, codes: Mapping[str, list[int]]
) -> dict[str, dict[str, int]]:
    facets = {}
    for name in index.names:
        if name in codes:
            continue
        counts = index.counts(name, matched)
        present = np.flatnonzero(counts[1:]) + 1
        if present.size:
            values = index.values[name]
            facets[name] = {values[c]: int(counts[c]) for c in present}
    return facets


def _row_ids(index: FacetIndex, rows: np.ndarray) -> list[str]:
    return sorted(drs.build_id(index.facets_of(int(row))) for row in rows)


def _listed(index: FacetIndex, matched: Matched) -> list[str]:
    if matched.matches > MAX_LISTED:
        return []
    rows = np.arange(index.size) if matched.rows is None else matched.rows
    return _row_ids(index, rows)


def _chosen(
    index: FacetIndex,
    matched: Matched,
    codes: Mapping[str, list[int]],
    facets: Mapping[str, dict],
) -> str | None:
    """The dataset id the selection names: its only match, or the newest version of one."""
    if matched.matches == 0 or matched.matches > MAX_LISTED:
        return None
    if any(len(c) > 1 for name, c in codes.items() if name != "version"):
        return None
    if any(len(values) > 1 for name, values in facets.items() if name != "version"):
        return None
    rows = np.arange(index.size) if matched.rows is None else matched.rows
    found = [index.facets_of(int(row)) for row in rows]
    newest = max(found, key=lambda f: drs.version_key(f.get("version", "")))
    return drs.build_id(newest)


def describe_dataset(dataset: Dataset, geometry: Geometry | None) -> dict:
    """A dataset as the meta-WPS shows it (JSON-ready).

    Parameters
    ----------
    dataset
        The dataset.
    geometry
        Its grid, levels and variables (None when its files cannot be read).

    Returns
    -------
    dict
        ``id``, ``version``, ``facets``, ``time`` (start, end, calendar, steps), ``grid``
        (type, dimensions, extent), ``levels`` (name, units, positive, values),
        ``variables``, ``size``, ``files``, ``issues`` and ``quality`` (see
        :func:`describe_quality`).
    """
    steps = sum(f.n_times for f in dataset.files)
    time = None
    if dataset.start:
        time = {
            "start": dataset.start,
            "end": dataset.end,
            "calendar": dataset.calendar,
            "steps": steps,
        }
    grid = levels = None
    variables = []
    if geometry is not None:
        main = geometry.main()
        sizes = dict(zip(main.dims, main.shape, strict=True)) if main else {}
        grid = {
            "type": geometry.grid_type,
            "dims": {d: sizes.get(d) for d in geometry.grid_dims},
            "extent": geometry.extent,
        }
        if geometry.levels is not None:
            levels = {
                "name": geometry.levels.name,
                "units": geometry.levels.units,
                "positive": geometry.levels.positive,
                "standard_name": geometry.levels.standard_name,
                "values": list(geometry.levels.values),
            }
        variables = [
            {
                "name": v.name,
                "long_name": v.long_name,
                "standard_name": v.standard_name,
                "units": v.units,
                "dims": list(v.dims),
                "role": v.role,
            }
            for v in geometry.variables
        ]
    return {
        "id": dataset.id,
        "version": dataset.version,
        "facets": dataset.facets,
        "variable": dataset.variable,
        "time": time,
        "grid": grid,
        "levels": levels,
        "variables": variables,
        "size": dataset.size,
        "files": [
            {
                "name": f.path.name,
                "size": f.size,
                "start": f.start,
                "end": f.end,
                "steps": f.n_times,
            }
            for f in dataset.files
        ],
        "issues": [str(issue) for issue in dataset.issues],
        "quality": describe_quality(dataset),
    }


def describe_quality(dataset: Dataset) -> dict:
    """What is known of a dataset's quality (JSON-ready).

    Returns
    -------
    dict
        ``status`` (``passed``, ``warnings``, ``pending``, ``failed``), ``findings`` of
        quality control (check, severity, message, files), ``errata`` of the known-issues
        register (uid, severity, title, description, status, urls, fixes), ``fixes`` applied
        when the dataset is opened, and ``served`` with ``reason`` (under ``[qc] serve =
        "passed"``, why the dataset is refused).
    """
    return {
        "status": dataset.status,
        "findings": [finding.to_dict() for finding in dataset.findings],
        "errata": [erratum.to_dict() for erratum in dataset.errata],
        "fixes": [fix.describe() for fix in dataset.fixes],
        "served": dataset.refused is None,
        "reason": dataset.refused,
    }


def _check(run: Callable[[], dict]) -> dict:
    try:
        return {"valid": True, **run()}
    except (InvalidParameter, MissingParameter) as err:
        return {"valid": False, "reason": str(err)}


def _checks(
    selection: Selection, dataset: Dataset | None, geometry: Geometry | None
) -> dict[str, dict]:
    """Check ``time``, ``level`` and ``area``: their form at once, against the dataset once
    one is chosen (``valid`` None until then), and then also whether the files the request
    needs can be combined (``collection``); in the order the main WPS checks them."""
    checks: dict[str, dict] = {}
    parsed = {}
    for name, parse in (("time", parse_time), ("level", parse_level), ("area", parse_area)):
        text = getattr(selection, name)
        if not text:
            continue
        try:
            parsed[name] = parse(text)
        except InvalidParameter as err:
            checks[name] = {"valid": False, "reason": str(err)}
    if dataset is None:
        waiting = {"valid": None, "reason": "choose one dataset to check it against"}
        return {**checks, **{name: waiting for name in parsed}}
    time = parsed.get("time")
    if "time" in parsed:
        checks["time"] = _check(lambda: {"files": len(time_files(dataset, time))})
    if checks.get("time", {}).get("valid", True):
        checks["collection"] = _check(lambda: _consistent(dataset, time))
    level, area = parsed.get("level"), parsed.get("area")
    if geometry is None:
        unread = {"valid": None, "reason": "the dataset's files cannot be read"}
        checks.update({name: unread for name in ("level", "area") if name in parsed})
    else:
        if "level" in parsed:
            checks["level"] = _check(lambda: {"values": _level_values(geometry, level)})
        if "area" in parsed:
            checks["area"] = _check(lambda: {"shape": area_cells(dataset, geometry, area).shape})
    order = ("time", "collection", "level", "area")
    return {name: checks[name] for name in order if name in checks}


def _level_values(geometry: Geometry, level: LevelRange) -> list[float]:
    return [geometry.levels.values[i] for i in selected_levels(geometry, level)]


def _consistent(dataset: Dataset, time: TimeRange | None) -> dict:
    files = time_files(dataset, time)
    check_consistent(dataset, files)
    return {"files": len(files)}


def _estimate(
    selection: Selection, dataset: Dataset | None, inventory: Inventory, settings: Settings
) -> dict:
    if dataset is None:
        return {"valid": None, "reason": "choose one dataset to estimate a request of it"}
    given = {
        "collection": dataset.id,
        "time": selection.time,
        "area": selection.area,
        "level": selection.level,
    }
    try:
        op = operation(selection.process)
        inputs = {name: value for name, value in given.items() if name in op.input_names}
        found = estimate(op.name, inputs, inventory, max_file_mb=settings.max_file_mb)
    except MissingParameter as err:
        reason = f"{err}: give all inputs of {selection.process} to the estimate process"
        return {"valid": None, "reason": reason}
    except InvalidParameter as err:
        return {"valid": False, "reason": str(err)}
    answer = {"valid": True, **found.to_dict(settings.limits)}
    if not op.sized:
        answer["note"] = f"the output of {selection.process} is not estimated"
    return answer
