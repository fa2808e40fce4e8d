"""ETL: a full load of each job, then the same rows inserted the fastest way (the limit) and the naive way.

Each job's load runs in its own spawned process (see `bizenv.bench.child`), so its peak RSS is its own and no load
warms another's caches; the limit and the naive way run after them in one more process. The ETL is timed end to
end, source to refreshed marts (`run_job`). The limit and the naive way read the loaded table back (untimed) and
insert those rows into an empty scratch table with the table's columns and primary key and no secondary index:
the limit with a raw `sqlite3` `executemany` (COPY through psycopg 3 on PostgreSQL), the naive way with
`DataFrame.to_sql` and its default method. The limit is measured once more into a copy that also has the table's
secondary indexes ("indexed"): the cost any loader of that table pays, whatever it does before the insert.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Column, Index, MetaData, Table, func, select, text

from bizenv.bench.child import in_child
from bizenv.bench.workspace import TRIGGER, Site, approval_api
from models.config import Config
from models.db import Warehouse
from models.dims import DimServiceItem
from models.facts import FactApprovalCase, FactCountyFigure, FactHotlineTicket, FactRating

# The table each dataset loads: what the ETL's rows are counted in and what the limit and naive way write.
TABLES = {"service_items": DimServiceItem.__table__, "approvals": FactApprovalCase.__table__,
          "hotline": FactHotlineTicket.__table__, "ratings": FactRating.__table__,
          "county_figures": FactCountyFigure.__table__}
SCRATCH_PREFIX = "bench_scratch_"
KINDS = ("limit", "indexed", "naive")  # the baselines each load is compared with

Echo = Callable[[str], None]


def job_order(config: Config) -> list[str]:
    """Jobs as `run_jobs` orders them: the catalogue first, since approvals are checked against it."""
    return sorted(config.jobs, key=lambda n: 0 if config.jobs[n].dataset == "service_items" else 1)


def run_one_job(*, config: Config, url: str, job: str) -> dict[str, Any]:
    """One job's run, timed around `run_job` (source to refreshed marts); runs in a child process."""
    from etl.jobs import run_job

    warehouse = Warehouse(url)
    try:
        started = time.perf_counter()
        s = run_job(warehouse=warehouse, config=config, name=job, trigger=TRIGGER)
        seconds = time.perf_counter() - started
    finally:
        warehouse.dispose()
    return {"seconds": seconds, "status": s.status, "error": s.error, "run_id": s.run_id, "rows_read": s.rows_read,
            "rows_inserted": s.rows_inserted, "rows_updated": s.rows_updated, "rows_rejected": s.rows_rejected,
            "marts_rows": s.marts_refreshed}


def scratch_table(table: Table, *, indexed: bool = False) -> Table:
    """An empty copy of a table's columns and primary key, without foreign keys; with its secondary indexes
    (partial ones included) when `indexed`."""
    columns = [Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in table.columns]
    scratch = Table(SCRATCH_PREFIX + table.name, MetaData(), *columns)
    if indexed:
        for index in table.indexes:
            Index(SCRATCH_PREFIX + str(index.name), *(scratch.c[c.name] for c in index.columns),
                  unique=index.unique, **index.dialect_kwargs)
    return scratch


def _fresh(engine: Any, table: Table, *, indexed: bool = False) -> Table:
    scratch = scratch_table(table, indexed=indexed)
    with engine.begin() as conn:
        scratch.drop(conn, checkfirst=True)
        scratch.create(conn)
    return scratch


def _count(engine: Any, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)))


# The limit and to_sql get at most this many of the loaded rows: both hold their rows in memory before the timed
# insert (5.2M approval cases as Python tuples and a frame took 22 GB at scale 1.0 over 46 months), and a rate
# over a million rows is as good a rate.
BASELINE_ROWS = 1_000_000


def _select_sql(table: Table) -> str:
    return f"SELECT {', '.join(c.name for c in table.columns)} FROM {table.name} LIMIT {BASELINE_ROWS}"


def _raw_insert(engine: Any, scratch: Table, rows: Sequence[tuple]) -> tuple[str, float]:
    """The limit: rows straight into the driver, one transaction; (method, seconds)."""
    names = [c.name for c in scratch.columns]
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        if engine.dialect.name == "sqlite":
            sql = f"INSERT INTO {scratch.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
            started = time.perf_counter()
            if not driver.in_transaction:
                driver.execute("BEGIN")
            driver.executemany(sql, rows)
            driver.commit()
            return "sqlite3 executemany", time.perf_counter() - started
        started = time.perf_counter()
        with driver.cursor() as cur, cur.copy(f"COPY {scratch.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        driver.commit()
        return "COPY (psycopg 3)", time.perf_counter() - started
    finally:
        raw.close()


def _baseline(source: Warehouse, target: Warehouse, dataset: str) -> dict[str, Any]:
    table = TABLES[dataset]
    with source.engine.connect() as conn:  # untimed: the same rows, as the database returns them
        rows = [tuple(r) for r in conn.exec_driver_sql(_select_sql(table))]
    scratch = _fresh(target.engine, table)
    method, limit_seconds = _raw_insert(target.engine, scratch, rows)
    limit_rows = _count(target.engine, scratch)
    scratch = _fresh(target.engine, table, indexed=True)
    _method, indexed_seconds = _raw_insert(target.engine, scratch, rows)
    indexed_rows = _count(target.engine, scratch)
    del rows
    with source.engine.connect() as conn:  # untimed: the frame a pandas user would have
        frame = pd.read_sql_query(text(_select_sql(table)), conn)
    scratch = _fresh(target.engine, table)
    started = time.perf_counter()
    frame.to_sql(scratch.name, target.engine, if_exists="append", index=False)
    naive_seconds = time.perf_counter() - started
    naive_rows = _count(target.engine, scratch)
    with target.engine.begin() as conn:
        scratch.drop(conn, checkfirst=True)
    return {"limit": {"method": method, "rows": limit_rows, "seconds": limit_seconds},
            "indexed": {"method": f"{method}, with the table's indexes", "rows": indexed_rows,
                        "seconds": indexed_seconds},
            "naive": {"method": "pandas to_sql", "rows": naive_rows, "seconds": naive_seconds}}


def baselines(*, url: str, scratch_url: str, datasets: Sequence[str]) -> dict[str, Any]:
    """Each dataset's loaded rows inserted by the limit and by `to_sql` into empty scratch tables; runs in a child."""
    source, target = Warehouse(url), Warehouse(scratch_url)
    try:
        return {"datasets": {d: _baseline(source, target, d) for d in datasets}}
    finally:
        source.dispose()
        target.dispose()


def _rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else 0.0


def table_rows(url: str, dataset: str) -> int:
    """Rows in the table a dataset loads."""
    warehouse = Warehouse(url)
    try:
        return _count(warehouse.engine, TABLES[dataset])
    finally:
        warehouse.dispose()


def bench_etl(site: Site, *, compare: bool, echo: Echo) -> dict[str, Any]:
    """A full load of every job, each beside the limit and the naive way (when `compare`)."""
    jobs: list[dict[str, Any]] = []
    with approval_api(site):
        for name in job_order(site.config):
            dataset = site.config.jobs[name].dataset
            echo(f"  loading {name} ...")
            run = in_child(run_one_job, config=site.config, url=site.url, job=name)
            rows = table_rows(site.url, dataset)
            entry = {"job": name, "dataset": dataset, "table": TABLES[dataset].name, "rows": rows,
                     "rows_per_s": _rate(rows, run["seconds"]), **run}
            jobs.append(entry)
    if compare:
        echo("  the same rows by the limit and by to_sql ...")
        base = in_child(baselines, url=site.url, scratch_url=site.scratch_url, datasets=[j["dataset"] for j in jobs])
        for entry in jobs:
            for kind in KINDS:
                figures = base["datasets"][entry["dataset"]][kind]
                entry[kind] = {**figures, "rows_per_s": _rate(figures["rows"], figures["seconds"])}
            _ratios(entry)
    return {"jobs": jobs, "total": _total(jobs, compare)}


def _ratios(entry: dict[str, Any]) -> None:
    """ETL rows/s over the limit's and over to_sql's (None when a side has no rate)."""
    for kind in KINDS:
        other = entry[kind]["rows_per_s"]
        entry[f"ratio_{kind}"] = entry["rows_per_s"] / other if other else None


def _total(jobs: list[dict[str, Any]], compare: bool) -> dict[str, Any]:
    rows = sum(j["rows"] for j in jobs)
    seconds = sum(j["seconds"] for j in jobs)
    total: dict[str, Any] = {"rows": rows, "seconds": seconds, "rows_per_s": _rate(rows, seconds),
                             "rows_read": sum(j["rows_read"] for j in jobs),
                             "peak_rss_mb": max((j["peak_rss_mb"] for j in jobs), default=0.0),
                             "children_peak_rss_mb": max((j["children_peak_rss_mb"] for j in jobs), default=0.0)}
    if compare and jobs:
        for kind in KINDS:
            k_rows = sum(j[kind]["rows"] for j in jobs)
            k_seconds = sum(j[kind]["seconds"] for j in jobs)
            total[kind] = {"method": jobs[0][kind]["method"], "rows": k_rows, "seconds": k_seconds,
                           "rows_per_s": _rate(k_rows, k_seconds)}
        _ratios(total)
    return total
