"""Versions of the software that produced an output, for provenance."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("cp4cds-wps", "clisops", "xarray", "dask", "cftime", "netCDF4", "numpy")


@cache
def software_versions() -> dict[str, str]:
    """Return ``{package: version}`` of the packages that shape an output."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    return versions
