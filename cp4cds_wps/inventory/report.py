"""Plain-text views of the inventory for the operator CLI."""

from __future__ import annotations

from collections.abc import Iterable

from cp4cds_wps.inventory.records import Dataset, ScanReport

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """Return a byte count as a short text (``"1.5 MiB"``)."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _time_range(start: str | None, end: str | None) -> str:
    return f"{start} to {end}" if start else "no time axis"


def describe(dataset: Dataset) -> str:
    """Return a multi-line description of a dataset (``cp4cds-wps inventory show ID``).

    Parameters
    ----------
    dataset
        The dataset.

    Returns
    -------
    str
        Id, facets, time range, calendar, size, every file with its times, size and md5,
        the issues found between files, and its quality: the QC status and findings, the
        errata of the known-issues register with the fixes they declare, and whether the
        service refuses the dataset (``[qc] serve``).
    """
    lines = [
        dataset.id,
        f"  project:   {dataset.project}",
        f"  version:   {dataset.version}",
        f"  variable:  {dataset.variable or '-'}",
        f"  time:      {_time_range(dataset.start, dataset.end)}",
        f"  calendar:  {dataset.calendar or '-'}",
        f"  size:      {human_size(dataset.size)} in {len(dataset.files)} file(s)",
        "  facets:",
    ]
    lines += [f"    {name} = {value}" for name, value in sorted(dataset.facets.items())]
    lines.append("  files:")
    for record in dataset.files:
        lines.append(f"    {record.root}/{record.relpath}")
        lines.append(
            f"      {_time_range(record.start, record.end)} ({record.n_times} steps), "
            f"{human_size(record.size)}, md5 {record.md5 or '-'}"
        )
    lines.append("  issues:" if dataset.issues else "  issues: none")
    lines += [f"    - {issue}" for issue in dataset.issues]
    lines.append(f"  quality:   {dataset.status}")
    if dataset.refused:
        lines.append(f"  refused:   {dataset.refused}")
    lines.append("  findings:" if dataset.findings else "  findings: none")
    lines += [f"    - {finding}" for finding in dataset.findings]
    lines.append("  errata:" if dataset.errata else "  errata: none")
    for erratum in dataset.errata:
        lines.append(f"    - {erratum}")
        if erratum.description:
            lines.append(f"      {erratum.description}")
        lines += [f"      fix: {fix.describe()}" for fix in erratum.fixes]
    return "\n".join(lines)


def summarize(datasets: Iterable[Dataset]) -> str:
    """Return one line per dataset (``cp4cds-wps inventory list``).

    Each line: id, number of files, time range, size, quality status, and ``!N issues``
    when there are any.
    """
    lines = []
    for ds in datasets:
        span = f"{ds.start[:10]}..{ds.end[:10]}" if ds.start and ds.end else "fixed"
        flag = f"  !{len(ds.issues)} issue(s)" if ds.issues else ""
        size = human_size(ds.size)
        lines.append(f"{ds.id}  {len(ds.files)} file(s)  {span}  {size}  {ds.status}{flag}")
    return "\n".join(lines)


def scan_summary(report: ScanReport) -> str:
    """Return what a scan found, with its warnings, for the operator."""
    lines = [
        f"{report.datasets} datasets, {report.files} files in {report.seconds:.1f} s: "
        f"{report.files_added} added, {report.files_changed} changed, "
        f"{report.files_removed} removed, {report.files_unchanged} unchanged; "
        f"{report.datasets_updated} datasets updated, {report.datasets_removed} removed, "
        f"{report.duplicates_skipped} duplicates of earlier roots skipped"
    ]
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines)
