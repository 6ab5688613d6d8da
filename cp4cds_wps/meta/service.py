"""The meta-WPS endpoint: a PyWPS service of the meta processes, beside the main WPS.

PyWPS takes its service URL and description from one process-wide configuration, which the
main WPS set up. While it answers a request, :class:`MetaWps` makes PyWPS see its own URL,
title and abstract instead, for that request only: requests are served by several threads
of a process at once, and the main WPS's answers must keep naming the main WPS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar

from pywps import configuration
from werkzeug.wrappers import Response

from cp4cds_wps.config import Settings
from cp4cds_wps.meta.links import meta_url
from cp4cds_wps.meta.processes import meta_processes
from cp4cds_wps.processes.service import CheckedService

#: PyWPS settings changed for the request served by this thread: (section, option) -> value.
_OVERRIDES: ContextVar[Mapping[tuple[str, str], str] | None] = ContextVar(
    "meta_wps_config", default=None
)
_pywps_config_value = configuration.get_config_value


def _config_value(section, option, default_value=""):
    """PyWPS's ``get_config_value``, with this thread's overrides."""
    overrides = _OVERRIDES.get() or {}
    if (section, option) in overrides:
        return overrides[section, option]
    return _pywps_config_value(section, option, default_value)


# PyWPS's modules look the function up in the module at each call
configuration.get_config_value = _config_value


class MetaWps:
    """WSGI application of the meta-WPS (mounted at ``/meta-wps``).

    Parameters
    ----------
    settings
        The service settings.
    main_processes
        Identifiers of the main WPS's processes.
    """

    def __init__(self, settings: Settings, main_processes: Sequence[str]):
        self.processes = meta_processes(main_processes, settings)
        self.service = CheckedService(self.processes)
        self.overrides = {
            ("server", "url"): meta_url(settings.url),
            ("metadata:main", "identification_title"): "cp4cds-wps meta-WPS",
            ("metadata:main", "identification_abstract"): "Resolve selections of the archive's "
            "datasets facet by facet (only valid values), estimate the size of main-WPS "
            "requests against the service's limits, and show which data are available.",
        }

    def __call__(self, environ, start_response):
        token = _OVERRIDES.set(self.overrides)
        try:
            response = Response.from_app(self.service, environ, buffered=True)
        finally:
            _OVERRIDES.reset(token)
        return response(environ, start_response)
