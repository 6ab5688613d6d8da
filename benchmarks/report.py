"""The results table: figures of each run and their ratio to ours."""

from __future__ import annotations

__all__ = ["COLUMNS", "format_table", "with_ratios"]

#: Table columns: header, record key, format of a value.
COLUMNS = (
    ("operation", "operation", "{}"),
    ("data", "data", "{}"),
    ("method", "method", "{}"),
    ("seconds", "seconds", "{:.1f}"),
    ("peak RSS MiB", "peak_rss_mib", "{:.0f}"),
    ("output MiB", "output_mib", "{:.2f}"),
    ("time/ours", "time_vs_ours", "{:.2f}"),
    ("RSS/ours", "rss_vs_ours", "{:.2f}"),
    ("max |diff|", "max_abs_diff", "{:.2g}"),
    ("differ %", "differing", "{:.3g}"),
    ("status", "status", "{}"),
)
#: Longest error text shown in the status column (results.json holds all of it).
ERROR_CHARS = 90


def with_ratios(records: list[dict]) -> list[dict]:
    """Add to each successful run its time and peak RSS divided by ours on the same data.

    Parameters
    ----------
    records
        One dict per run, with ``operation``, ``data``, ``method``, ``status``, ``seconds``
        and ``peak_rss_mib``.

    Returns
    -------
    list of dict
        The records, with ``time_vs_ours`` and ``rss_vs_ours`` where ours succeeded.
    """
    ours = {
        (r["operation"], r["data"]): r
        for r in records
        if r["method"] == "ours" and r["status"] == "ok"
    }
    out = []
    for record in records:
        base = ours.get((record["operation"], record["data"]))
        if base and record["status"] == "ok":
            record = {
                **record,
                "time_vs_ours": record["seconds"] / base["seconds"],
                "rss_vs_ours": record["peak_rss_mib"] / base["peak_rss_mib"],
            }
        out.append(record)
    return out


def _cell(record: dict, key: str, fmt: str) -> str:
    value = record.get(key)
    if key == "differing" and value is not None:
        value *= 100
    if key == "max_abs_diff" and "not_comparable" in record:
        return "n/c"  # not comparable: why is in results.json
    if value is None:
        return "-"
    if key == "status" and record.get("error"):
        return f"{value}: {record['error'][:ERROR_CHARS]}"
    return value if isinstance(value, str) else fmt.format(value)


def format_table(records: list[dict]) -> str:
    """The runs as a plain-text table, one row per run.

    Parameters
    ----------
    records
        The runs (see :func:`with_ratios`).

    Returns
    -------
    str
        Header, rule and rows, columns aligned.
    """
    rows = [[header for header, _, _ in COLUMNS]]
    rows += [[_cell(r, key, fmt) for _, key, fmt in COLUMNS] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = [
        "  ".join([cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]])
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
