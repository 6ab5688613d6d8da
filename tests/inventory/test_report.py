"""The operator's views of a dataset: its files, issues, quality, errata and fixes."""

from __future__ import annotations

from cp4cds_wps.config import QcSettings, Root
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.inventory.report import describe, summarize
from cp4cds_wps.qc import run_qc
from tests.quirks import ID, write_member


def test_show_and_list_give_quality_findings_errata_and_fixes(tmp_path):
    write_member(tmp_path / "CMIP6", "r1i1p1f1", 0, conflict=True)
    register = tmp_path / "errata.toml"
    register.write_text(
        '[[errata]]\nuid = "E7"\nseverity = "high"\ntitle = "December 2001 twice"\n'
        f'datasets = ["{ID.format(member="*")}"]\nurl = "https://errata.example.org/E7"\n'
        'description = "the second file repeats it with wrong values"\n'
        'fixes = [{ action = "set_units", variable = "tas", units = "K" }]\n'
    )
    inventory = Inventory(
        tmp_path / "db" / "inventory.sqlite",
        [Root("cmip6", tmp_path / "CMIP6", "cmip6")],
        known_issues=register,
        serve="passed",
    )
    inventory.scan()
    assert "quality:   pending" in describe(inventory.list()[0])
    run_qc(inventory, QcSettings(checks=("coordinates",), cache=tmp_path / "cache.sqlite"))
    (dataset,) = inventory.list()
    text = describe(dataset)
    assert "  quality:   failed" in text
    assert f"  refused:   {dataset.id} failed quality control" in text
    assert "    - error (time): tas_Amon_MODEL_historical_r1i1p1f1_gn_200001-200112.nc and " in text
    assert "    - warning (time): gap between " in text
    assert "    - high erratum E7: December 2001 twice (https://errata.example.org/E7)" in text
    assert "      the second file repeats it with wrong values" in text
    assert "      fix: fix of erratum E7: tas units set to 'K'" in text
    assert summarize([dataset]).endswith("  failed  !2 issue(s)")
