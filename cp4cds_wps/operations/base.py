"""What an operation declares once: its inputs, its parser, planning, sizing and running.

An :class:`Operation` is free of any protocol: the WPS processes
(:mod:`cp4cds_wps.processes`), the meta-WPS ``estimate`` and the steps of a workflow
(:mod:`cp4cds_wps.workflow`) are made from it. Input values come as text (several values
of one input joined by commas), or as the value a protocol already typed (a boolean).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cp4cds_wps.errors import InvalidParameter

#: The values of the inputs of one request, by input name.
Values = Mapping[str, Any]


@dataclass(frozen=True)
class Input:
    """One input of an operation.

    Attributes
    ----------
    identifier, title, abstract
        Its name and its description for users.
    kind
        ``text`` (a string, parsed by the operation), ``flag`` (a boolean), ``choice`` (one
        of ``choices``) or ``json`` (a JSON document of one of ``formats``, e.g. GeoJSON).
    required
        Whether a request must give it.
    choices
        The values a ``choice`` takes.
    default
        The value when not given (told to users; the parser applies it).
    max_occurs
        How many values a protocol may send as repeated inputs (joined by commas).
    linked
        Whether the meta-WPS tells its valid values (``ows:Metadata`` links).
    formats
        Of a ``json`` input: ``geojson`` and/or ``json``.
    in_workflow
        Whether a workflow step of the operation takes it.
    """

    identifier: str
    title: str
    abstract: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None
    max_occurs: int = 1
    linked: bool = True
    formats: tuple[str, ...] = ()
    in_workflow: bool = True


@dataclass(frozen=True)
class Operation:
    """An operation of the service, declared once.

    Attributes
    ----------
    name, title, abstract
        Its identifier and its description for users.
    inputs
        Its inputs, in the order protocols show them.
    parse
        Input values (see :data:`Values`) to the frozen request; raises the typed errors of
        :mod:`cp4cds_wps.errors` naming the input.
    plan
        ``plan(request, inventory)``: the request resolved against the inventory without
        reading data (the files each dataset needs); raises as ``parse``.
    estimate
        ``estimate(request, plan, inventory, max_bytes)``: what the planned request reads
        and writes, a tuple of :class:`cp4cds_wps.operations.sizing.DatasetEstimate`.
    run
        ``run(request, plan, context)``: the work, written as the
        :class:`cp4cds_wps.tasks.runner.RunContext` says; returns the task's result.
    apply
        For a workflow step on each dataset: ``apply(ds, request, weights=..., work_dir=...)``
        (lazy xarray in, lazy xarray out); None when no workflow step runs it.
    combine
        For a workflow step making one dataset of several (ensemble members):
        ``combine(members, request)`` with ``(label, dataset)`` pairs.
    weighted
        Whether ``apply`` of a request uses the archive's cell areas (``weights``).
    regrids
        Whether ``apply`` puts the data on another grid (and takes ``work_dir``).
    sized
        Whether ``estimate`` sizes what is written (else only what is read).
    """

    name: str
    title: str
    abstract: str
    inputs: tuple[Input, ...]
    parse: Callable[[Values], Any]
    plan: Callable[..., Any]
    estimate: Callable[..., tuple]
    run: Callable[..., Any]
    apply: Callable[..., Any] | None = None
    combine: Callable[..., Any] | None = None
    weighted: Callable[[Any], bool] = lambda request: False
    regrids: bool = False
    sized: bool = True

    @property
    def input_names(self) -> tuple[str, ...]:
        """The names of its inputs."""
        return tuple(i.identifier for i in self.inputs)

    @property
    def step_inputs(self) -> tuple[str, ...]:
        """The inputs a workflow step takes besides ``collection``."""
        return tuple(
            i.identifier for i in self.inputs if i.in_workflow and i.identifier != "collection"
        )


def parse_flag(value: Any, name: str) -> bool:
    """A boolean input: a boolean, or ``true``/``false`` (``1``/``0``, any case); not given
    is false.

    Raises
    ------
    InvalidParameter
        For any other text.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower() or "false"
    if text not in ("true", "false", "1", "0"):
        raise InvalidParameter(name, f"{value!r} is not true or false")
    return text in ("true", "1")


# -- inputs shared by operations -----------------------------------------------------------

COLLECTION = Input(
    "collection",
    "Collection",
    "A dataset identifier or list of comma separated identifiers (or the input "
    "repeated). "
    "Example: CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803",
    required=True,
    max_occurs=1000,
)
TIME = Input(
    "time",
    "Time Period",
    "The time period for subsetting separated by /. Either end may be left "
    "open. Example: 1860-01-01/1900-12-30",
)
TIME_COMPONENTS = Input(
    "time_components",
    "Time Components",
    "Optional time components to describe parts of the time period (e.g. year, "
    "month and day). Example: year:1970,1980|month:01,02,03",
)
AREA = Input(
    "area",
    "Area",
    "The area to subset over separated by commas: west,south,east,north in "
    "degrees (or the four values as repeated inputs). Example: 0.,49.,10.,65",
    max_occurs=4,
)
LEVEL = Input(
    "level",
    "Level",
    "The level range to subset over separated by a /, in the units of the "
    "dataset's vertical axis. Example: 1000/2000",
)
