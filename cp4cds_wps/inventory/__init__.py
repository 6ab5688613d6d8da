"""Inventory of the archive: scan the roots, record datasets in SQLite, look them up by id.

>>> inventory = Inventory.from_settings(load_settings())  # doctest: +SKIP
>>> inventory.ensure_scanned()  # doctest: +SKIP
>>> inventory.get("CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr")  # doctest: +SKIP
"""

from cp4cds_wps.inventory.catalog import Inventory
from cp4cds_wps.inventory.records import Dataset, FileRecord, Issue, ScanReport

__all__ = ["Dataset", "FileRecord", "Inventory", "Issue", "ScanReport"]
