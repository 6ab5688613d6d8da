"""The quality control's records in the inventory, and what the ``[qc] serve`` policy makes
of them."""

from __future__ import annotations

from cp4cds_wps.inventory.records import Dataset


def refusal(dataset: Dataset, serve: str) -> str | None:
    """Why a dataset is not served under the policy ``serve`` (None: it is served).

    Under ``"passed"``, a dataset whose quality control failed is refused with its first
    error, one whose quality control is pending with that.
    """
    if serve != "passed" or dataset.status in ("passed", "warnings"):
        return None
    if dataset.status == "pending":
        return (
            f"the quality control of {dataset.id} has not finished yet, and this service "
            "serves only datasets that passed it; try again later"
        )
    errors = [str(f) for f in dataset.findings if f.severity == "error"]
    errors += [str(e) for e in dataset.errata if e.severity == "critical"]
    return f"{dataset.id} failed quality control, and this service serves only datasets " + (
        f"that passed it: {'; '.join(errors)}"
    )
