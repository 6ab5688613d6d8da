"""The known-issues register: errata of datasets, and fixes applied when they are opened.

A TOML or JSON file (``[qc] known_issues``) lists errata under ``errata`` (or ``issues``, the
key of the ESGF errata service's answers). Each erratum takes the fields of an ESGF errata
record, so that records of the service map onto it as they are (fields it does not use,
e.g. ``mip_era`` or ``dateCreated``, are ignored):

- ``uid`` (or ``id``): the erratum's identifier, e.g. the errata service's uid;
- ``datasets``: dataset ids or shell patterns (``*``, ``?``); a pattern without version
  concerns every version, ``<id>#<YYYYMMDD>`` (the errata service's form) means version
  ``v<YYYYMMDD>``;
- ``severity``: ``low``, ``medium``, ``high`` or ``critical`` (the service's terms; a
  critical erratum fails the dataset's quality control);
- ``title``, ``description``, ``status``, ``url`` (or ``urls``, a list): shown with the
  dataset;
- ``fixes``: declarative fixes applied to the dataset whenever it is opened (see
  :data:`ACTIONS` and :mod:`cp4cds_wps.ops.fixes`).

Example (TOML)::

    [[errata]]
    uid = "2f6b5963-f87e-b2df-a5b0-2f12b6b68d32"
    datasets = ["CMIP6.CMIP.NCAR.CESM2.historical.*.Amon.tas.gn"]
    severity = "medium"
    title = "Wrong units attribute"
    description = "tas is in K but says degC"
    url = "https://errata.es-doc.org/static/view.html?uid=2f6b5963-f87e-b2df-a5b0-2f12b6b68d32"
    fixes = [{ action = "set_units", variable = "tas", units = "K" }]
"""

from __future__ import annotations

import fnmatch
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cp4cds_wps.config import ConfigError
from cp4cds_wps.inventory.drs import canonical_id

#: The errata service's severities, mildest first.
SEVERITIES = ("low", "medium", "high", "critical")
#: Fix actions and the keys each takes: (required, optional).
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "set_attributes": (("attributes",), ("variable",)),
    "rename_attributes": (("names",), ("variable",)),
    "set_units": (("variable", "units"), ()),
    "set_calendar": (("calendar",), ()),
    "drop_duplicate_steps": ((), ("keep",)),
    "replace_coordinates": (("file", "variables"), ()),
}
#: Calendars ``set_calendar`` accepts (CF 1.8 section 4.4.1).
CALENDARS = (
    "standard", "gregorian", "proleptic_gregorian", "noleap", "365_day", "all_leap",
    "366_day", "360_day", "julian",
)  # fmt: skip


class KnownIssuesError(ConfigError):
    """The known-issues register cannot be read or has an invalid entry (named)."""


@dataclass(frozen=True)
class Fix:
    """One declarative fix: an ``action`` of :data:`ACTIONS` with its ``params``, declared by
    the erratum ``erratum``."""

    action: str
    params: Mapping[str, Any]
    erratum: str

    def describe(self) -> str:
        """The fix in words, for history and provenance."""
        p = self.params
        where = f"{p['variable']}" if p.get("variable") else "global"
        text = {
            "set_attributes": lambda: (
                f"{where} attributes set: "
                + ", ".join(f"{k}={v!r}" for k, v in p["attributes"].items())
            ),
            "rename_attributes": lambda: (
                f"{where} attributes renamed: "
                + ", ".join(f"{k} -> {v}" for k, v in p["names"].items())
            ),
            "set_units": lambda: f"{p['variable']} units set to {p['units']!r}",
            "set_calendar": lambda: f"time decoded in the {p['calendar']} calendar",
            "drop_duplicate_steps": lambda: (
                f"repeated time steps dropped, keeping the {p.get('keep', 'first')} file's"
            ),
            "replace_coordinates": lambda: (
                f"{', '.join(p['variables'])} replaced from {Path(p['file']).name}"
            ),
        }[self.action]()
        return f"fix of erratum {self.erratum}: {text}"


@dataclass(frozen=True)
class Erratum:
    """One entry of the register (see the module documentation)."""

    uid: str
    datasets: tuple[str, ...]
    severity: str
    title: str = ""
    description: str = ""
    status: str = ""
    urls: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = field(default=(), compare=False)

    def concerns(self, dataset_id: str, version: str) -> bool:
        """Whether a pattern of ``datasets`` names the dataset (any version if it names none)."""
        base = dataset_id.removesuffix(f".{version}")
        return any(
            fnmatch.fnmatchcase(dataset_id, p) or fnmatch.fnmatchcase(base, p)
            for p in self.datasets
        )

    def to_dict(self) -> dict:
        """The erratum as JSON-ready data (its fixes described in words)."""
        return {
            "uid": self.uid,
            "severity": self.severity,
            "title": self.title,
            "description": self.description,
            "status": self.status,
            "urls": list(self.urls),
            "fixes": [fix.describe() for fix in self.fixes],
        }

    def __str__(self) -> str:
        head = f"{self.severity} erratum {self.uid}: {self.title or self.description}"
        return head + (f" ({self.urls[0]})" if self.urls else "")


class KnownIssues:
    """The register of one file, read again when the file changes.

    Parameters
    ----------
    path
        The TOML (``.toml``) or JSON file; None for an empty register.
    """

    def __init__(self, path: Path | None):
        self.path = None if path is None else Path(path)
        self._stamp: tuple[float, int] | None = None
        self._errata: tuple[Erratum, ...] = ()
        self.errata()  # an invalid file is an error at once

    def errata(self) -> tuple[Erratum, ...]:
        """All entries, read again when the file's modification time or size changed.

        Raises
        ------
        KnownIssuesError
            When the file is missing or invalid (naming the entry and key).
        """
        if self.path is None:
            return ()
        try:
            stat = self.path.stat()
        except OSError as err:
            raise KnownIssuesError(f"[qc] known_issues {self.path}: {err.strerror}") from err
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._errata = read_register(self.path)
            self._stamp = stamp
        return self._errata


def read_register(path: Path) -> tuple[Erratum, ...]:
    """Read and check a register file.

    Parameters
    ----------
    path
        A ``.json`` file, else TOML.

    Returns
    -------
    tuple of Erratum

    Raises
    ------
    KnownIssuesError
        Naming the file, the entry and what is wrong.
    """
    where = f"known issues {path}"
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise KnownIssuesError(f"{where} cannot be read: {err}") from err
    records = data.get("errata", data.get("issues")) if isinstance(data, Mapping) else data
    if not isinstance(records, list):
        raise KnownIssuesError(f"{where} must list its entries under 'errata'")
    return tuple(
        _erratum(record, f"{where}: entry {i}", path.parent) for i, record in enumerate(records)
    )


def _erratum(record: Any, where: str, base: Path) -> Erratum:
    if not isinstance(record, Mapping):
        raise KnownIssuesError(f"{where} must be a table")
    uid = str(record.get("uid") or record.get("id") or "").strip()
    if not uid:
        raise KnownIssuesError(f"{where} needs a uid (or id)")
    where = f"{where} ({uid})"
    datasets = record.get("datasets")
    if isinstance(datasets, str):
        datasets = [datasets]
    if (
        not isinstance(datasets, list)
        or not datasets
        or not all(isinstance(d, str) for d in datasets)
    ):
        raise KnownIssuesError(f"{where}: datasets must list dataset ids or patterns")
    severity = str(record.get("severity", "")).lower()
    if severity not in SEVERITIES:
        raise KnownIssuesError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    urls = record.get("urls", [record["url"]] if record.get("url") else [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise KnownIssuesError(f"{where}: urls must be a list of URLs")
    fixes = record.get("fixes", [])
    if not isinstance(fixes, list):
        raise KnownIssuesError(f"{where}: fixes must be a list of tables")
    return Erratum(
        uid=uid,
        datasets=tuple(_pattern(d) for d in datasets),
        severity=severity,
        title=str(record.get("title", "")),
        description=str(record.get("description", "")),
        status=str(record.get("status", "")),
        urls=tuple(urls),
        fixes=tuple(_fix(f, f"{where}: fixes[{i}]", uid, base) for i, f in enumerate(fixes)),
    )


def _pattern(dataset: str) -> str:
    """A dataset id or pattern as the inventory spells ids (``#YYYYMMDD`` -> ``.vYYYYMMDD``)."""
    head, _, version = dataset.strip().partition("#")
    return canonical_id(head) + (f".v{version}" if version else "")


def _fix(spec: Any, where: str, uid: str, base: Path) -> Fix:
    if not isinstance(spec, Mapping) or spec.get("action") not in ACTIONS:
        raise KnownIssuesError(f"{where} needs an action, one of {', '.join(ACTIONS)}")
    action = spec["action"]
    required, optional = ACTIONS[action]
    params = {k: v for k, v in spec.items() if k != "action"}
    missing = [k for k in required if k not in params]
    unknown = sorted(set(params) - set(required) - set(optional))
    if missing or unknown:
        problem = (
            f"needs {', '.join(missing)}" if missing else f"does not take {', '.join(unknown)}"
        )
        raise KnownIssuesError(f"{where} ({action}) {problem}")
    _check_values(action, params, where)
    if action == "replace_coordinates":
        params["file"] = str((base / os.path.expanduser(params["file"])).resolve())
        params["variables"] = tuple(params["variables"])
    return Fix(action, params, uid)


def _check_values(action: str, params: dict, where: str) -> None:
    tables = {"set_attributes": "attributes", "rename_attributes": "names"}
    if action in tables and not isinstance(params[tables[action]], Mapping):
        raise KnownIssuesError(f"{where} ({action}): {tables[action]} must be a table")
    if action == "rename_attributes" and not all(
        isinstance(v, str) for v in params["names"].values()
    ):
        raise KnownIssuesError(f"{where} ({action}): names must map old names to new ones")
    if action == "set_calendar" and params["calendar"] not in CALENDARS:
        raise KnownIssuesError(
            f"{where} ({action}): calendar must be one of {', '.join(CALENDARS)}"
        )
    if action == "drop_duplicate_steps" and params.get("keep", "first") not in ("first", "last"):
        raise KnownIssuesError(f"{where} ({action}): keep must be first or last")
    if action == "replace_coordinates" and not (
        isinstance(params["variables"], Sequence) and not isinstance(params["variables"], str)
    ):
        raise KnownIssuesError(f"{where} ({action}): variables must list variable names")
    for key in ("variable", "units", "file"):
        if key in params and not (isinstance(params[key], str) and params[key]):
            raise KnownIssuesError(f"{where} ({action}): {key} must be a non-empty string")
