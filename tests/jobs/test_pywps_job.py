"""Rebuilding queued jobs: process classes named by earlier versions."""

from __future__ import annotations

import importlib

import pytest

from cp4cds_wps.jobs.pywps_job import MOVED_PROCESSES, process_class_path


@pytest.mark.parametrize("module", sorted(MOVED_PROCESSES))
def test_a_job_queued_with_an_old_process_class_finds_it(module):
    name = "".join(part.capitalize() for part in module.rsplit(".", 1)[1].split("_"))
    now, cls = process_class_path(f"{module}:{name}").split(":")
    process = getattr(importlib.import_module(now), cls)()
    assert process.identifier == module.rsplit(".", 1)[1]


def test_current_process_classes_are_kept():
    assert process_class_path("cp4cds_wps.processes.plot:Plot") == "cp4cds_wps.processes.plot:Plot"
