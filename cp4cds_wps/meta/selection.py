"""A partial selection of data, as a client sends it: facet values plus time, area and level.

The same form comes from the meta-WPS process ``resolve`` (one input per key), from
``/api/constraints`` (query parameters or a JSON object) and from Python callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import drs

#: Keys of a selection that are not facets.
OPTIONS = ("time", "area", "level", "process")
#: Other names accepted for facets (ESGF search and CMIP6 global attribute names).
ALIASES = {
    "activity_id": "activity",
    "institution_id": "institute",
    "institution": "institute",
    "source_id": "model",
    "experiment_id": "experiment",
    "member_id": "member",
    "ensemble": "member",
    "variant_label": "member",
    "table_id": "table",
    "cmor_table": "table",
    "variable_id": "variable",
    "grid_label": "grid",
    "time_frequency": "frequency",
    "rcm_name": "model",
    "driving_model_id": "driving_model",
    "cordex_domain": "domain",
}


@dataclass(frozen=True)
class Selection:
    """Facet values chosen so far (several values of one facet: any of them) and options.

    ``facets`` maps facet names (aliases resolved) to the values given, in order.
    """

    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    time: str | None = None
    area: str | None = None
    level: str | None = None
    process: str | None = None


def _items(raw: object) -> list[str]:
    """A parameter's values as text: one value, or each of a list."""
    items = raw if isinstance(raw, list | tuple) else [raw]
    return [str(item).strip() for item in items if item is not None and str(item).strip()]


def _values(raw: object) -> tuple[str, ...]:
    values = [part.strip() for item in _items(raw) for part in item.split(",")]
    return tuple(dict.fromkeys(v for v in values if v))


def _text(raw: object, name: str) -> str | None:
    items = _items(raw)
    if len(items) > 1:
        raise InvalidParameter(name, f"give one value, not {len(items)}")
    return items[0] if items else None


def parse_selection(params: Mapping[str, object]) -> Selection:
    """Turn request parameters into a :class:`Selection`.

    Parameters
    ----------
    params
        Facet names (or :data:`ALIASES`) to values: a string (commas separate several values)
        or a list of strings; ``time``, ``area``, ``level`` and ``process`` as single strings;
        ``collection`` a dataset id, whose facets are selected (without version: any
        version).

    Returns
    -------
    Selection

    Raises
    ------
    InvalidParameter
        When ``collection`` is not a dataset id or an option is given more than once.
    """
    facets: dict[str, tuple[str, ...]] = {}
    options: dict[str, str | None] = {}
    for key, raw in params.items():
        name = key.strip().lower()
        if name in OPTIONS:
            options[name] = _text(raw, name)
        elif name == "collection":
            dataset_id = _text(raw, name)
            if dataset_id:
                facets.update(_id_facets(dataset_id))
        else:
            name = ALIASES.get(name, name)
            values = _values(raw)
            if values:
                facets[name] = tuple(dict.fromkeys(facets.get(name, ()) + values))
    return Selection(facets=facets, **options)


def _id_facets(dataset_id: str) -> dict[str, tuple[str, ...]]:
    try:
        facets = drs.parse_id(dataset_id)
    except ValueError as err:
        raise InvalidParameter("collection", str(err)) from err
    if facets.get("version") == "latest":
        del facets["version"]
    return {name: (value,) for name, value in facets.items()}
