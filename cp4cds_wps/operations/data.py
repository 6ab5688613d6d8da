"""The operations on datasets of the archive, in the order the service shows them."""

from __future__ import annotations

from cp4cds_wps.operations.average import AVERAGE
from cp4cds_wps.operations.average_shape import AVERAGE_SHAPE
from cp4cds_wps.operations.average_time import AVERAGE_TIME
from cp4cds_wps.operations.base import Operation
from cp4cds_wps.operations.concat import CONCAT
from cp4cds_wps.operations.plot import PLOT
from cp4cds_wps.operations.regrid import REGRID
from cp4cds_wps.operations.subset import SUBSET

#: The operations on datasets, by name (workflow steps may run those with ``apply`` or
#: ``combine``).
DATA_OPERATIONS: dict[str, Operation] = {
    op.name: op for op in (SUBSET, AVERAGE, AVERAGE_TIME, AVERAGE_SHAPE, REGRID, CONCAT, PLOT)
}
