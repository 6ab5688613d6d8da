"""Declared fixes of a dataset's known issues, applied to it lazily when it is opened.

The fixes come from the known-issues register (:mod:`cp4cds_wps.inventory.errata`): setting
or renaming attributes, setting a variable's units, decoding time in another calendar and
replacing coordinates by those of a reference file. (Which file's repeated time steps to
keep is a fix of the opening itself: ``keep_repeated`` of
:func:`cp4cds_wps.ops.open.open_dataset`.) Each fix applied is noted
(:func:`cp4cds_wps.ops.notes.note`), so that it appears in the output's history and
provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import cftime
import numpy as np
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.ops.notes import note

__all__ = ["FixSpec", "apply_fixes"]


class FixSpec(Protocol):
    """What a fix gives: its action, parameters and a description for the notes."""

    action: str
    params: Mapping[str, Any]

    def describe(self) -> str:
        """The fix in words."""


def apply_fixes(ds: xr.Dataset, fixes: Sequence[FixSpec]) -> xr.Dataset:
    """Apply declared fixes in order, noting each.

    Parameters
    ----------
    ds
        A dataset as opened by :func:`cp4cds_wps.ops.open.open_dataset`.
    fixes
        The fixes; ``drop_duplicate_steps`` is skipped (it acts when the files are opened).

    Returns
    -------
    xarray.Dataset
        The fixed dataset (still lazy).

    Raises
    ------
    DatasetInconsistent
        When a fix does not fit the dataset (a variable it names is missing, a reference
        coordinate has another shape).
    """
    for fix in fixes:
        if fix.action == "drop_duplicate_steps":
            continue
        ds = _ACTIONS[fix.action](ds, fix.params, fix)
        note(fix.describe())
    return ds


def _target(ds: xr.Dataset, params: Mapping[str, Any], fix: FixSpec) -> xr.Dataset | xr.DataArray:
    name = params.get("variable")
    if not name:
        return ds
    if name not in ds.variables:
        raise DatasetInconsistent("collection", f"{fix.describe()}: the dataset has no {name}")
    return ds[name]


def _set_attributes(ds: xr.Dataset, params: Mapping[str, Any], fix: FixSpec) -> xr.Dataset:
    ds = ds.copy()
    target = _target(ds, params, fix)
    target.attrs.update(params["attributes"])
    if target is not ds:
        ds[params["variable"]] = target
    return ds


def _rename_attributes(ds: xr.Dataset, params: Mapping[str, Any], fix: FixSpec) -> xr.Dataset:
    ds = ds.copy()
    target = _target(ds, params, fix)
    for old, new in params["names"].items():
        if old in target.attrs:
            target.attrs[new] = target.attrs.pop(old)
    if target is not ds:
        ds[params["variable"]] = target
    return ds


def _set_units(ds: xr.Dataset, params: Mapping[str, Any], fix: FixSpec) -> xr.Dataset:
    return _set_attributes(
        ds, {"variable": params["variable"], "attributes": {"units": params["units"]}}, fix
    )


def _set_calendar(ds: xr.Dataset, params: Mapping[str, Any], fix: FixSpec) -> xr.Dataset:
    """Decode the time coordinate and its bounds again, in the declared calendar."""
    calendar = params["calendar"]
    names = [n for n, v in ds.variables.items() if _is_time(v)]
    if not names:
        raise DatasetInconsistent("collection", f"{fix.describe()}: the dataset has no time")
    ds = ds.copy()
    for name in names:
        variable = ds.variables[name]
        units = variable.encoding.get("units") or variable.attrs.get("units")
        old = variable.encoding.get("calendar") or variable.attrs.get("calendar", "standard")
        values = np.asarray(variable.values)
        if values.dtype == object:  # decoded: back to the file's numbers first
            values = cftime.date2num(values, units, calendar=old)
        decoded = cftime.num2date(values, units, calendar=calendar)
        replaced = xr.Variable(variable.dims, decoded, variable.attrs, variable.encoding)
        replaced.attrs.pop("calendar", None)
        replaced.encoding.update(units=units, calendar=calendar)
        if name in ds.indexes:
            ds = ds.assign_coords({name: replaced})
        else:
            ds[name] = replaced
    return ds


def _is_time(variable: xr.Variable) -> bool:
    units = str(variable.encoding.get("units") or variable.attrs.get("units") or "")
    return " since " in units and variable.ndim <= 2


def _replace_coordinates(ds: xr.Dataset, params: Mapping[str, Any], fix: FixSpec) -> xr.Dataset:
    """Take the named variables from the reference file, which must fit their shapes."""
    with xr.open_dataset(params["file"], decode_times=False) as reference:
        ds = ds.copy()
        for name in params["variables"]:
            if name not in reference.variables or name not in ds.variables:
                missing = "reference file" if name not in reference.variables else "dataset"
                raise DatasetInconsistent(
                    "collection", f"{fix.describe()}: the {missing} has no {name}"
                )
            new, old = reference.variables[name].load(), ds.variables[name]
            if new.dims != old.dims or new.shape != old.shape:
                raise DatasetInconsistent(
                    "collection",
                    f"{fix.describe()}: {name} is {dict(zip(new.dims, new.shape, strict=True))} "
                    f"in the reference file, {dict(zip(old.dims, old.shape, strict=True))} here",
                )
            replaced = xr.Variable(old.dims, new.values, new.attrs, old.encoding)
            if name in ds.indexes:
                ds = ds.assign_coords({name: replaced})
            else:
                ds[name] = replaced
    return ds


_ACTIONS = {
    "set_attributes": _set_attributes,
    "rename_attributes": _rename_attributes,
    "set_units": _set_units,
    "set_calendar": _set_calendar,
    "replace_coordinates": _replace_coordinates,
}
