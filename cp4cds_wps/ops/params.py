"""Parse the subset request strings (the forms of roocs' ``rook`` service) into typed values.

Every malformed value raises :class:`~cp4cds_wps.errors.InvalidParameter` naming the input,
the value and what is wrong with it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from clisops.parameter import TimeComponents as ClisopsTimeComponents
from clisops.utils.time_utils import str_to_AnyCalendarDateTime

from cp4cds_wps.errors import InvalidParameter

__all__ = [
    "Area",
    "LevelRange",
    "TimeComponents",
    "TimeRange",
    "parse_area",
    "parse_json",
    "parse_level",
    "parse_time",
    "parse_time_components",
]

_DATETIME = re.compile(r"^\d{1,4}(-\d{1,2}(-\d{1,2}([T ]\d{1,2}(:\d{1,2}(:\d{1,2})?)?)?)?)?Z?$")
_START_DEFAULTS = [1, 1, 1, 0, 0, 0]
_END_DEFAULTS = [1, 12, 31, 23, 59, 59]
TIME_COMPONENT_NAMES = ("year", "month", "day", "hour", "minute", "second")
#: Deepest nesting of a JSON document of a request (GeoJSON and workflows need under 10).
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class TimeRange:
    """An inclusive time interval; ``None`` leaves that end open.

    Ends are ISO strings ``YYYY-MM-DDTHH:MM:SS`` completed from what the user gave: a start
    ``1990`` becomes ``1990-01-01T00:00:00`` and an end ``2000-02`` becomes
    ``2000-02-31T23:59:59``, which compares correctly in every calendar.
    """

    start: str | None
    end: str | None

    def __str__(self) -> str:
        return f"{self.start or ''}/{self.end or ''}"


@dataclass(frozen=True)
class TimeComponents:
    """Time components to keep, e.g. ``{"year": [1970, 1980], "month": [1, 2]}``."""

    components: dict[str, list[int]]

    def __str__(self) -> str:
        return "|".join(f"{k}:{','.join(map(str, v))}" for k, v in self.components.items())


@dataclass(frozen=True)
class Area:
    """A longitude/latitude box in degrees; ``west > east`` crosses the 180 degree meridian."""

    west: float
    south: float
    east: float
    north: float

    def __str__(self) -> str:
        return f"{self.west:g},{self.south:g},{self.east:g},{self.north:g}"


@dataclass(frozen=True)
class LevelRange:
    """An inclusive range of vertical coordinate values (either order); ``None`` is open."""

    first: float | None
    last: float | None

    def __str__(self) -> str:
        ends = ("" if v is None else f"{v:g}" for v in (self.first, self.last))
        return "/".join(ends)


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _split_range(text: str, name: str, example: str) -> tuple[str | None, str | None]:
    parts = [p.strip() for p in text.strip().split("/")]
    if len(parts) != 2:
        raise InvalidParameter(
            name,
            f"{text!r} must be one range 'start/end' (e.g. {example!r}); either end may be empty",
        )
    return parts[0] or None, parts[1] or None


def _parse_datetime(value: str, defaults: list[int], name: str, text: str) -> str:
    if not _DATETIME.match(value):
        raise InvalidParameter(
            name,
            f"{value!r} in {text!r} is not an ISO 8601 date or date-time "
            "(YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss)",
        )
    try:
        dt = str_to_AnyCalendarDateTime(value.rstrip("Z"), defaults=defaults)
    except ValueError as exc:
        raise InvalidParameter(name, f"{value!r} in {text!r} is not a valid date: {exc}") from exc
    return (
        f"{int(dt.year):04d}-{dt.month:02d}-{dt.day:02d}"
        f"T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )


def _time_key(iso: str) -> tuple[int, ...]:
    return tuple(int(i) for i in re.split("[-T:]", iso))


def parse_time(text: str | None, name: str = "time") -> TimeRange | None:
    """Parse a time range such as ``"1860-01-01/1900-12-30"``, ``"1990/2000"`` or ``"/2000-12"``.

    Parameters
    ----------
    text
        ``start/end`` with ISO 8601 dates or date-times (years and year-months too); either end
        may be empty. ``None``, empty or ``"/"`` means no time restriction.
    name
        The request input named in errors.

    Returns
    -------
    TimeRange or None
        The completed interval, or ``None`` when nothing restricts the time.

    Raises
    ------
    InvalidParameter
        When the text is not a range of valid dates or the start is after the end.
    """
    if _blank(text):
        return None
    start, end = _split_range(text, name, "1860-01-01/1900-12-30")
    if start is None and end is None:
        return None
    if start is not None:
        start = _parse_datetime(start, _START_DEFAULTS, name, text)
    if end is not None:
        end = _parse_datetime(end, _END_DEFAULTS, name, text)
    if start is not None and end is not None and _time_key(start) > _time_key(end):
        raise InvalidParameter(name, f"in {text!r} the start {start} is after the end {end}")
    return TimeRange(start, end)


def parse_time_components(text: str | None, name: str = "time_components") -> TimeComponents | None:
    """Parse time components such as ``"year:1970,1980|month:01,02"`` or ``"month:jan,feb"``.

    Parameters
    ----------
    text
        ``|``-separated ``component:v1,v2`` items; components are year, month (numbers or
        English month names), day, hour, minute and second. ``None`` or empty: no restriction.
    name
        The request input named in errors.

    Returns
    -------
    TimeComponents or None
        The integer values of each given component.

    Raises
    ------
    InvalidParameter
        On unknown or repeated component names, missing values or values out of range.
    """
    if _blank(text):
        return None
    components: dict[str, list[int]] = {}
    for item in text.strip().split("|"):
        key, sep, values = (part.strip() for part in item.partition(":"))
        if not sep or not values:
            raise InvalidParameter(
                name, f"{item!r} in {text!r} must be 'component:value,value' (e.g. 'month:01,02')"
            )
        if key not in TIME_COMPONENT_NAMES:
            raise InvalidParameter(
                name,
                f"unknown time component {key!r} in {text!r}; "
                f"known components are {', '.join(TIME_COMPONENT_NAMES)}",
            )
        if key in components:
            raise InvalidParameter(name, f"time component {key!r} is given twice in {text!r}")
        try:
            parsed = ClisopsTimeComponents(**{key: [v.strip() for v in values.split(",")]})
        except ValueError as exc:
            names = " or month names (jan, feb, ...)" if key == "month" else ""
            expected = f"whole numbers{names}"
            reason = str(exc) if "out of range" in str(exc) else f"expected {expected}"
            raise InvalidParameter(name, f"invalid {key} values {values!r}: {reason}") from exc
        components[key] = parsed.value[key]
    return TimeComponents(components)


def _to_float(value: str, name: str, text: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise InvalidParameter(name, f"{value!r} in {text!r} is not a number")
    return number


def parse_area(text: str | None, name: str = "area") -> Area | None:
    """Parse an area ``"W,S,E,N"`` in degrees, e.g. ``"0.,49.,10.,65"``.

    Parameters
    ----------
    text
        Four comma-separated numbers: west, south, east, north. ``west > east`` means a box
        crossing the 180 degree meridian (``"170,-10,-170,10"``, same as ``"170,-10,190,10"``).
        ``None`` or empty: no restriction.
    name
        The request input named in errors.

    Returns
    -------
    Area or None
        The box.

    Raises
    ------
    InvalidParameter
        On a wrong count of values, non-numbers, latitudes outside [-90, 90], south above
        north or longitudes outside [-360, 360].
    """
    if _blank(text):
        return None
    values = [v.strip() for v in text.strip().split(",")]
    if len(values) != 4:
        raise InvalidParameter(
            name, f"{text!r} must be 4 comma-separated numbers W,S,E,N, got {len(values)} values"
        )
    west, south, east, north = (_to_float(v, name, text) for v in values)
    for label, lat in (("south", south), ("north", north)):
        if not -90 <= lat <= 90:
            raise InvalidParameter(
                name, f"{label} latitude {lat:g} in {text!r} is outside [-90, 90]"
            )
    if south > north:
        raise InvalidParameter(name, f"in {text!r} south {south:g} is greater than north {north:g}")
    for label, lon in (("west", west), ("east", east)):
        if not -360 <= lon <= 360:
            raise InvalidParameter(
                name, f"{label} longitude {lon:g} in {text!r} is outside [-360, 360]"
            )
    return Area(west, south, east, north)


def parse_level(text: str | None, name: str = "level") -> LevelRange | None:
    """Parse a level range ``"first/last"`` (e.g. ``"1000/2000"``) or a single level ``"850"``.

    Parameters
    ----------
    text
        Values of the dataset's vertical coordinate in its units; either end may be empty,
        the order does not matter. ``None``, empty or ``"/"``: no restriction.
    name
        The request input named in errors.

    Returns
    -------
    LevelRange or None
        The range.

    Raises
    ------
    InvalidParameter
        On non-numbers or more than two values.
    """
    if _blank(text):
        return None
    if "/" in text:
        first, last = _split_range(text, name, "1000/2000")
    else:
        first = last = text.strip()
    if first is None and last is None:
        return None
    return LevelRange(
        None if first is None else _to_float(first, name, text),
        None if last is None else _to_float(last, name, text),
    )


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            todo.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(text: str, name: str, what: str = "valid JSON") -> Any:
    """Parse the JSON document given as input ``name``.

    Parameters
    ----------
    text
        The document.
    name
        The input named in errors.
    what
        What the document should be, for errors ("is not <what>: ...").

    Raises
    ------
    InvalidParameter
        When the text is not JSON (saying where), or nests lists and objects deeper than
        :data:`MAX_JSON_DEPTH` levels.
    """
    too_deep = InvalidParameter(
        name, f"nests lists and objects deeper than {MAX_JSON_DEPTH} levels, the most accepted"
    )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(
            name, f"is not {what}: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except RecursionError:  # Python's decoder gives up at about a thousand levels
        raise too_deep from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise too_deep
    return value
