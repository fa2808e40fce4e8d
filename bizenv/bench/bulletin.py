"""Bulletin: one county's PDF edition, and the month's full pack, each built and archived as `bizenv report` does.

Both go through `generate_bulletins` (read the month, draw the charts in headless Chromium, render, archive into
the run's own folder), so the times include starting the chart browser once per call.
"""

from __future__ import annotations

import time
from typing import Any

from bizenv.bench.workspace import TRIGGER, Site
from models.db import Warehouse


def _generate(site: Site, *, period: str, regions: list[str] | None, formats: list[str] | None) -> dict[str, Any]:
    from bizenv.bulletin.service import generate_bulletins

    warehouse = Warehouse(site.url)
    try:
        started = time.perf_counter()
        entries = generate_bulletins(warehouse=warehouse, config=site.config, period=period, region_codes=regions,
                                     formats=formats, trigger=TRIGGER)
        seconds = time.perf_counter() - started
    finally:
        warehouse.dispose()
    return {"seconds": seconds, "files": len(entries), "bytes": sum(e.size_bytes for e in entries),
            "editions": len({e.region_code for e in entries}), "formats": sorted({e.format for e in entries})}


def bench_bulletin(site: Site, *, period: str) -> dict[str, Any]:
    """One county's PDF, then every edition of the month in the configured formats; a missing browser is reported."""
    from bizenv.bulletin.errors import BulletinError

    county = site.config.city.units[0]
    try:
        one = _generate(site, period=period, regions=[county.code], formats=["pdf"])
        pack = _generate(site, period=period, regions=None, formats=None)
    except BulletinError as exc:
        return {"period": period, "skipped": str(exc)}
    return {"period": period, "county": {"region": county.code, "name": county.name_zh, **one}, "pack": pack}
