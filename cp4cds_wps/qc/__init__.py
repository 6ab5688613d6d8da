"""Quality control of the archive at scan time: per file (checksums against the archive's
``.md5``/``.sha256`` files, CF compliance, coordinates) and per dataset (how its files fit
together in time and grid). Results are kept by file checksum and as a status per dataset
in the inventory (``passed``, ``warnings``, ``failed``, or ``pending`` until checked).

>>> report = run_qc(Inventory.from_settings(settings), settings.qc)  # doctest: +SKIP
>>> report.summary()  # doctest: +SKIP
"""

from cp4cds_wps.qc.run import QcReport, run_qc

__all__ = ["QcReport", "run_qc"]
