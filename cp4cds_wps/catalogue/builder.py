"""The request builder: a main-WPS request put together with the meta-WPS's answers.

The page is a GET form, so each state is a link and it works without JavaScript; its
script sends the form again when a choice changes, submits the request and follows it.

1. The dataset: a ``collection`` given (e.g. from a dataset page), or chosen facet by facet
   from the values :func:`cp4cds_wps.meta.resolve.resolve` (the ``/api/constraints``
   answer) still offers, until it names one dataset.
2. The inputs of the chosen process, as its DescribeProcess defines them, with only the
   choices the dataset allows: years of its time range, its levels, an area within its
   extent, the axes it has to average over, the allowed values of the process's inputs.
3. What ``resolve`` checks of ``time``, ``area`` and ``level`` against the dataset, and the
   estimate of :func:`cp4cds_wps.meta.estimate.estimate` against the service's limits
   (the meta-WPS ``estimate``; the main WPS refuses over-limit requests with the same
   reason).
4. The request as a KVP Execute URL, which the page's script submits to ``/wps`` and
   follows through its status document, and as birdy, rooki and curl code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from pywps import ComplexInput, Process

from cp4cds_wps.catalogue import fields, snippets
from cp4cds_wps.catalogue.browse import selection_of
from cp4cds_wps.catalogue.html import BASE, dataset_url, link, query
from cp4cds_wps.config import Settings
from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.inventory.report import human_size
from cp4cds_wps.meta.estimate import estimate
from cp4cds_wps.meta.resolve import resolve
from cp4cds_wps.meta.selection import Selection, parse_selection

#: The process chosen when none is.
DEFAULT_PROCESS = "subset"
#: Values of a facet offered in the dataset picker.
PICKER_VALUES = 500


@dataclass
class Built:
    """A request as the form gives it: ``inputs`` as text (as the WPS takes them), what the
    meta-WPS said of them, and the parts of the page."""

    process: str
    inputs: dict[str, str] = field(default_factory=dict)
    checks: dict[str, dict] = field(default_factory=dict)
    estimate: dict | None = None
    problem: str | None = None
    parts: list[str] = field(default_factory=list)


def _process_choice(processes: Sequence[Process], chosen: str) -> str:
    options = "".join(
        f'<option value="{escape(p.identifier)}"{" selected" if p.identifier == chosen else ""}>'
        f"{escape(p.identifier)} – {escape(p.title)}</option>"
        for p in processes
    )
    return (
        f'<div class="field"><label for="process">process</label> '
        f'<select id="process" name="process" data-autosubmit>{options}</select></div>'
    )


def _picker(
    inventory: Inventory, settings: Settings, args: Mapping, names: Sequence[str]
) -> tuple[str, str | None]:
    """The dataset picker: a select per facet of the values still valid; the dataset id
    once the selection names one."""
    chosen = {n: v for n, v in selection_of(args).items() if n not in names and n != "process"}
    answer = resolve(inventory, Selection(facets=chosen), settings)
    process = (args.get("process") or [""])[0]
    parts = []
    for name, values in chosen.items():
        parts.append(fields.hidden(name, ",".join(values)))
        rest = {n: list(v) for n, v in chosen.items() if n != name}
        href = f"{BASE}/request{query({**rest, 'process': process})}"
        chip = link(href, f"{name}: {', '.join(values)} ✕")
        parts.append(f'<span class="chips">{chip}</span>')
    parts += [f'<p class="error">{escape(p["reason"])}</p>' for p in answer["invalid"]]
    dataset = answer["dataset"]
    for name, counts in answer["facets"].items():
        if name == "version" or (dataset is not None and len(counts) < 2):
            continue
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:PICKER_VALUES]
        options = [("", f"any {name}")] + [(v, f"{v} ({n:,})") for v, n in ranked]
        parts.append(fields.select(name, name, options, ""))
    status = (
        f"<p>Chosen: {link(dataset_url(dataset['id']), dataset['id'])}</p>"
        if dataset
        else f'<p class="note">{answer["matches"]:,} datasets match; choose values until one '
        "remains, or give a dataset id below.</p>"
    )
    html = f"<fieldset><legend>dataset</legend>{''.join(parts)}{status}</fieldset>"
    return html, dataset["id"] if dataset else None


def _estimate_html(found: dict | None, problem: str | None) -> str:
    if problem:
        return f'<p class="error" id="estimate">{escape(problem)}</p>'
    if found is None:
        return '<p class="note" id="estimate">Choose a dataset to see the estimate.</p>'
    written = "not estimated" if found["write_bytes"] is None else human_size(found["write_bytes"])
    verdict = (
        "within the service's limits"
        if found["within_limits"]
        else f'<span class="error">{escape(found["reason"] or "")}</span>'
    )
    linked = f", returns {found['linked_files']} original file(s)" if found["linked_files"] else ""
    return (
        f'<p id="estimate">Reads {human_size(found["read_bytes"])} from {found["files"]} '
        f"archive file(s), writes {written} in {found['outputs']} file(s)"
        f"{linked}"
        f": {verdict}.</p>"
    )


def _input_fields(
    built: Built, process: Process, args: Mapping, described: dict | None, collection: str
) -> str:
    rows = []
    for put in process.inputs:
        name = put.identifier
        if name == "collection":
            rows.append(fields.text("collection", "collection", collection, size=100,
                                    note="dataset id(s), comma separated"))  # fmt: skip
            continue
        if isinstance(put, ComplexInput):
            html, value = fields.textarea(name, put.title, args, note=put.abstract)
        else:
            html, value = fields.literal(put, args, described)
        if value:
            built.inputs[name] = value
        check = built.checks.get(name)
        if check and check.get("valid") is False:
            html += f'<p class="error note">{escape(check["reason"])}</p>'
        rows.append(html)
    return "".join(rows)


def build(
    inventory: Inventory, settings: Settings, processes: Sequence[Process], args: Mapping
) -> Built:
    """Build the request page's parts from the form's parameters.

    Parameters
    ----------
    inventory
        The archive inventory.
    settings
        The service settings (limits, URLs, authentication).
    processes
        The processes of the main WPS.
    args
        The query parameters (name -> list of values).

    Returns
    -------
    Built
    """
    by_name = {p.identifier: p for p in processes}
    chosen = (args.get("process") or [DEFAULT_PROCESS])[0]
    if chosen not in by_name:
        chosen = DEFAULT_PROCESS if DEFAULT_PROCESS in by_name else next(iter(by_name))
    process = by_name[chosen]
    built = Built(chosen)
    names = [put.identifier for put in process.inputs]
    collection = (args.get("collection") or [""])[0].strip()
    picker = ""
    if not collection:
        picker, found = _picker(inventory, settings, args, names)
        collection = found or ""
    if collection:
        built.inputs["collection"] = collection
    ids = [i.strip() for i in collection.split(",") if i.strip()]
    described = None
    if ids:
        given = fields.composed(args)
        try:
            selection = Selection(
                facets=parse_selection({"collection": ids[0]}).facets,
                time=given.get("time"),
                area=given.get("area"),
                level=given.get("level"),
            )
            answer = resolve(inventory, selection, settings)
        except InvalidParameter as err:
            answer = {"dataset": None, "checks": {}}
            built.problem = str(err)
        described = answer["dataset"]
        built.checks = answer["checks"]
        if described is None and not built.problem:
            built.problem = f"collection: unknown dataset id {ids[0]!r}"
    inputs_html = _input_fields(built, process, args, described, collection)
    if collection and not built.problem:
        try:
            found = estimate(chosen, built.inputs, inventory, max_file_mb=settings.max_file_mb)
            built.estimate = found.to_dict(settings.limits)
        except (InvalidParameter, MissingParameter) as err:
            built.problem = str(err)
    built.parts = [
        f'<form method="get" action="{BASE}/request" id="builder">'
        f"{_process_choice(processes, chosen)}"
        f'<p class="note">{escape(process.abstract or "")}</p>{picker}'
        f"<fieldset><legend>inputs</legend>{inputs_html}</fieldset>"
        f'<p><button type="submit">Update</button></p></form>',
        "<h2>Estimate</h2>" + _estimate_html(built.estimate, built.problem),
    ]
    return built


def submit_html(built: Built, settings: Settings) -> str:
    """The request's Execute URL with the submit button, and the code that runs it."""
    wps = settings.wps_url
    token = settings.auth.enabled
    ready = (
        "collection" in built.inputs
        and built.problem is None
        and (built.estimate is None or built.estimate["within_limits"])
    )
    if not snippets.kvp_safe(built.inputs):
        return (
            '<p class="error">An input holds ; = or @, which KVP cannot carry: send the '
            "request as an XML Execute.</p>"
        )
    url = snippets.execute_url(wps, built.process, built.inputs)
    auth = (
        '<p class="note">This service needs an access token to run requests (<code>Authorization: '
        "Bearer</code>, from the identity provider named in the README's Authentication). "
        "Paste one "
        'here (it stays in this page) or run the code below with it.</p><p><label for="token">'
        'access token</label> <input type="password" id="token" size="60" autocomplete="off"></p>'
        if token
        else ""
    )
    button = (
        f'<div id="job" data-execute="{escape(url)}" data-auth="{str(token).lower()}">{auth}'
        f'<p><button type="button" id="submit"{"" if ready else " disabled"}>'
        "Submit request</button> "
        f"or open the {link(url, 'Execute URL', id='execute-url')} (its answer names the status "
        'document)</p><p id="progress-line" hidden><progress id="progress" max="100" value="0">'
        '</progress> <span id="job-status"></span></p><ul id="outputs"></ul></div>'
    )
    if not ready:
        button += '<p class="note">Choose a dataset and valid inputs to submit.</p>'
    code = "".join(
        f'<h3>{title}</h3><pre id="code-{key}">'
        f"{escape(make(wps, built.process, built.inputs, token))}</pre>"
        for key, title, make in (
            ("birdy", "birdy", snippets.birdy),
            ("rooki", "rooki", snippets.rooki),
            ("curl", "curl", snippets.curl),
        )
    )
    return f"<h2>Run it</h2>{button}<h2>The same in code</h2>{code}"
