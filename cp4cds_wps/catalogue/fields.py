"""Form fields of the request builder, offering only the choices a dataset allows.

Inputs made of parts have a field per part, composed into the text the WPS takes:
``time`` from ``time_from`` and ``time_to`` (years of the dataset's time range),
``level`` from ``level_first`` and ``level_last`` (its levels), ``area`` from
``area_west``, ``area_south``, ``area_east``, ``area_north`` (within its extent). The
whole input may be given instead (``?time=1990/2000``, e.g. in a link).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from pywps import LiteralInput

from cp4cds_wps.ops.average import DIMS

#: The parts of composed inputs, and how they are joined.
PARTS = {
    "time": (("time_from", "time_to"), "/"),
    "level": (("level_first", "level_last"), "/"),
    "area": (("area_west", "area_south", "area_east", "area_north"), ","),
}
#: Longest time range (years) offered as choices of years; longer ones are typed.
MAX_YEARS = 1000


def _first(args: Mapping, name: str) -> str:
    values = args.get(name) or [""]
    return str(values[0]).strip()


def composed(args: Mapping) -> dict[str, str]:
    """The composed inputs (``time``, ``level``, ``area``) of the form's fields."""
    found = {}
    for name, (parts, sep) in PARTS.items():
        values = [_first(args, part) for part in parts]
        if any(values):
            if name == "area" and not all(values):
                continue  # an area needs all four sides
            found[name] = sep.join(values)
        elif _first(args, name):
            found[name] = _first(args, name)
    return found


def _field(label: str, control: str, name: str, note: str = "") -> str:
    extra = f'<div class="note">{escape(note)}</div>' if note else ""
    return (
        f'<div class="field" data-input="{escape(name)}"><label for="{escape(name)}">'
        f"{escape(label)}</label> {control}{extra}</div>"
    )


def hidden(name: str, value: str) -> str:
    """A hidden field."""
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def select(
    name: str, label: str, options: Sequence[tuple[str, str]], chosen: str, note: str = ""
) -> str:
    """A select of (value, text) options that sends the form again when changed."""
    items = "".join(
        f'<option value="{escape(v)}"{" selected" if v == chosen else ""}>{escape(t)}</option>'
        for v, t in options
    )
    control = f'<select id="{escape(name)}" name="{escape(name)}" data-autosubmit>{items}</select>'
    return _field(label, control, name, note)


def text(name: str, label: str, value: str, size: int = 40, note: str = "") -> str:
    """A text field."""
    control = (
        f'<input type="text" id="{escape(name)}" name="{escape(name)}" value="{escape(value)}" '
        f'size="{size}">'
    )
    return _field(label, control, name, note)


def textarea(name: str, label: str, args: Mapping, note: str = "") -> tuple[str, str]:
    """A text area (GeoJSON, JSON workflows); returns the field and its value."""
    value = _first(args, name)
    control = (
        f'<textarea id="{escape(name)}" name="{escape(name)}" rows="4" cols="80">'
        f"{escape(value)}</textarea>"
    )
    return _field(label, control, name, note), value


def _time(args: Mapping, time: dict | None) -> tuple[str, str]:
    if not time:
        return '<div class="field note">The dataset has no time axis.</div>', ""
    first, last = int(time["start"][:4]), int(time["end"][:4])
    if last - first > MAX_YEARS:
        value = _first(args, "time")
        note = f"start/end within {time['start']} to {time['end']} ({time['calendar']})"
        return text("time", "time", value, note=note), value
    years = [("", "open")] + [(str(y), str(y)) for y in range(first, last + 1)]
    chosen = composed(args).get("time", "").split("/")
    start, end = (chosen + [""])[:2]
    note = f"{time['start']} to {time['end']}, {time['calendar']} calendar, {time['steps']:,} steps"
    html = select("time_from", "time from year", years, start[:4]) + select(
        "time_to", "time to year", years, end[:4], note=note
    )
    return html, composed(args).get("time", "")


def _level(args: Mapping, levels: dict | None) -> tuple[str, str]:
    if not levels:
        return '<div class="field note">The dataset has no vertical axis.</div>', ""
    options = [("", "all")] + [(f"{v:g}", f"{v:g}") for v in levels["values"]]
    chosen = (composed(args).get("level", "").split("/") + [""])[:2]
    note = f"{levels['name']} in {levels['units'] or 'no units'}"
    html = select("level_first", "first level", options, chosen[0]) + select(
        "level_last", "last level", options, chosen[1], note=note
    )
    return html, composed(args).get("level", "")


def _area(args: Mapping, grid: dict | None) -> tuple[str, str]:
    extent = (grid or {}).get("extent") or {}
    parts = []
    given = composed(args).get("area", "").split(",")
    sides = (("west", -360, 360), ("south", -90, 90), ("east", -360, 360), ("north", -90, 90))
    for i, (side, low, high) in enumerate(sides):
        value = given[i] if len(given) == 4 else ""
        parts.append(
            f'<input type="number" step="any" min="{low}" max="{high}" name="area_{side}" '
            f'id="area_{side}" value="{escape(value)}" placeholder="{side}" size="8" '
            f'aria-label="{side}">'
        )
    note = "degrees; leave empty for the whole grid"
    if extent:
        note = (
            f"the grid spans longitude {extent['west']:g} to {extent['east']:g}, latitude "
            f"{extent['south']:g} to {extent['north']:g}; {note}"
        )
    return _field("area (W, S, E, N)", " ".join(parts), "area", note), composed(args).get(
        "area", ""
    )


def _dims(args: Mapping, described: dict) -> tuple[str, str]:
    has = {
        "time": described.get("time") is not None,
        "level": described.get("levels") is not None,
        "latitude": described.get("grid") is not None,
        "longitude": described.get("grid") is not None,
        "realization": False,
    }
    chosen = [v for item in args.get("dims", []) for v in str(item).split(",") if v]
    boxes = "".join(
        f'<label class="check"><input type="checkbox" name="dims" value="{d}" data-autosubmit'
        f"{' checked' if d in chosen else ''}> {d}</label> "
        for d in DIMS
        if has[d]
    )
    value = ",".join(d for d in DIMS if d in chosen and has[d])
    return _field("dims", boxes, "dims", "the axes of the dataset to average over"), value


def literal(put: LiteralInput, args: Mapping, described: dict | None) -> tuple[str, str]:
    """The field of a literal input and its value as text: the dataset's choices for
    ``time``, ``level``, ``area`` and ``dims``, the allowed values of other inputs."""
    name = put.identifier
    if described is not None and name in ("time", "level", "area", "dims"):
        if name == "time":
            return _time(args, described["time"])
        if name == "level":
            return _level(args, described["levels"])
        if name == "area":
            return _area(args, described["grid"])
        return _dims(args, described)
    value = _first(args, name)
    if put.data_type == "boolean":
        checked = " checked" if value.lower() in ("true", "1", "on") else ""
        control = (
            f'<input type="checkbox" id="{escape(name)}" name="{escape(name)}" value="true"'
            f"{checked} data-autosubmit>"
        )
        return _field(put.title, control, name, put.abstract), "true" if checked else ""
    allowed = [str(a.value) for a in put.allowed_values if getattr(a, "value", None) is not None]
    if allowed:
        options = [("", "default" if put.min_occurs == 0 else "choose")]
        options += [(v, v) for v in allowed]
        value = value if value in allowed else ""
        return select(name, put.title, options, value, note=put.abstract), value
    return text(name, put.title, value, note=put.abstract), value
