"""OGC API - Processes, Part 1 (1.0) over the WPS's processes and job store."""

from cp4cds_wps.ogcapi.service import OgcApi

__all__ = ["OgcApi"]
