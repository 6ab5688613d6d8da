"""PyWPS processes of the main WPS, one module each."""

from pywps import Process

from cp4cds_wps.processes.subset import Subset


def processes() -> list[Process]:
    """Return a fresh instance of every process the service offers."""
    return [Subset()]
