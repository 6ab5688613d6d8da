"""WSGI applications that route a request to a method named by a werkzeug URL map."""

from __future__ import annotations

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.wrappers import Request


class Routed:
    """A WSGI application answering each request with the method its URL rule names
    (``Rule(path, endpoint="name")`` calls ``self.name(request, **arguments)``); HTTP errors
    raised by a method are its answer."""

    urls: Map

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            endpoint, args = self.urls.bind_to_environ(environ).match()
            response = getattr(self, endpoint)(request, **args)
        except HTTPException as err:
            response = err
        return response(environ, start_response)
