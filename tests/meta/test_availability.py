"""The availability matrix on the real archive, against the inventory's records."""

from __future__ import annotations

import csv
import io
from collections import Counter

import matplotlib.image
import numpy as np
import pytest

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.meta.availability import availability
from cp4cds_wps.meta.selection import parse_selection

pytestmark = pytest.mark.realdata


@pytest.mark.parametrize(
    ("rows", "columns", "params"),
    [
        ("model", "variable", {"experiment": "historical"}),
        ("experiment", "variable", {"model": "MPI-ESM1-2-LR"}),
        ("project", "frequency", {}),
    ],
)
def test_counts_equal_the_inventory_records(inventory, rows, columns, params):
    found = availability(inventory, rows, columns, parse_selection(params))
    records = [d for d in inventory.list() if all(d.facets.get(k) == v for k, v in params.items())]
    expected = Counter((d.facets[rows], d.facets[columns]) for d in records if rows in d.facets)
    counted = {
        (found.row_values[i], found.column_values[j]): int(n)
        for (i, j), n in np.ndenumerate(found.counts)
        if n
    }
    assert counted == dict(expected)
    assert list(found.row_values) == sorted({r for r, _ in expected})
    assert list(found.column_values) == sorted({c for _, c in expected})


def test_csv_json_and_heatmap(inventory, tmp_path):
    found = availability(
        inventory, "model", "variable", parse_selection({"experiment": "historical"})
    )
    table = list(csv.reader(io.StringIO(found.to_csv())))
    assert table[0] == ["model\\variable", *found.column_values]
    assert [row[0] for row in table[1:]] == list(found.row_values)
    assert [[int(n) for n in row[1:]] for row in table[1:]] == found.counts.tolist()
    data = found.to_dict()
    assert data["selection"] == {"experiment": ["historical"]}
    historical = [  # datasets without a model (the Atlas) are not counted
        d
        for d in inventory.list()
        if d.facets.get("experiment") == "historical" and "model" in d.facets
    ]
    assert data["datasets"] == int(found.counts.sum()) == len(historical)
    image = matplotlib.image.imread(found.plot(tmp_path / "map.png"))
    assert image.shape[0] > 300 and image.shape[1] > 300


@pytest.mark.parametrize(
    ("rows", "columns", "params", "name", "text"),
    [
        ("modle", "variable", {}, "rows", "unknown facet 'modle'"),
        ("model", "model", {}, "columns", "rows and columns are both 'model'"),
        ("model", "variable", {"experiment": "histroical"}, "experiment", "no dataset has"),
    ],
)
def test_errors_name_the_input(inventory, rows, columns, params, name, text):
    with pytest.raises(InvalidParameter) as err:
        availability(inventory, rows, columns, parse_selection(params))
    assert err.value.name == name and text in err.value.reason
