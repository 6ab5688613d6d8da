"""PyWPS processes of the main WPS, one module each."""

from pywps import Process

from cp4cds_wps.processes.average import Average
from cp4cds_wps.processes.average_shape import AverageShape
from cp4cds_wps.processes.average_time import AverageTime
from cp4cds_wps.processes.concat import Concat
from cp4cds_wps.processes.orchestrate import Orchestrate
from cp4cds_wps.processes.plot import Plot
from cp4cds_wps.processes.regrid import Regrid
from cp4cds_wps.processes.subset import Subset


def processes() -> list[Process]:
    """Return a fresh instance of every process the service offers."""
    return [
        Subset(),
        Average(),
        AverageTime(),
        AverageShape(),
        Regrid(),
        Concat(),
        Plot(),
        Orchestrate(),
    ]
