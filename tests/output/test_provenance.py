"""PROV documents of requests: JSON content and the PNG drawing."""

from __future__ import annotations

import json
import struct

import pytest
from prov.model import ProvDocument

from cp4cds_wps.output.provenance import Provenance

SOFTWARE = {"cp4cds-wps": "0.1.0", "clisops": "0.18.1", "xarray": "2025.10.1"}
PARAMETERS = {"time": "1860-01-01/1869-12-30", "area": "0,-10,20,10"}
DATASET = "c3s-cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.tas"
FILES = [
    ("tas_Amon_HadGEM2-ES_historical_r1i1p1_185912-188411.nc", "0123456789abcdef0123456789abcdef"),
    ("tas_Amon_HadGEM2-ES_historical_r1i1p1_188412-190911.nc", None),
]
OUTPUT = "tas_Amon_HadGEM2-ES_historical_r1i1p1_186001-186912.nc"
URL = f"http://localhost:5000/outputs/1234/{OUTPUT}"


@pytest.fixture
def provenance() -> Provenance:
    prov = Provenance("subset", PARAMETERS, software=SOFTWARE)
    prov.add_input(DATASET, "v20120928", FILES)
    prov.add_output(OUTPUT, URL)
    return prov


def records(document: ProvDocument, kind: str) -> dict[str, dict]:
    """Records of one kind ('entity', 'activity'...) by identifier, from PROV-JSON."""
    return json.loads(document.serialize(format="json")).get(kind, {})


def test_json_parses_and_holds_the_request(provenance):
    doc = ProvDocument.deserialize(content=provenance.json(), format="json")
    text = provenance.json()
    entities = records(doc, "entity")
    dataset = entities[f"esgf:{DATASET}.v20120928"]
    assert dataset["esgf:dataset_id"] == DATASET
    assert dataset["esgf:version"] == "v20120928"
    files = {e["prov:label"]: e for e in entities.values() if e["prov:label"].startswith("tas_")}
    assert files[FILES[0][0]]["esgf:checksum"] == FILES[0][1]
    assert "esgf:checksum" not in files[FILES[1][0]]
    assert files[OUTPUT]["prov:location"] == URL
    (activity,) = records(doc, "activity").values()
    assert activity["prov:label"] == "subset"
    assert {
        k.removeprefix("cp4cds:"): v for k, v in activity.items() if k.startswith("cp4cds:")
    } == PARAMETERS
    agents = {a["prov:label"] for a in records(doc, "agent").values()}
    assert agents == {f"{name} {version}" for name, version in SOFTWARE.items()}
    assert "startTime" in text


def test_relations_link_inputs_activity_and_outputs(provenance):
    doc = json.loads(provenance.json())
    dataset, output = f"esgf:{DATASET}.v20120928", "cp4cds:output/" + OUTPUT
    assert [r["prov:entity"] for r in doc["used"].values()] == [dataset]
    assert sorted(r["prov:entity"] for r in doc["hadMember"].values()) == sorted(
        f"{dataset}.{name}" for name, _ in FILES
    )
    assert [r["prov:entity"] for r in doc["wasGeneratedBy"].values()] == [output]
    assert [
        (r["prov:generatedEntity"], r["prov:usedEntity"]) for r in doc["wasDerivedFrom"].values()
    ] == [(output, dataset)]
    (association,) = doc["wasAssociatedWith"].values()
    assert association["prov:agent"] == "cp4cds:software/cp4cds-wps"
    assert len(doc["actedOnBehalfOf"]) == len(SOFTWARE) - 1


def test_dataset_id_with_version_not_repeated():
    prov = Provenance("subset", {}, software=SOFTWARE)
    prov.add_input(
        "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803", "v20180803", []
    )
    assert (
        "esgf:CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"
        in records(prov.doc, "entity")
    )


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_is_a_png_growing_with_the_graph(provenance, tmp_path):
    small = png_size(provenance.plot(tmp_path / "small.png"))
    assert 600 <= small[0] <= 3000 and 200 <= small[1] <= 2000
    big = Provenance("subset", PARAMETERS, software=SOFTWARE)
    big.add_input(DATASET, "v20120928", [(f"tas_{i}.nc", None) for i in range(12)])
    big.add_output(OUTPUT)
    assert png_size(big.plot(tmp_path / "big.png"))[1] > small[1]


def test_an_inputs_quality_errata_and_fixes_are_attributes_of_its_entity():
    prov = Provenance("subset", {}, software={"cp4cds-wps": "0.1.0"})
    identifier = prov.add_input(
        "c3s-cmip5.x.tas",
        "v1",
        [("tas_1.nc", None)],
        qc_status="warnings",
        findings=["warning (time): gap between tas_1.nc and tas_2.nc"],
        errata=["medium erratum E1: units (https://errata.example.org/E1)"],
        fixes=["fix of erratum E1: tas units set to 'K'"],
    )
    entity = json.loads(prov.json())["entity"][identifier]
    assert entity["cp4cds:qc_status"] == "warnings"
    assert entity["cp4cds:qc_finding"] == "warning (time): gap between tas_1.nc and tas_2.nc"
    assert entity["cp4cds:erratum"] == "medium erratum E1: units (https://errata.example.org/E1)"
    assert entity["cp4cds:fix"] == "fix of erratum E1: tas units set to 'K'"
    other = Provenance("subset", {}, software={})
    plain = other.add_input("c3s-cmip5.x.tas", "v1", [])
    assert not any(k.startswith("cp4cds:") for k in json.loads(other.json())["entity"][plain])
