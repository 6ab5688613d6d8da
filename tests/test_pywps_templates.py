"""PyWPS's response templates are compiled once per process, not for every response."""

from __future__ import annotations

import jinja2
from pywps import LiteralInput, LiteralOutput, Process, Service
from werkzeug.test import Client

from cp4cds_wps.pywps_templates import share_templates


def _echo(request, response):
    response.outputs["out"].data = request.inputs["value"][0].data
    return response


def test_templates_are_compiled_once(monkeypatch):
    share_templates()
    process = Process(_echo, "echo", "Echo", inputs=[LiteralInput("value", "Value")],
                      outputs=[LiteralOutput("out", "Out")])  # fmt: skip
    client = Client(Service(processes=[process]))
    compiled = []
    compile_template = jinja2.Environment.compile

    def counted(self, *args, **kwargs):
        compiled.append(args)
        return compile_template(self, *args, **kwargs)

    first = client.get("/?service=WPS&request=GetCapabilities").get_data()
    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    answers = [client.get("/?service=WPS&request=GetCapabilities").get_data() for _ in range(3)]
    assert compiled == []
    assert answers == [first] * 3
    executed = client.get("/?service=WPS&version=1.0.0&request=Execute&identifier=echo"
                          "&DataInputs=value=7").get_data(as_text=True)  # fmt: skip
    assert "ProcessSucceeded" in executed and ">7<" in executed
