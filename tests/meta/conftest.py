"""The scanned test archive, shared by the meta tests."""

from __future__ import annotations

import pytest

from cp4cds_wps.inventory import Inventory


@pytest.fixture(scope="session")
def inventory(settings) -> Inventory:
    """The inventory of the test archive, scanned once."""
    found = Inventory.from_settings(settings)
    found.ensure_scanned()
    return found
