"""One benchmark run: generate the sources, load them, then measure each asked-for section, into one dict."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bizenv.bench import DEFAULT_MONTHS, DEFAULT_SCALE, SECTIONS
from bizenv.bench.workspace import BenchError, Site, prepare_site
from models.config import Config
from models.db import Warehouse

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """What `bizenv bench` was asked for."""

    scale: float = DEFAULT_SCALE
    months: int = DEFAULT_MONTHS
    database: str | None = None
    sections: Sequence[str] = SECTIONS
    runs: int = 5  # timed requests per dashboard callback
    kpi_runs: int = 30  # timed answers of the KPI, each way
    cache: Sequence[str] = ("cold", "warm")
    pages: Sequence[str] | None = None
    workdir: Path | None = None
    keep: bool = False
    browser: bool = True  # full page loads in headless Chromium, in the dashboard section
    today: dt.date | None = None


def kpi_month(site: Site) -> str:
    """The month the dashboard opens on: the last full month, or the running one when it is all there is."""
    from models.kpis import previous_period

    return previous_period(site.end_month) if site.start_month < site.end_month else site.end_month


def _machine(site: Site) -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    out: dict[str, Any] = {"python": platform.python_version(), "cores": os.cpu_count(), "load_average": load[0],
                           "database": site.engine_name}
    if site.engine_name == "sqlite":
        out["database_version"] = sqlite3.sqlite_version
    else:
        warehouse = Warehouse(site.url)
        try:
            with warehouse.engine.connect() as conn:
                out["database_version"] = conn.exec_driver_sql("SHOW server_version").scalar()
        finally:
            warehouse.dispose()
    return out


def _drop_scratch(site: Site) -> None:
    """Scratch tables left in a PostgreSQL warehouse by an interrupted run."""
    from bizenv.bench.etl import SCRATCH_PREFIX

    if site.engine_name != "postgresql":
        return
    warehouse = Warehouse(site.url)
    try:
        with warehouse.engine.begin() as conn:
            for name in inspect(conn).get_table_names():
                if name.startswith(SCRATCH_PREFIX):
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        warehouse.dispose()


def _marts(site: Site, options: Options, month: str, echo: Echo) -> dict[str, Any]:
    from bizenv.bench.marts import bench_marts

    return bench_marts(site, echo=echo)


def _dashboard(site: Site, options: Options, month: str, echo: Echo) -> dict[str, Any]:
    from bizenv.bench.dashboard import callbacks, kpi_three_ways

    echo("  callbacks ...")
    out: dict[str, Any] = {"runs": options.runs, "cache": list(options.cache),
                           "callbacks": callbacks(site, runs=options.runs, states=options.cache, pages=options.pages)}
    echo("  one KPI three ways ...")
    out["kpi"] = kpi_three_ways(site, month=month, runs=options.kpi_runs)
    if options.browser:
        from bizenv.bench.browser import PAGES, page_loads

        echo("  full page loads in Chromium ...")
        paths = [("/" if name == "overview" else f"/{name}") for name in options.pages] if options.pages else PAGES
        out["browser"] = page_loads(site, runs=options.runs, pages=paths, echo=echo)
    return out


def _bulletin(site: Site, options: Options, month: str, echo: Echo) -> dict[str, Any]:
    from bizenv.bench.bulletin import bench_bulletin

    return bench_bulletin(site, period=month)


SECTION_RUNNERS: dict[str, Callable[[Site, Options, str, Echo], dict[str, Any]]] = {
    "marts": _marts, "dashboard": _dashboard, "bulletin": _bulletin}


def run_bench(*, config: Config, options: Options, echo: Echo) -> dict[str, Any]:
    """Every figure of one run, as a JSON-ready dict."""
    from bizenv.bench.etl import bench_etl

    if "dashboard" in options.sections and importlib.util.find_spec("duckdb") is None:
        raise BenchError("the dashboard section compares the marts with DuckDB, which is not installed: "
                         "pip install 'bizenv[bench]', or leave the section out with --sections")
    started = time.perf_counter()
    own_dir = options.workdir is None
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="bizenv-bench-"))
    site: Site | None = None
    try:
        echo(f"generating sources at scale {options.scale} over {options.months} month(s) in {workdir} ...")
        site, generated = prepare_site(config=config, workdir=workdir, database_url=options.database,
                                       scale=options.scale, months=options.months, today=options.today)
        result: dict[str, Any] = {
            "params": {"scale": options.scale, "months": options.months, "start_month": site.start_month,
                       "end_month": site.end_month, "new_day": site.now.date().isoformat(),
                       "sections": list(options.sections), "workdir": str(workdir),
                       "database": make_url(site.url).render_as_string(hide_password=True),
                       "started_at": dt.datetime.now().isoformat(timespec="seconds")},
            "machine": _machine(site), "generate": generated}
        timings: dict[str, float] = {}
        result["section_seconds"] = timings
        clock = time.perf_counter()
        echo("ETL: a full load of each job ...")
        result["etl"] = bench_etl(site, compare="etl" in options.sections, echo=echo)
        timings["etl"] = time.perf_counter() - clock
        month = kpi_month(site)
        for name in ("marts", "dashboard", "bulletin"):
            if name in options.sections:
                clock = time.perf_counter()
                echo(f"{name} ...")
                result[name] = SECTION_RUNNERS[name](site, options, month, echo)
                timings[name] = time.perf_counter() - clock
        result["seconds"] = time.perf_counter() - started
        return result
    finally:
        if site is not None:
            _drop_scratch(site)
        if own_dir and not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
