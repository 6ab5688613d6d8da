"""Room in the output folder: /health, refusals and failed writes agree on when it is full."""

from __future__ import annotations

import errno

from cp4cds_wps.output.space import has_room, out_of_space
from tests.conftest import fill


def test_a_full_file_system_has_no_room(tmpfs):
    folder = tmpfs(2048)
    assert has_room(folder)
    filler = fill(folder)
    assert not has_room(folder)
    assert out_of_space(RuntimeError("NetCDF: HDF error"), folder)
    filler.unlink()
    assert has_room(folder)
    assert not out_of_space(RuntimeError("NetCDF: HDF error"), folder)


def test_a_missing_folder_or_a_file_has_no_room(tmp_path):
    assert not has_room(tmp_path / "missing")
    (tmp_path / "file.txt").touch()
    assert not has_room(tmp_path / "file.txt")


def test_enospc_anywhere_in_the_chain_is_out_of_space(tmp_path):
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise ValueError("writing the status document failed") from inner
    except ValueError as outer:
        assert out_of_space(outer, tmp_path)
    assert not out_of_space(ValueError("something else"), tmp_path)
