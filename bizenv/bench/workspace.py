"""The benchmark's own world: generated sources, a warehouse it may reset, the approval API on loopback.

The sources are the demo's (`generate_sources`), wired as `bizenv demo` wires them (`demo_wired`), with their
extraction moment at the start of yesterday; `add_new_day` then delivers yesterday, as the same generator sees it
a day later, so the incremental refresh is measured on one real day of new and changed rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import sqlite3
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import MetaData, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from etl.demo.approval_api import start_process
from etl.demo.generator import UnitSpec, generate_sources
from etl.demo_build import demo_wired, month_span
from models.calendar import CalendarFallbackWarning
from models.config import Config, HttpApiSource
from models.db import Warehouse
from models.migrate import prepare_warehouse
from models.ops import EtlRun

TRIGGER = "bench"
SOURCES = "sources"
NEXT_DAY = "sources-next-day"
# Source tables that a new day adds to or changes, and the column that says when a row last changed.
SQL_SOURCES = {"approval_platform.db": {"items": ("SXBM", "GXSJ"), "cases": ("SBLSH", "GXSJ")},
               "hotline.db": {"t_gd": ("gdbh", "gxsj")}}
INBOXES = ("ratings/inbox", "county_figures/inbox")

Echo = Callable[[str], None]


class BenchError(Exception):
    """The benchmark cannot run as asked; the message says why and what to do."""


@dataclass
class Site:
    """Where one benchmark run keeps everything, and the moments its sources are cut at."""

    config: Config  # wired to the generated sources, a free API port and a private bulletin archive
    url: str  # the warehouse
    scratch_url: str  # where the limit and the naive way insert the same rows
    workdir: Path
    start_month: str
    end_month: str
    now: dt.datetime  # the sources' extraction moment: the start of the new day
    scale: float
    inbox_names: dict[str, set[str]] = field(default_factory=dict)  # files delivered before the new day

    @property
    def sources(self) -> Path:
        return self.workdir / SOURCES

    @property
    def engine_name(self) -> str:
        return make_url(self.url).get_backend_name()


def bench_moments(tz: str, today: dt.date | None = None) -> tuple[dt.datetime, str]:
    """(extraction moment, its month): the start of yesterday in the city's timezone, so yesterday is the new day."""
    today = today or dt.datetime.now(ZoneInfo(tz)).date()
    now = dt.datetime.combine(today - dt.timedelta(days=1), dt.time())
    return now, f"{now.year}-{now.month:02d}"


def free_port() -> int:
    """A free TCP port on loopback for the approval API."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _units(config: Config) -> list[UnitSpec]:
    return [UnitSpec(code=u.code, name_zh=u.name_zh, short_zh=u.short_zh, name_en=u.short_en)
            for u in config.city.units]


def _api(config: Config) -> tuple[str, HttpApiSource]:
    for name, src in config.sources.items():
        if isinstance(src, HttpApiSource):
            return name, src
    raise BenchError("config.yaml has no http_api source for the approval platform")


def wire(config: Config, *, workdir: Path, url: str) -> Config:
    """The config pointed at the run's sources, a free API port, its warehouse and a private bulletin archive."""
    name, api = _api(config)
    api = api.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}"})
    wired = config.model_copy(update={
        "sources": {**config.sources, name: api},
        "demo": config.demo.model_copy(update={"sources_dir": str(workdir / SOURCES)}),
        "warehouse": config.warehouse.model_copy(update={"url": url}),
        "bulletin": config.bulletin.model_copy(update={"archive_dir": str(workdir / "reports")}),
    })
    return demo_wired(wired, workdir / SOURCES)


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database of `url` when it does not exist yet."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def _holds_only_bench_runs(warehouse: Warehouse) -> bool:
    with warehouse.engine.connect() as conn:
        if not inspect(conn).has_table(EtlRun.__tablename__):
            return not inspect(conn).get_table_names()
        return not conn.scalar(select(func.count()).select_from(EtlRun).where(EtlRun.trigger != TRIGGER))


def reset_warehouse(*, url: str, config: Config) -> None:
    """Empty the benchmark's warehouse to the latest schema; refuse one that holds anything but earlier benchmarks."""
    warehouse = Warehouse(url)
    try:
        if not _holds_only_bench_runs(warehouse):
            raise BenchError(f"{warehouse.engine.url.render_as_string()} holds data that is not the benchmark's; "
                             "the benchmark empties its database, so point --database at a separate one")
        tables = MetaData()
        tables.reflect(bind=warehouse.engine)  # every table as it is, whatever migrations made it
        with warehouse.engine.begin() as conn:
            tables.drop_all(conn)
        prepare_warehouse(warehouse=warehouse, config=config)
    finally:
        warehouse.dispose()


def _generate(config: Config, *, out_dir: Path, start: str, end: str, scale: float, now: dt.datetime) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        return generate_sources(out_dir=out_dir, units=_units(config), start_month=start, end_month=end,
                                scale=scale, seed=config.demo.seed, now=now)


def prepare_site(*, config: Config, workdir: Path, database_url: str | None, scale: float, months: int,
                 today: dt.date | None = None) -> tuple[Site, dict]:
    """Wire the config, empty the warehouse and generate the sources; returns the site and the generation figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir / 'warehouse.db'}"
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BenchError(f"--database: expected a sqlite:/// or postgresql+psycopg:// URL, got {backend!r}")
    if backend == "postgresql":
        ensure_postgres_database(url)
        scratch = url
    else:
        scratch = f"sqlite:///{workdir / 'scratch.db'}"
    now, end = bench_moments(config.timezone, today)
    start, end = month_span(end, months)
    wired = wire(config, workdir=workdir, url=url)
    reset_warehouse(url=url, config=wired)
    site = Site(config=wired, url=url, scratch_url=scratch, workdir=workdir, start_month=start, end_month=end,
                now=now, scale=scale)
    started = time.perf_counter()
    manifest = _generate(wired, out_dir=site.sources, start=start, end=end, scale=scale, now=now)
    seconds = time.perf_counter() - started
    site.inbox_names = {box: {p.name for p in (site.sources / box).iterdir()} for box in INBOXES}
    counts = manifest["counts"]
    return site, {"seconds": seconds, "cases": counts["cases"], "ratings": counts["ratings"],
                  "hotline_tickets": counts["hotline_tickets"], "county_workbooks": counts["county_workbooks"]}


@contextmanager
def approval_api(site: Site) -> Iterator[None]:
    """The approval platform's API as its own process on loopback, for the jobs that read it."""
    _name, api = _api(site.config)
    where = urllib.parse.urlsplit(api.base_url)
    try:
        proc = start_process(db_path=site.sources / "approval_platform.db", host=where.hostname or "127.0.0.1",
                             port=where.port or 80, token=api.token())
    except RuntimeError as exc:
        raise BenchError(str(exc)) from None
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _merge_table(conn: sqlite3.Connection, table: str, key: str, changed: str, since: str) -> int:
    """Copy the side database's rows changed after `since` over the live ones (a source delivering a new day)."""
    conn.execute(f"DELETE FROM main.{table} WHERE {key} <> '' AND {key} IN "
                 f"(SELECT {key} FROM side.{table} WHERE {changed} > ?)", (since,))
    return conn.execute(f"INSERT INTO main.{table} SELECT * FROM side.{table} WHERE {changed} > ?", (since,)).rowcount


def add_new_day(site: Site) -> dict:
    """Deliver the new day into the live sources: what the generator shows one day later, changed after `now`."""
    side = site.workdir / NEXT_DAY
    started = time.perf_counter()
    _generate(site.config, out_dir=side, start=site.start_month, end=site.end_month, scale=site.scale,
              now=site.now + dt.timedelta(days=1))
    since = site.now.strftime("%Y-%m-%d %H:%M:%S")
    rows: dict[str, int] = {}
    for db, tables in SQL_SOURCES.items():
        conn = sqlite3.connect(site.sources / db)
        try:
            conn.execute("ATTACH DATABASE ? AS side", (str(side / db),))
            for table, (key, changed) in tables.items():
                rows[table] = _merge_table(conn, table, key, changed, since)
            conn.commit()
        finally:
            conn.close()
    day = site.now.strftime("%Y%m%d")
    for box in INBOXES:
        new = [p for p in sorted((side / box).iterdir()) if p.name not in site.inbox_names.get(box, set())
               and (box.startswith("county") or day in p.name)]
        for path in new:
            shutil.copy2(path, site.sources / box / path.name)
        rows[box.split("/")[0] + "_files"] = len(new)
    shutil.rmtree(side, ignore_errors=True)
    return {"day": site.now.date().isoformat(), "seconds": time.perf_counter() - started, "source_rows": rows}
