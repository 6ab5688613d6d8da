"""The coverage matrix (see :mod:`tests.coverage.matrix`): every operation on datasets of the
archive passes, CF-compliant and equal to an independent computation, or is refused as
:mod:`tests.coverage.refusals` lists, with the reason named.

The default run covers :data:`REPRESENTATIVE` (one dataset per project, grid kind and
frequency); the full matrix over every dataset of the archive is marked ``matrix``
(``pytest -m matrix``; ``.ci/run`` runs it as a step of its own).
"""

from __future__ import annotations

import pytest

from cp4cds_wps.inventory import Inventory
from tests.coverage.matrix import OPERATIONS, run_cell

pytestmark = pytest.mark.realdata

#: One dataset per project, grid kind (regular, sparse, curvilinear, rotated pole,
#: unstructured, no grid) and frequency (fixed, daily, monthly).
REPRESENTATIVE = (
    "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas",
    "cmip5.output1.INM.inmcm4.rcp45.mon.ocean.Omon.r1i1p1.latest.zostoga",
    "CMIP6.ScenarioMIP.MIROC.MIROC6.ssp119.r1i1p1f1.Amon.ta.gn.v20190807",
    "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.SImon.siconc.gn.latest",
    "CMIP6.CMIP.MPI-M.ICON-ESM-LR.historical.r1i1p1f1.Amon.tas.gn.v20210215",
    "CMIP6.DCPP.DWD.MPI-ESM1-2-LR.dcppA-hindcast.s1980-r1i1p1f1.day.tasmax.gn.v20220126",
    "CMIP6.ScenarioMIP.NCC.NorESM2-MM.ssp126.r1i1p1f1.Ofx.sftof.gn.v20191108",
    "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212",
    "c3s-cica-atlas.t.E-OBS.mon.v1",
    "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231",
)


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


def _check(inventory, dataset_ids, operation, tmp_path):
    outcomes = [
        run_cell(inventory, dataset_id, operation, tmp_path / str(n))
        for n, dataset_id in enumerate(dataset_ids)
    ]
    failed = [f"{o.dataset}: {o.detail}" for o in outcomes if o.status == "fail"]
    assert not failed, f"{len(failed)} of {len(outcomes)} failed:\n" + "\n".join(failed)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_representative_datasets(inventory, tmp_path, operation):
    _check(inventory, REPRESENTATIVE, operation, tmp_path)


@pytest.mark.matrix
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_dataset(inventory, tmp_path, operation):
    _check(inventory, [d.id for d in inventory.list()], operation, tmp_path)
