"""Running quality control over the inventory: each new or changed file once, then each
dataset whose files are all checked.

One run at a time per inventory (a lock file beside its database); a second one returns at
once. Files are checked in ``[qc] workers`` processes; what the CF and coordinate checks
find is kept by checksum in ``[qc] cache``, so that a file's content is checked only once.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from multiprocessing import get_context
from pathlib import Path

from cp4cds_wps.config import QcSettings
from cp4cds_wps.errors import ArchiveFileChanged
from cp4cds_wps.inventory import Inventory, quality
from cp4cds_wps.inventory.records import Dataset, Finding
from cp4cds_wps.output.metalink import file_digest
from cp4cds_wps.qc import checks
from cp4cds_wps.qc.cache import ResultCache
from cp4cds_wps.qc.temporal import dataset_findings

Progress = Callable[[str], None]
#: Results recorded in one transaction.
STORE_EVERY = 100


@dataclass
class QcReport:
    """What one run did: files checked (and how many of them the cache answered), datasets
    judged by status, seconds taken; ``skipped`` when another run held the lock."""

    files: int = 0
    cached: int = 0
    datasets: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False

    def summary(self) -> str:
        """The run in one line, for the operator."""
        if self.skipped:
            return "quality control is already running for this inventory; skipped"
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(self.datasets.items()))
        return (
            f"quality control: {self.files} file(s) checked ({self.cached} from the cache), "
            f"{sum(self.datasets.values())} dataset(s) judged ({statuses or 'none'}) "
            f"in {self.seconds:.1f} s"
        )


def signature(qc: QcSettings) -> str:
    """The checks run and their versions: results of other checks are not kept."""
    versions = {"cf": checks.cf_version(), "coordinates": checks.COORDINATES_VERSION}
    return "; ".join(f"{check} {versions.get(check, '1')}" for check in qc.checks)


def check_file(path: str, name: str, archive_md5: str | None, qc: QcSettings) -> dict:
    """Check one file (in a worker process): checksums, and the CF and coordinate checks
    through the cache.

    Returns
    -------
    dict
        ``md5``, ``sha256``, ``findings`` (as dicts, naming the file) and ``cached`` (the
        number of checks the cache answered).
    """
    md5, sha256 = file_digest(Path(path))
    findings: list[Finding] = []
    if "checksum" in qc.checks:
        archive_sha256 = checks.read_sha256(Path(path))
        findings += checks.checksum_findings(name, md5, sha256, archive_md5, archive_sha256)
    cache = _cache(qc.cache)
    cached = 0
    content_checks = (
        ("cf", checks.cf_findings, checks.cf_version),
        ("coordinates", checks.coordinate_findings, lambda: checks.COORDINATES_VERSION),
    )
    for check, run, version in content_checks:
        if check not in qc.checks:
            continue
        found = cache.get(sha256, check, version())
        if found is None:
            found = run(Path(path))
            cache.put(sha256, check, version(), found)
        else:
            cached += 1
        findings += checks.named(found, name)
    return {
        "md5": md5,
        "sha256": sha256,
        "findings": [f.to_dict() for f in findings],
        "cached": cached,
    }


@cache
def _cache(path: Path) -> ResultCache:
    """The cache of this process (opened once)."""
    return ResultCache(path)


@contextmanager
def _lock(inventory: Inventory) -> Iterator[bool]:
    """Hold the inventory's QC lock if no other run does; yield whether it was got."""
    path = inventory.db_path.with_name(f"{inventory.db_path.name}.qc.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _mapper(workers: int) -> Iterator[Callable]:
    """``map`` over a pool of fresh (spawned) processes, or in this process for one."""
    if workers <= 1:
        yield map
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        yield pool.map


def run_qc(inventory: Inventory, qc: QcSettings, progress: Progress | None = None) -> QcReport:
    """Check the files not checked yet, then judge the datasets whose files all are.

    Parameters
    ----------
    inventory
        The inventory, scanned.
    qc
        The ``[qc]`` settings (checks, workers, cache).
    progress
        Called with a line of text now and then.

    Returns
    -------
    QcReport
    """
    report = progress or (lambda text: None)
    began = time.monotonic()
    if qc.cache is None:
        qc = replace(qc, cache=inventory.db_path.with_name("qc-cache.sqlite"))
    with _lock(inventory) as got:
        if not got:
            return QcReport(skipped=True)
        quality.reset_if_checks_changed(inventory, signature(qc))
        pending = []
        for file in quality.pending_files(inventory):
            try:
                pending.append((file, str(_verified(inventory, file))))
            except ArchiveFileChanged as err:
                report(f"skipped until the next scan: {err}")
        result = QcReport()
        checked: list[tuple[quality.PendingFile, dict]] = []
        with _mapper(qc.workers) as mapping:
            args = ([p for _, p in pending], [f.path.name for f, _ in pending])
            md5s = [f.md5 for f, _ in pending]
            answers = mapping(check_file, *args, md5s, [qc] * len(pending))
            for (file, _), answer in zip(pending, answers, strict=True):
                result.cached += answer.pop("cached")
                checked.append((file, answer))
                if len(checked) == STORE_EVERY:
                    result.files += _store(inventory, checked)
                    report(f"{result.files} of {len(pending)} files checked")
            result.files += _store(inventory, checked)
        judged = [_judge(inventory, i) for i in quality.pending_datasets(inventory)]
        quality.store_datasets(inventory, judged)
        for _, findings in judged:
            status = quality.status_of(findings)
            result.datasets[status] = result.datasets.get(status, 0) + 1
        result.seconds = time.monotonic() - began
        return result


def _store(inventory: Inventory, checked: list[tuple[quality.PendingFile, dict]]) -> int:
    """Record and forget the results gathered; return how many there were."""
    quality.store_files(inventory, checked)
    count = len(checked)
    checked.clear()
    return count


def _verified(inventory: Inventory, file: quality.PendingFile) -> Path:
    record = inventory.file(file.root, file.relpath)
    if record is None or record.size != file.size or record.mtime != file.mtime:
        raise ArchiveFileChanged(str(file.path), "the inventory's record of it changed")
    return record.verified_path()


def _judge(inventory: Inventory, dataset_id: str) -> tuple[Dataset, list[Finding]]:
    """A dataset and its findings: those of its files and its own."""
    dataset = inventory.get(dataset_id)
    results = quality.file_results(inventory, dataset_id)
    findings = [Finding.from_dict(f) for r in results.values() for f in r["findings"]]
    try:
        findings += dataset_findings(dataset)
    except ArchiveFileChanged as err:
        findings.append(Finding("files", "error", str(err)))
    except (OSError, RuntimeError, ValueError) as err:
        findings.append(Finding("files", "error", f"the files cannot be read together: {err}"))
    return dataset, findings
