"""The meta-WPS endpoint: a PyWPS service of the meta processes, beside the main WPS.

PyWPS takes its service URL and description from one process-wide configuration, which the
main WPS set up. While it answers a request, :class:`MetaWps` puts its own URL, title and
abstract there (under a lock), so that its capabilities and execute responses name the
meta-WPS.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from pywps import configuration
from werkzeug.wrappers import Response

from cp4cds_wps.config import Settings
from cp4cds_wps.meta.links import meta_url
from cp4cds_wps.meta.processes import meta_processes
from cp4cds_wps.processes.service import CheckedService

_CONFIG_LOCK = threading.Lock()


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
        self.service = CheckedService(meta_processes(main_processes))
        self.overrides = {
            ("server", "url"): meta_url(settings.url),
            ("metadata:main", "identification_title"): "cp4cds-wps meta-WPS",
            ("metadata:main", "identification_abstract"): "Resolve selections of the archive's "
            "datasets facet by facet (only valid values), estimate the size of main-WPS "
            "requests against the service's limits, and show which data are available.",
        }

    def __call__(self, environ, start_response):
        with _CONFIG_LOCK:
            saved = {key: configuration.get_config_value(*key) for key in self.overrides}
            try:
                for (section, name), value in self.overrides.items():
                    configuration.CONFIG.set(section, name, value)
                response = Response.from_app(self.service, environ, buffered=True)
            finally:
                for (section, name), value in saved.items():
                    configuration.CONFIG.set(section, name, value)
        return response(environ, start_response)
