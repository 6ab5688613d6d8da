"""PyWPS processes of the main WPS: one per operation of the registry
(:mod:`cp4cds_wps.operations.registry`).

Each process is a class of this package that PyWPS can build again without arguments from a
queued job (``cp4cds_wps.processes:Subset``); the classes of operations whose WPS outputs
or metadata differ from :class:`~cp4cds_wps.processes.common.DataProcess`'s (a Metalink
document of netCDF files and the provenance) are written out in a module of their own.
"""

from pywps import Process

from cp4cds_wps.config import Settings
from cp4cds_wps.operations.base import Operation
from cp4cds_wps.operations.registry import OPERATIONS
from cp4cds_wps.processes.common import DataProcess
from cp4cds_wps.processes.orchestrate import Orchestrate
from cp4cds_wps.processes.plot import Plot


def process_class(operation: Operation) -> type[DataProcess]:
    """The :class:`DataProcess` class of ``operation``, named after it (``AverageTime``)."""

    def __init__(self, settings: Settings | None = None):
        DataProcess.__init__(self, operation, settings=settings)

    name = "".join(part.capitalize() for part in operation.name.split("_"))
    return type(
        name,
        (DataProcess,),
        {
            "__init__": __init__,
            "__module__": __name__,
            "__doc__": f"The WPS process of the operation ``{operation.name}``.",
        },
    )


_WRITTEN_OUT = {cls.operation_name: cls for cls in (Plot, Orchestrate)}
#: The process class of each operation, in the registry's order.
PROCESS_CLASSES: dict[str, type[DataProcess]] = {
    name: _WRITTEN_OUT.get(name) or process_class(op) for name, op in OPERATIONS.items()
}
globals().update({cls.__name__: cls for cls in PROCESS_CLASSES.values()})


def processes(settings: Settings | None = None) -> list[Process]:
    """Return a fresh instance of every process the service offers, running with
    ``settings`` (without them, the processes can be described but not executed)."""
    return [cls(settings) for cls in PROCESS_CLASSES.values()]
