"""``python -m benchmarks.meta_resolve``: latency of the meta-WPS ``resolve`` over 1M datasets.

Builds a synthetic inventory (an inventory SQLite database like a scan writes, without files)
of CMIP6 datasets with realistic facet cardinalities and skew: about 20 activities, 50
institutes, 130 models, 300 experiments, 200 members, 15 frequencies, 40 tables, 1000
variables and 10 grids, models tied to institutes, experiments to activities, variables to
tables and tables to frequencies and realms, popular values far more common than rare ones
(Zipf-like). Then it

1. builds the facet index from the database, as the first request after a scan does;
2. loads the saved index in a fresh process, as every other server process does, and
   reports its time and memory;
3. times :func:`cp4cds_wps.meta.resolve.resolve` plus JSON encoding (the whole answer of
   ``/api/constraints`` without HTTP) for selections of 0 to 4 facets drawn from random
   datasets (so each selection matches something), and prints p50/p95/p99 per count.

The database is kept in ``--dir`` and reused while it holds ``--datasets`` datasets.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Inventory, drs
from cp4cds_wps.meta.resolve import resolve
from cp4cds_wps.meta.selection import Selection

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / "var" / "bench" / "meta-resolve"
#: Facets a selection is drawn from (those a user picks; the others follow from them).
PICKED = (
    "activity",
    "institute",
    "model",
    "experiment",
    "member",
    "frequency",
    "table",
    "variable",
    "grid",
)
TARGET = 0.050
_BATCH = 50_000
#: The columns a scan fills (the quality control's keep their defaults: pending).
_INSERT = (
    "INSERT INTO datasets (id, base_id, project, version, variable, start_time, end_time, "
    f"calendar, size, facets, issues) VALUES ({', '.join('?' * 11)})"
)


def _zipf(n: int, s: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return weights / weights.sum()


def synthetic_rows(n: int, seed: int = 1):
    """Yield the facets of ``n`` distinct synthetic CMIP6 datasets."""
    rng = np.random.default_rng(seed)
    # every institute, activity and frequency has a model, experiment and table
    institute_of = np.concatenate([np.arange(50), rng.integers(0, 50, 80)])
    activity_of = np.concatenate([np.arange(20), rng.integers(0, 20, 280)])
    frequencies = ["mon", "day", "fx", "3hr", "6hr", "1hr", "yr", "dec", "monC", "subhrPt"]
    frequencies += ["1hrCM", "3hrPt", "6hrPt", "1hrPt", "monPt"]
    frequency_of = np.concatenate([np.arange(15), rng.choice(15, 25, p=_zipf(15, 1.3))])
    realm_of = rng.integers(0, 8, 40)
    realms = ["atmos", "ocean", "land", "seaIce", "landIce", "aerosol", "atmosChem", "ocnBgchem"]
    tables_of = [
        rng.choice(40, rng.integers(1, 4), replace=False, p=_zipf(40, 0.8)) for _ in range(1000)
    ]
    seen: set[tuple] = set()
    while len(seen) < n:
        size = min(_BATCH, 2 * (n - len(seen)))
        model = rng.choice(130, size, p=_zipf(130, 0.8))
        experiment = rng.choice(300, size, p=_zipf(300, 1.0))
        variable = rng.choice(1000, size, p=_zipf(1000, 0.9))
        member = rng.choice(200, size, p=_zipf(200, 1.6))
        grid = rng.choice(10, size, p=_zipf(10, 1.5))
        version = rng.integers(0, 2000, size)
        pick = rng.random(size)
        for m, e, v, r, g, ver, p in zip(
            model.tolist(), experiment.tolist(), variable.tolist(), member.tolist(),
            grid.tolist(), version.tolist(), pick.tolist(), strict=True,
        ):  # fmt: skip
            tables = tables_of[v]
            t = int(tables[int(p * len(tables))])
            key = (m, e, r, t, v, g)
            if key in seen or len(seen) >= n:
                continue
            seen.add(key)
            facets = {
                "project": "cmip6",
                "activity": f"MIP{activity_of[e]:02d}",
                "institute": f"INST{institute_of[m]:02d}",
                "model": f"MODEL-{m:03d}",
                "experiment": f"exp{e:03d}",
                "member": f"r{r + 1}i1p1f1",
                "table": f"T{t:02d}{frequencies[frequency_of[t]]}",
                "variable": f"var{v:04d}",
                "grid": "gn" if g == 0 else f"gr{g}",
                "version": f"v2019{ver // 100 + 1:02d}{ver % 100 + 1:02d}",
                "frequency": frequencies[frequency_of[t]],
                "realm": realms[realm_of[t]],
                "sub_experiment": "none",
            }
            yield facets


def build_database(db: Path, n: int) -> float:
    """Write ``n`` synthetic datasets into a fresh inventory database; return seconds."""
    began = time.perf_counter()
    for path in db.parent.glob(f"{db.name}*"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    inventory = Inventory(db, ())
    inventory.count()  # creates the schema
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        rows = []
        for facets in synthetic_rows(n):
            dataset_id = drs.build_id(facets)
            rows.append(
                (
                    dataset_id,
                    drs.build_id(facets, with_version=False),
                    "cmip6",
                    facets["version"],
                    facets["variable"],
                    "1850-01-16T12:00:00",
                    "2014-12-16T12:00:00",
                    "noleap",
                    123_456_789,
                    json.dumps(facets, sort_keys=True),
                    "[]",
                )
            )
            if len(rows) == _BATCH:
                conn.executemany(_INSERT, rows)
                rows = []
        conn.executemany(_INSERT, rows)
        conn.execute("UPDATE state SET value = 1 WHERE key = 'generation'")
    return time.perf_counter() - began


def synthetic_inventory(folder: Path, n: int) -> Inventory:
    """The inventory of ``<folder>/inventory.sqlite``, written (and its facet index removed)
    unless it holds ``n`` datasets."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "inventory.sqlite"
    inventory = Inventory(db, ())
    if not db.exists() or inventory.count() != n:
        print(f"writing {n:,} synthetic datasets to {db} ...", flush=True)
        print(f"  database written in {build_database(db, n):.1f} s", flush=True)
        for old in inventory.index_dir.glob("g*"):  # of the database before
            shutil.rmtree(old)
    return inventory


def _rss_mb() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def load_report(db: Path) -> dict:
    """Load the saved index as a fresh server process does (run in a child process)."""
    before = _rss_mb()
    began = time.perf_counter()
    index = Inventory(db, ()).facet_index()
    seconds = time.perf_counter() - began
    for name in index.names:  # touch every column once, as the first requests do
        int(index.column(name).sum())
    after = _rss_mb()
    return {
        "seconds": seconds,
        "rss_mb": after["VmRSS"] - before["VmRSS"],
        "rss_anon_mb": after["RssAnon"] - before["RssAnon"],
        "rss_file_mb": after["RssFile"] - before["RssFile"],
    }


def selections(index, count: int, per_k: int, seed: int = 2) -> list[tuple[int, Selection]]:
    """``per_k`` selections of each size 0..``count`` from random datasets' facets."""
    rng = np.random.default_rng(seed)
    found = []
    for k in range(count + 1):
        for _ in range(per_k):
            facets = index.facets_of(int(rng.integers(index.size)))
            names = rng.choice(PICKED, size=k, replace=False)
            found.append((k, Selection(facets={n: (facets[n],) for n in names})))
    rng.shuffle(found)
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.meta_resolve")
    parser.add_argument("--datasets", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=400, help="resolve calls per facet count")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    db = args.dir / "inventory.sqlite"
    if args.load_only:
        print(json.dumps(load_report(db)))
        return 0

    inventory = synthetic_inventory(args.dir, args.datasets)
    for old in inventory.index_dir.glob("g*"):
        shutil.rmtree(old)
    began = time.perf_counter()
    index = inventory.facet_index()
    build = time.perf_counter() - began
    disk = sum(p.stat().st_size for p in inventory.index_dir.rglob("*") if p.is_file())
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.meta_resolve", "--load-only", "--dir", str(args.dir)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    load = json.loads(child.stdout)
    cards = {name: len(index.values[name]) - 1 for name in index.names}
    print(f"datasets: {index.size:,}; distinct values: {cards}")
    print(f"index build from the database (once per scan): {build:.1f} s, {disk / 2**20:.0f} MiB")
    print(
        f"index load in a fresh process: {load['seconds'] * 1000:.0f} ms; memory after touching "
        f"every column {load['rss_mb']:.0f} MiB ({load['rss_file_mb']:.0f} MiB shared page "
        f"cache, {load['rss_anon_mb']:.0f} MiB private)"
    )
    settings = load_settings(env={"CP4CDS_WPS_PATHS__VAR_DIR": str(args.dir)})
    calls = selections(index, 4, args.calls)
    gc.collect()
    for _, selection in calls[:50]:  # warm the page cache and the code paths
        resolve(inventory, selection, settings)
    times: dict[int, list[float]] = {k: [] for k in range(5)}
    matches: dict[int, list[int]] = {k: [] for k in range(5)}
    for k, selection in calls:
        began = time.perf_counter()
        answer = resolve(inventory, selection, settings)
        json.dumps(answer)
        times[k].append(time.perf_counter() - began)
        matches[k].append(answer["matches"])
    header = ("facets", "calls", "matches (median)", "p50 ms", "p95 ms", "p99 ms")
    print("{:>6} {:>6} {:>16} {:>8} {:>8} {:>8}".format(*header))
    everything = []
    for k, values in times.items():
        p50, p95, p99 = np.percentile(np.array(values) * 1000, [50, 95, 99])
        everything += values
        median = int(np.median(matches[k]))
        print(f"{k:>6} {len(values):>6} {median:>16,} {p50:8.2f} {p95:8.2f} {p99:8.2f}")
    p50, p95, p99 = np.percentile(np.array(everything) * 1000, [50, 95, 99])
    verdict = "meets" if p95 / 1000 < TARGET else "MISSES"
    print(f"{'all':>6} {len(everything):>6} {'':>16} {p50:8.2f} {p95:8.2f} {p99:8.2f}")
    load_average = os.getloadavg()[0]
    target = TARGET * 1000
    print(f"p95 {p95:.2f} ms {verdict} the target of {target:.0f} ms (load {load_average:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
