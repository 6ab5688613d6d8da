"""``cp4cds-wps inventory export``: the catalogs of the inventory written into a folder."""

from __future__ import annotations

from pathlib import Path

from cp4cds_wps.catalogue import intake_esm, stac
from cp4cds_wps.catalogue.exports import Assets, projects
from cp4cds_wps.config import Settings
from cp4cds_wps.inventory import Inventory


def export(
    inventory: Inventory,
    settings: Settings,
    folder: Path,
    kind: str = "all",
    paths: str = "url",
    base_url: str | None = None,
) -> list[Path]:
    """Write the intake-esm catalogs (``<folder>/intake-esm/<project>.json`` and ``.csv``)
    and the STAC catalog (``<folder>/stac/catalog.json`` and below).

    Parameters
    ----------
    kind
        ``all``, ``intake-esm`` or ``stac``.
    paths
        Assets as the service's ``/data`` URLs (``url``) or local file paths (``local``).
    base_url
        The URL ``folder`` will be served at (the STAC documents' links); default: the
        folder itself (``file://``).

    Returns
    -------
    list of Path
        The files written that tools open: each intake-esm JSON, the STAC root.
    """
    assets = Assets(paths, settings.data_url)
    written = []
    if kind in ("all", "intake-esm"):
        for project in projects(inventory):
            json_path, _ = intake_esm.export(inventory, project, folder / "intake-esm", assets)
            written.append(json_path)
    if kind in ("all", "stac"):
        base = f"{base_url.rstrip('/')}/stac" if base_url else None
        written.append(stac.export(inventory, folder / "stac", assets, base))
    return written
