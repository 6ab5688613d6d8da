"""Print the coverage matrix: ``python -m tests.coverage.report [--out docs/coverage.md]``.

Runs every operation of :mod:`tests.coverage.matrix` on every dataset of the test archive
(as ``pytest -m matrix`` does, about 20 minutes on 2 cores) and writes a markdown table,
datasets x operations, each cell ``pass``, ``refused`` (with the reason's number in the
list of refusals below the table) or ``FAIL``, followed by the refusals of
:mod:`tests.coverage.refusals` and the failures' details. Exits with 1 when a cell failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dask

from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Inventory
from tests.coverage.matrix import MAX_STEPS, OPERATIONS, SUBSET_STEPS, TARGET, Outcome, run_cell
from tests.coverage.refusals import REFUSALS

HEADER = """# Coverage matrix

Every operation on every dataset of the test archive (`mini-esgf-data`), run in-process
through the tasks layer, each output CF-checked (IOOS compliance-checker, CF 1.8) and its
values compared with an independent computation on the same files: numpy on the raw values
(subset: the selected cells; means over time, over the grid and per year/month: weighted
numpy means, cell areas from the files' own bounds or the archive's `areacella`/`areacello`;
plots: their CSV tables) and `cdo remapbil`/`cdo remapcon` for regrids onto a global
{target} degree grid. Operations over whole datasets read their first files (up to {steps}
time steps); the subset selects the first {subset} steps of the first file and a box round
the middle of the grid.

Written by `python -m tests.coverage.report` (the same cells as `pytest -m matrix`,
`tests/coverage/test_matrix.py`). Refusals are listed in one place,
`tests/coverage/refusals.py`; each must raise its error class with its phrase.

Where a file has no cell bounds (FGOALS-f3-L, bcc-csm1-1 ocean grids, CORDEX rotated-pole
files) or vertices enclosing over 10 times the area of the cells round them (EC-Earth3
ORCA cells whose vertex longitude jumps to 0), the reference derives its own corners
(`tests/coverage/reference.py`, independently of the service): on rotated-pole grids
bands midway between the rotated axes' centres, rotated back to geographic (an axis of a
single cell as wide as the other's spacing); on other 2-D grids corners midway between the
four centres round each corner. The archive has no `areacello` for those models. CDO is
given the same corners (an unstructured copy of the grid), since it cannot remap cells
without them, and a time-first copy of the IPCC atlas files with their members as levels
(CDO skips variables whose first dimension is not time and knows no ensemble axis).
"""


_INVENTORY: Inventory | None = None


def _start_worker(env: dict[str, str]) -> None:
    global _INVENTORY
    warnings.simplefilter("ignore")
    dask.config.set(scheduler="synchronous")  # as the service runs (tests/conftest.py)
    _INVENTORY = Inventory.from_settings(load_settings(env=env))


def _dataset_outcomes(dataset_id: str) -> list[Outcome]:
    found = []
    with tempfile.TemporaryDirectory() as work:
        for operation in OPERATIONS:
            found.append(run_cell(_INVENTORY, dataset_id, operation, Path(work) / "cell"))
            print(f"{found[-1].status:7} {operation} {dataset_id} {found[-1].detail}", flush=True)
    return found


def outcomes(env: dict[str, str], jobs: int) -> list[Outcome]:
    """Run the whole matrix on ``jobs`` processes, printing each cell's outcome."""
    _start_worker(env)
    ids = [d.id for d in _INVENTORY.list()]
    if jobs == 1:
        return [o for i in ids for o in _dataset_outcomes(i)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, context, initializer=_start_worker, initargs=(env,)) as pool:
        return [o for found in pool.map(_dataset_outcomes, ids) for o in found]


def markdown(found: list[Outcome], seconds: float) -> str:
    """The matrix, the refusals and the failures as markdown."""
    numbers = {r.reason: n for n, r in enumerate(REFUSALS, 1)}
    cells = {(o.dataset, o.operation): o for o in found}
    datasets = list(dict.fromkeys(o.dataset for o in found))
    lines = [HEADER.format(target=TARGET.dlon, steps=MAX_STEPS, subset=SUBSET_STEPS)]
    counts = {op: Counter(cells[d, op].status for d in datasets) for op in OPERATIONS}
    lines.append(f"{len(datasets)} datasets x {len(OPERATIONS)} operations, in {seconds:.0f} s.\n")
    lines.append("| operation | pass | refused | fail |\n| --- | --- | --- | --- |")
    for op in OPERATIONS:
        c = counts[op]
        lines.append(f"| {op} | {c['pass']} | {c['refused']} | {c['fail']} |")
    lines.append("\n## Datasets x operations\n")
    lines.append("| dataset | " + " | ".join(OPERATIONS) + " |")
    lines.append("| --- " * (len(OPERATIONS) + 1) + "|")
    for d in datasets:
        row = []
        for op in OPERATIONS:
            o = cells[d, op]
            row.append({"pass": "pass", "fail": "**FAIL**"}.get(o.status, "")
                       or f"refused ({numbers.get(o.detail, '?')})")  # fmt: skip
        lines.append(f"| `{d}` | " + " | ".join(row) + " |")
    lines.append("\n## Refusals\n")
    lines.append("| # | datasets | operations | reason | error |\n| --- | --- | --- | --- | --- |")
    for n, r in enumerate(REFUSALS, 1):
        ops = ", ".join(r.operations)
        error = f'`{r.error.__name__}`: "{r.phrase}"'
        lines.append(f"| {n} | `{r.pattern}` | {ops} | {r.reason} | {error} |")
    failures = [o for o in found if o.status == "fail"]
    if failures:
        lines.append("\n## Failures\n")
        lines += [f"- `{o.dataset}` {o.operation}: {o.detail[:300]}" for o in failures]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/coverage.md"))
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        qc_cache = str(load_settings(env={}).qc.cache)
        env = {"CP4CDS_WPS_PATHS__VAR_DIR": var, "CP4CDS_WPS_QC__CACHE": qc_cache}
        Inventory.from_settings(load_settings(env=env)).ensure_scanned()
        start = time.monotonic()
        found = outcomes(env, args.jobs)
    args.out.write_text(markdown(found, time.monotonic() - start))
    failed = sum(o.status == "fail" for o in found)
    print(f"written {args.out}: {len(found)} cells, {failed} failed")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
