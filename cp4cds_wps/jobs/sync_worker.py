"""The worker of one synchronous execution (``python -m cp4cds_wps.jobs.sync_worker FILE``).

Started by :mod:`cp4cds_wps.jobs.synchronous` for a web server thread that waits for it:
``FILE`` holds PyWPS's job (the process and the request, planned), the client's ``Accept``
header, the settings of the service and where to write the answer. The job runs as its
process runs synchronous executions when it computes them itself; the answer is the
response document, the data of a raw output, or the OGC exception raised.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import sys
from pathlib import Path

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cp4cds_wps.jobs import synchronous
from cp4cds_wps.jobs.pywps_job import load_pywps_config, rebuild_job
from cp4cds_wps.jobs.worker import guard_memory, own_pywps_lock


def answer(job) -> dict:
    """Run the rebuilt ``job`` as its process runs synchronous executions in this process
    (``synchronous.IN_WORKER``), and return what the waiting web server thread needs."""
    from pywps.exceptions import NoApplicableCode

    process, request, response = job.process, job.wps_request, job.wps_response
    try:
        process.setup_outputs_from_wps_request(request)
        response = process._execute_process(False, request, response)
    except NoApplicableCode as err:
        return {"exception": {"class": type(err).__name__, "description": err.description,
                              "locator": err.locator, "code": err.code}}  # fmt: skip
    raw = {}
    if request.raw:
        for identifier in request.outputs:
            data = response.outputs[identifier].data
            text = isinstance(data, str)
            data = data.encode() if text else data
            raw[identifier] = {"data": base64.b64encode(data).decode(), "text": text}
    return {
        "status": response.status,
        "message": str(response.message),
        "doc": response.doc,
        "content_type": getattr(response, "content_type", None),
        "raw": raw,
    }


def main(handover: Path) -> int:
    """Run the synchronous execution handed over in ``handover``; 0 when it answered."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    own_pywps_lock()
    synchronous.IN_WORKER = True
    given = json.loads(handover.read_text())
    # the service's own, written by it (see synchronous.run_in_worker)
    settings = pickle.loads(base64.b64decode(given["settings"]))  # noqa: S301
    load_pywps_config(settings)
    job = rebuild_job(given["job"], settings)
    job.wps_response.store_status_file = False  # synchronous: no status document
    job.process.async_ = False
    job.process.handler = guard_memory(job.process.handler, settings.jobs.memory_mb)
    # the response document's encoding follows the client's Accept header
    job.wps_request.http_request = Request(
        EnvironBuilder(headers={"Accept": given["accept"]}).get_environ()
    )
    job.wps_request.fetched = given["fetched"]
    result = json.dumps(answer(job))
    target = Path(given["answer"])
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(result)
    partial.replace(target)  # whole or not at all: the waiting thread reads it after we end
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m cp4cds_wps.jobs.sync_worker FILE")
    sys.exit(main(Path(sys.argv[1])))
