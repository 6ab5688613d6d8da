"""PyWPS's response templates, compiled once per process instead of for every response.

PyWPS 4.8 makes a new jinja environment for every response, and for every status update of
a job, so each compiles its templates again: about 80 ms of a 140 ms job submission and
most of a GetCapabilities. :func:`share_templates` makes them all use one environment per
process (jinja environments are safe to share between threads): the same templates and
options (PyWPS gives every response the same), compiled once.
"""

from __future__ import annotations

import threading

import pywps.response.basic

_PYWPS_ENVIRONMENT = pywps.response.basic.RelEnvironment
_SHARED = None
_LOCK = threading.Lock()


def _shared_environment(*args, **options):
    """The environment of the first response, for every later one (their options are the
    same)."""
    global _SHARED
    with _LOCK:
        if _SHARED is None:
            _SHARED = _PYWPS_ENVIRONMENT(*args, **options)
        return _SHARED


def share_templates() -> None:
    """Make PyWPS's responses of this process share one template environment."""
    pywps.response.basic.RelEnvironment = _shared_environment
