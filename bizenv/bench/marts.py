"""Marts: the full rebuild (`bizenv kpi rebuild`) and the incremental refresh after one new day of data.

The new day goes through the real ETL (`run_job` for every job, which refreshes the marts it dirtied); the pairs
its rows fall in are then marked stale again and `refresh_dirty_marts` is timed alone on exactly those pairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, insert, text

from bizenv.bench.child import in_child
from bizenv.bench.etl import job_order, run_one_job
from bizenv.bench.workspace import Site, add_new_day, approval_api
from models.config import Config
from models.db import Warehouse
from models.kpis import FACT_MONTHS
from models.ops import EtlDirtyPeriod

Echo = Callable[[str], None]


def rebuild(*, config: Config, url: str) -> dict[str, Any]:
    """`bizenv kpi rebuild`: every mart row from the facts in one transaction; runs in a child process."""
    from models.kpis import rebuild_kpi_marts

    warehouse = Warehouse(url)
    try:
        started = time.perf_counter()
        with warehouse.engine.begin() as conn:
            rows = rebuild_kpi_marts(conn=conn, config=config)
        return {"seconds": time.perf_counter() - started, "rows": rows}
    finally:
        warehouse.dispose()


def run_jobs_timed(*, config: Config, url: str, jobs: list[str]) -> dict[str, Any]:
    """Each job in turn, in one process, each timed around `run_job`; runs in a child process."""
    return {"runs": [{"job": name, **run_one_job(config=config, url=url, job=name)} for name in jobs]}


def refresh(*, config: Config, url: str) -> dict[str, Any]:
    """`refresh_dirty_marts` alone, as every ETL run ends; runs in a child process."""
    from etl.jobs import refresh_dirty_marts

    warehouse = Warehouse(url)
    try:
        started = time.perf_counter()
        rows = refresh_dirty_marts(warehouse=warehouse, config=config)
        return {"seconds": time.perf_counter() - started, "rows": rows}
    finally:
        warehouse.dispose()


def new_day_pairs(url: str, run_ids: list[int]) -> dict[str, set[tuple[str, str]]]:
    """(region, month) pairs of the facts the new day's runs wrote, by fact table, in the marts' month columns."""
    warehouse = Warehouse(url)
    out: dict[str, set[tuple[str, str]]] = {}
    try:
        with warehouse.engine.connect() as conn:
            for table, period in FACT_MONTHS.items():
                sql = text(f"SELECT DISTINCT region_code, {period} FROM {table} "
                           f"WHERE etl_run_id IN :ids AND {period} IS NOT NULL").bindparams(
                    bindparam("ids", expanding=True))
                pairs = {(r[0], r[1]) for r in conn.execute(sql, {"ids": run_ids})}
                if pairs:
                    out[table] = pairs
    finally:
        warehouse.dispose()
    return out


def mark_stale(url: str, pairs: dict[str, set[tuple[str, str]]]) -> None:
    """Mark the pairs stale again, as the new day's load did before its own refresh cleared them."""
    rows = [{"fact_table": t, "region_code": r, "period": p} for t, ps in pairs.items() for r, p in sorted(ps)]
    warehouse = Warehouse(url)
    try:
        with warehouse.engine.begin() as conn:
            conn.execute(EtlDirtyPeriod.__table__.delete())
            if rows:
                conn.execute(insert(EtlDirtyPeriod), rows)
    finally:
        warehouse.dispose()


def describe_pairs(pairs: dict[str, set[tuple[str, str]]]) -> dict[str, Any]:
    """How many pairs, regions and months, per fact table and in all."""
    per_table = {t: {"pairs": len(ps), "regions": len({r for r, _ in ps}), "periods": sorted({p for _, p in ps})}
                 for t, ps in pairs.items()}
    every = set().union(*pairs.values()) if pairs else set()
    return {"pairs": sum(len(ps) for ps in pairs.values()), "regions": len({r for r, _ in every}),
            "periods": sorted({p for _, p in every}), "tables": per_table}


def bench_marts(site: Site, *, echo: Echo) -> dict[str, Any]:
    """The rebuild, then one new day through the ETL, then the incremental refresh of the pairs it touched."""
    echo("  kpi rebuild ...")
    out: dict[str, Any] = {"rebuild": in_child(rebuild, config=site.config, url=site.url)}
    echo("  delivering one new day into the sources ...")
    day = add_new_day(site)
    echo("  the new day through every job ...")
    with approval_api(site):
        loaded = in_child(run_jobs_timed, config=site.config, url=site.url, jobs=job_order(site.config))
    runs = loaded["runs"]
    pairs = new_day_pairs(site.url, [r["run_id"] for r in runs])
    out["new_day"] = {**day, "rows_read": sum(r["rows_read"] for r in runs),
                      "rows_loaded": sum(r["rows_inserted"] + r["rows_updated"] for r in runs),
                      "rows_rejected": sum(r["rows_rejected"] for r in runs),
                      "seconds_etl": sum(r["seconds"] for r in runs), "jobs": runs,
                      "peak_rss_mb": loaded["peak_rss_mb"],
                      "failed": [r["job"] for r in runs if r["status"] != "success"]}
    mark_stale(site.url, pairs)
    echo("  incremental refresh ...")
    out["refresh"] = {**in_child(refresh, config=site.config, url=site.url), **describe_pairs(pairs)}
    return out
