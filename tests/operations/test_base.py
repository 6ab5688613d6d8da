"""Parsing shared by the operations."""

from __future__ import annotations

import pytest

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.operations.base import parse_flag


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), (True, True), (False, False), ("TRUE", True), ("1", True), ("0", False),
     ("false", False), ("", False)],
)  # fmt: skip
def test_flags_are_booleans_or_their_text(value, expected):
    assert parse_flag(value, "original_files") is expected


def test_other_text_is_refused_naming_the_input():
    with pytest.raises(InvalidParameter) as err:
        parse_flag("maybe", "apply_average")
    assert str(err.value) == "apply_average: 'maybe' is not true or false"
