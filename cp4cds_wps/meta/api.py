"""``/api/constraints``: the meta-WPS ``resolve`` as plain JSON over HTTP, for web forms.

``GET /api/constraints?project=cmip6&experiment=historical`` (repeat a parameter or separate
values by commas for several values) or ``POST`` a JSON object of the same keys (strings or
lists of strings). The answer is the JSON of :func:`cp4cds_wps.meta.resolve.resolve`; a
malformed request is answered with HTTP 400 and ``{"error", "locator", "reason"}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from cp4cds_wps.config import Settings
from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.meta.resolve import resolve
from cp4cds_wps.meta.selection import parse_selection
from cp4cds_wps.ops.params import parse_json
from cp4cds_wps.request_guard import MAX_BODY_MB


class _Request(Request):
    max_content_length = MAX_BODY_MB << 20


class ConstraintsApi:
    """WSGI application of the JSON API (mounted at ``/api``).

    Parameters
    ----------
    settings
        The service settings.
    main_processes
        Identifiers of the main WPS's processes (for the ``process`` key).
    """

    def __init__(self, settings: Settings, main_processes: Sequence[str]):
        self.settings = settings
        self.main_processes = tuple(main_processes)
        self.inventory = Inventory.from_settings(settings)
        self.urls = Map([Rule("/constraints", endpoint="constraints", methods=["GET", "POST"])])

    def __call__(self, environ, start_response):
        request = _Request(environ)
        try:
            self.urls.bind_to_environ(environ).match()
            response = self.constraints(request)
        except InvalidParameter as err:
            response = _json(
                {"error": "InvalidParameterValue", "locator": err.name, "reason": err.reason}, 400
            )
        except HTTPException as err:
            response = err
        return response(environ, start_response)

    def constraints(self, request: Request) -> Response:
        """Resolve the selection in the query (GET) or the JSON body (POST)."""
        params: dict = request.args.to_dict(flat=False)
        if request.method == "POST":
            body = parse_json(request.get_data(as_text=True), "body")
            if not isinstance(body, dict):
                raise InvalidParameter("body", "must be a JSON object of facet names to values")
            params.update(body)
        selection = parse_selection(params)
        answer = resolve(self.inventory, selection, self.settings, self.main_processes)
        return _json(answer)


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
