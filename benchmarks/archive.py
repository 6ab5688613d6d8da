"""The real-archive set: datasets of each grid type, found through the service's inventory.

The archive's files are small (reduced grids) but hold long daily or monthly series stored
one time step per netCDF chunk, so they measure the cost per time step and per file that
every method pays on real data, and whether a method copes with the grid type at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Dataset, Inventory
from cp4cds_wps.inventory.drs import version_key

__all__ = ["CASES", "ArchiveCase", "ArchiveDataset", "find_datasets"]


@dataclass(frozen=True)
class ArchiveCase:
    """A grid type and the dataset ids (shell patterns) standing for it.

    Attributes
    ----------
    grid
        The grid type: ``regular``, ``curvilinear`` or ``rotated-pole``.
    pattern
        The dataset of the full run.
    small_pattern
        A smaller dataset of the same grid type (quick runs; operations whose output grows
        with every time step).
    """

    grid: str
    pattern: str
    small_pattern: str


#: The real-archive set.
CASES = (
    ArchiveCase(
        "regular",
        # 16 decade files of daily data, 1850-2009, standard calendar
        "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.*",
        # one file, 10 years of daily data, noleap calendar
        "CMIP6.CMIP.NCAR.CESM2-WACCM.historical.r1i1p1f1.day.tas.gn.*",
    ),
    ArchiveCase(
        "curvilinear",
        # monthly sea ice, 1850-2014, 2 files, cell areas in the Ofx areacello dataset
        "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.SImon.siconc.gn.*",
        "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.SImon.siconc.gn.*",
    ),
    ArchiveCase(
        "rotated-pole",
        # 10 files of daily data, 2006-2099
        "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.*",
        # 2 files, 10 years of daily data
        "cordex.output.EUR-11.IPSL.IPSL-IPSL-CM5A-MR.rcp85.r1i1p1.IPSL-WRF381P.v1.day.zg500.*",
    ),
)


@dataclass(frozen=True)
class ArchiveDataset:
    """A dataset of the real-archive set, as the benchmark's jobs need it.

    Attributes
    ----------
    label
        Short name in the table, ``<grid type>:<model>.<variable>``.
    operations
        The operations run on it.
    grid
        The grid type.
    id
        The dataset id.
    variable
        Its data variable.
    frequency
        ``day``, ``mon``, ...
    files
        Its files in time order.
    glob
        A glob pattern matching exactly its files, or ``""`` when there is none (clisops
        takes one string).
    steps
        Number of time steps.
    """

    label: str
    operations: tuple[str, ...]
    grid: str
    id: str
    variable: str
    frequency: str
    files: tuple[str, ...]
    glob: str
    steps: int


def find_datasets(
    operations: Mapping[str, tuple[str, ...]],
) -> tuple[list[ArchiveDataset], list[str]]:
    """The real-archive set in the configured archive (scanned into the inventory if needed).

    Parameters
    ----------
    operations
        The operations to run on each case's dataset (key ``pattern``) and on its smaller
        one (``small_pattern``); a dataset that is both gets both.

    Returns
    -------
    tuple of (list of ArchiveDataset, list of str)
        The datasets found, and why any case has none (no archive, no such dataset).
    """
    settings = load_settings()
    if not any(root.path.is_dir() for root in settings.roots):
        return [], [f"no archive at {settings.base_dir} (set CP4CDS_WPS_ARCHIVE__BASE_DIR)"]
    inventory = Inventory.from_settings(settings)
    inventory.ensure_scanned()
    found: dict[str, ArchiveDataset] = {}
    missing = []
    for case in CASES:
        for field, wanted in operations.items():
            pattern = getattr(case, field)
            versions = inventory.list(pattern)
            if not versions:
                missing.append(f"{case.grid}: no dataset {pattern} in the inventory")
                continue
            dataset = max(versions, key=lambda d: version_key(d.version))
            before = found.get(dataset.id)
            wanted = (*before.operations, *wanted) if before else wanted
            found[dataset.id] = _archive_dataset(case, dataset, wanted)
    return list(found.values()), missing


def _archive_dataset(
    case: ArchiveCase, dataset: Dataset, operations: tuple[str, ...]
) -> ArchiveDataset:
    paths = [f.path for f in dataset.files]
    return ArchiveDataset(
        label=f"{case.grid}:{dataset.facets.get('model', '?')}.{dataset.variable}",
        operations=operations,
        grid=case.grid,
        id=dataset.id,
        variable=dataset.variable or "",
        frequency=dataset.facets.get("frequency", ""),
        files=tuple(str(p) for p in paths),
        glob=_glob(paths, dataset.variable or ""),
        steps=sum(f.n_times for f in dataset.files),
    )


def _glob(paths: list[Path], variable: str) -> str:
    """``<folder>/<variable>_*.nc`` if that matches exactly ``paths``, else ``""``."""
    folders = {p.parent for p in paths}
    if len(folders) != 1:
        return ""
    pattern = folders.pop() / f"{variable}_*.nc"
    return str(pattern) if sorted(pattern.parent.glob(pattern.name)) == sorted(paths) else ""
