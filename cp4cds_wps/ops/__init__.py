"""Data operations on lazy xarray Datasets: open a dataset's files, parse and apply subsets."""

from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.params import (
    Area,
    LevelRange,
    TimeComponents,
    TimeRange,
    parse_area,
    parse_level,
    parse_time,
    parse_time_components,
)
from cp4cds_wps.ops.subset import subset

__all__ = [
    "Area",
    "LevelRange",
    "TimeComponents",
    "TimeRange",
    "open_dataset",
    "parse_area",
    "parse_level",
    "parse_time",
    "parse_time_components",
    "subset",
]
