"""The registry of operations: every operation the service offers, by name."""

from __future__ import annotations

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.operations.base import Input, Operation
from cp4cds_wps.operations.data import DATA_OPERATIONS
from cp4cds_wps.operations.orchestrate import ORCHESTRATE

#: The operations, by name, in the order the service shows them.
OPERATIONS: dict[str, Operation] = {**DATA_OPERATIONS, ORCHESTRATE.name: ORCHESTRATE}


def operation(name: str) -> Operation:
    """The operation called ``name``.

    Raises
    ------
    InvalidParameter
        Named ``process``, when there is no such operation.
    """
    if name not in OPERATIONS:
        raise InvalidParameter(
            "process", f"unknown process {name!r}; the main WPS offers {', '.join(OPERATIONS)}"
        )
    return OPERATIONS[name]


def all_inputs() -> dict[str, Input]:
    """Every input of any operation, by name (the first declaration of a shared name)."""
    found: dict[str, Input] = {}
    for op in OPERATIONS.values():
        for item in op.inputs:
            found.setdefault(item.identifier, item)
    return found
