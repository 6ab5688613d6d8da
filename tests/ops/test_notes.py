"""Notes on the data are collected where a run records them, and warnings elsewhere."""

from __future__ import annotations

import threading

import pytest

from cp4cds_wps.ops.notes import DataNote, note, recorded_notes


def test_notes_are_recorded_once_each_in_order():
    with recorded_notes() as notes:
        note("second thing")
        note("first thing")
        note("second thing")
    assert notes == ["second thing", "first thing"]


def test_nested_recordings_keep_their_own_notes():
    with recorded_notes() as outer:
        note("outer")
        with recorded_notes() as inner:
            note("inner")
        note("outer again")
    assert (outer, inner) == (["outer", "outer again"], ["inner"])


def test_a_note_outside_a_recording_is_a_warning():
    with pytest.warns(DataNote, match="units fixed"):
        note("units fixed")


def test_another_thread_does_not_record_into_this_run():
    def elsewhere():
        with pytest.warns(DataNote):
            note("from another thread")

    with recorded_notes() as notes:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        note("here")
    assert notes == ["here"]
