"""A synthetic multi-file daily dataset stored like archive files, generated once and cached.

The dataset is one variable, ``tas`` (float32, K), on a global regular latitude/longitude grid
(longitudes 0..360 like CMIP grids, so that a European area crosses the grid's seam), in
yearly files of daily steps with CF time bounds. As in the archive's files, every time step
is one netCDF chunk, compressed with zlib level 1 and shuffle. Values are a smooth
climatology with a seasonal cycle plus float32 noise, which compresses about as well as real
model output (to about 60 % of its size).

The grid is sized so that about ``FILES`` yearly files fill the requested size on disk;
files are added until the size is reached. Each file is written step batch by step batch,
so generating never holds more than a few fields in memory. A short variant (``days``) holds
only the first days of each year, on a grid sized to fill the same size: the quick runs'
data, whose cost per time step (for every method) stays small.
"""

from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import netCDF4
import numpy as np

__all__ = ["FIRST_YEAR", "FILES", "SyntheticDataset", "ensure_dataset"]

#: First year of the data.
FIRST_YEAR = 1990
#: Number of yearly files aimed at (fewer for small sizes, more if the size is not reached).
FILES = 20
#: Fewest files: the dataset is always multi-file.
MIN_FILES = 2
#: Bytes on disk per value, as measured for this generator (float32, zlib 1, shuffle).
DISK_BYTES_PER_VALUE = 4 * 0.6
#: Steps written per netCDF call (the chunks on disk still hold one step).
WRITE_BATCH = 16
#: Name of the file describing a complete dataset in its folder.
MANIFEST = "dataset.json"
#: Time units of the files.
TIME_UNITS = "days since 1850-01-01"
CALENDAR = "standard"


@dataclass(frozen=True)
class SyntheticDataset:
    """A generated dataset: its files and what they hold.

    Attributes
    ----------
    folder
        Where the files are.
    files
        The netCDF file names, in time order.
    nlat, nlon
        Grid size (the resolution is ``180 / nlat`` degrees).
    steps
        Number of daily time steps in all files.
    disk_bytes
        Total size of the files.
    generation_seconds
        How long writing the files took (when they were generated, maybe earlier).
    days
        Days from 1 January in each file (None: the whole year).
    """

    folder: str
    files: list[str]
    nlat: int
    nlon: int
    steps: int
    disk_bytes: int
    generation_seconds: float
    days: int | None = None

    @property
    def paths(self) -> list[Path]:
        """The files' full paths, in time order."""
        return [Path(self.folder) / name for name in self.files]

    @property
    def glob(self) -> str:
        """A glob pattern matching exactly the files."""
        return str(Path(self.folder) / "tas_day_*.nc")

    @property
    def years(self) -> list[int]:
        """The years covered, one per file."""
        return [FIRST_YEAR + i for i in range(len(self.files))]

    @property
    def resolution(self) -> float:
        """Grid spacing in degrees."""
        return 180.0 / self.nlat


def ensure_dataset(
    cache_dir: Path, size_gb: float, *, days: int | None = None, workers: int | None = None
) -> tuple[SyntheticDataset, bool]:
    """Return the dataset of (at least) ``size_gb`` GB in ``cache_dir``, generating it if needed.

    Parameters
    ----------
    cache_dir
        Folder of cached datasets; the dataset goes into a sub-folder named for its size.
    size_gb
        Smallest total size of the files on disk, in GB (10**9 bytes).
    days
        Days from 1 January in each yearly file (at most 365; default: the whole year).
    workers
        Processes writing files in parallel (default: one per CPU).

    Returns
    -------
    tuple of (SyntheticDataset, bool)
        The dataset and whether it was generated now (``False``: found in the cache).
    """
    folder = Path(cache_dir) / (f"data-{size_gb:g}gb" + (f"-{days}d" if days else ""))
    manifest = folder / MANIFEST
    if manifest.is_file():
        return SyntheticDataset(**json.loads(manifest.read_text())), False
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.nc"):
        stale.unlink()
    target = size_gb * 1e9
    nfiles = max(MIN_FILES, min(FILES, math.ceil(size_gb * FILES / 4)))
    nlat = _grid_rows(target, nfiles * (days or 365.25))
    started = time.perf_counter()
    files: list[str] = []
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        batch = range(nfiles)
        while batch:
            years = [FIRST_YEAR + i for i in batch]
            files += pool.map(
                _write_year, [folder] * len(years), years, [nlat] * len(years), [days] * len(years)
            )
            size = sum((folder / name).stat().st_size for name in files)
            missing = math.ceil((target - size) / (size / len(files))) if size < target else 0
            batch = range(len(files), len(files) + missing)
    dataset = SyntheticDataset(
        folder=str(folder),
        files=files,
        nlat=nlat,
        nlon=2 * nlat,
        steps=sum(days or _days_in(FIRST_YEAR + i) for i in range(len(files))),
        disk_bytes=size,
        generation_seconds=round(time.perf_counter() - started, 1),
        days=days,
    )
    manifest.write_text(json.dumps(asdict(dataset), indent=1))
    return dataset, True


def _grid_rows(target_bytes: float, steps: float) -> int:
    """Latitude rows of a global grid (twice as many longitudes) filling the target size."""
    values_per_step = target_bytes / (DISK_BYTES_PER_VALUE * steps)
    return max(4, round(math.sqrt(values_per_step / 2)))


def _days_in(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _write_year(folder: Path, year: int, nlat: int, days: int | None = None) -> str:
    """Write one year of daily data (its first ``days``); return the file name."""
    days = days or _days_in(year)
    last = date(year, 1, 1) + timedelta(days=days - 1)
    name = f"tas_day_SYNTH_historical_r1i1p1f1_gn_{year}0101-{last:%Y%m%d}.nc"
    partial = folder / f".{name}.part"
    nlon = 2 * nlat
    resolution = 180.0 / nlat
    lat = -90 + resolution * (np.arange(nlat) + 0.5)
    lon = resolution * (np.arange(nlon) + 0.5)
    first_day = (date(year, 1, 1) - date(1850, 1, 1)).days
    with netCDF4.Dataset(partial, "w", format="NETCDF4") as nc:
        _write_coordinates(nc, lat, lon, resolution, first_day, days)
        tas = nc.createVariable(
            "tas",
            "f4",
            ("time", "lat", "lon"),
            zlib=True,
            complevel=1,
            shuffle=True,
            chunksizes=(1, nlat, nlon),
            fill_value=np.float32(1e20),
        )
        tas.setncatts(
            {
                "standard_name": "air_temperature",
                "long_name": "Near-Surface Air Temperature",
                "units": "K",
                "cell_methods": "area: time: mean",
            }
        )
        nc.setncatts(
            {
                "Conventions": "CF-1.8",
                "title": "Synthetic daily near-surface air temperature for benchmarks",
                "frequency": "day",
                "history": f"{date.today().isoformat()} generated by benchmarks.dataset",
            }
        )
        rng = np.random.default_rng(year)
        climate = (273.15 + 30 * np.cos(np.deg2rad(lat)))[:, None] + 3 * np.cos(np.deg2rad(lon))[
            None, :
        ]
        seasons = -12 * np.sin(np.deg2rad(lat))[:, None]
        for start in range(0, days, WRITE_BATCH):
            steps = np.arange(start, min(start + WRITE_BATCH, days))
            cycle = np.cos(2 * np.pi * (steps - 15) / 365.25)[:, None, None]
            noise = rng.standard_normal((steps.size, nlat, nlon), dtype=np.float32)
            tas[steps[0] : steps[-1] + 1] = (climate + seasons * cycle).astype("f4") + 2 * noise
    partial.replace(folder / name)
    return name


def _write_coordinates(nc, lat, lon, resolution, first_day: int, days: int) -> None:
    for dim, size in (("time", None), ("lat", lat.size), ("lon", lon.size), ("bnds", 2)):
        nc.createDimension(dim, size)
    steps = first_day + np.arange(days, dtype="f8")
    axes = {
        "time": (
            steps + 0.5,
            steps,
            {"standard_name": "time", "units": TIME_UNITS, "calendar": CALENDAR, "axis": "T"},
        ),
        "lat": (
            lat,
            lat - resolution / 2,
            {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
        ),
        "lon": (
            lon,
            lon - resolution / 2,
            {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
        ),
    }
    for name, (values, lower, attrs) in axes.items():
        var = nc.createVariable(name, "f8", (name,))
        var.setncatts({**attrs, "bounds": f"{name}_bnds"})
        var[:] = values
        step = 1.0 if name == "time" else resolution
        bounds = nc.createVariable(f"{name}_bnds", "f8", (name, "bnds"))
        bounds[:] = np.stack([lower, lower + step], axis=1)
