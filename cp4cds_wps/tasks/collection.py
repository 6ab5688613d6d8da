"""Parsing the ``collection`` input: one or more dataset ids."""

from __future__ import annotations

from cp4cds_wps.errors import InvalidParameter, MissingParameter


def parse_collection(text: str | None, name: str = "collection") -> tuple[str, ...]:
    """Split comma (or whitespace) separated dataset ids, keeping their order.

    Raises
    ------
    MissingParameter
        When no id is given.
    InvalidParameter
        When an id is repeated.
    """
    ids = tuple(part for part in (text or "").replace(",", " ").split() if part)
    if not ids:
        raise MissingParameter(name)
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise InvalidParameter(name, f"dataset id given more than once: {', '.join(repeated)}")
    return ids
