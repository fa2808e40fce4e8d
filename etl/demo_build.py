"""`bizenv demo`: generate Jinzhong's source systems, run the real ETL against them, and leave marts ready.

The demo goes through the same path as production: the approval platform is a separate HTTP process on loopback,
and the warehouse is filled only by the ETL jobs. Sources are regenerated (and the warehouse reset) only when the
demo's parameters change; otherwise a rerun is an incremental ETL run that loads nothing new.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, inspect, select

from etl.demo.approval_api import start_process
from etl.demo.generator import UnitSpec, generate_sources
from etl.jobs import RunSummary, run_jobs
from models.config import Config, FilesSource, HttpApiSource, SqlViewSource
from models.db import Warehouse
from models.facts import FactApprovalCase
from models.migrate import downgrade, prepare_warehouse
from models.ops import EtlRun

FIRST_MONTH = "2023-01"
STATE_FILE = "demo-state.json"


class DemoError(Exception):
    """The demo cannot build here; the message says why and what to do."""
Echo = Callable[[str], None]


@dataclass
class DemoResult:
    """What the demo built, for the CLI and tests."""

    params: dict
    generated: bool
    seconds: float
    runs: list[RunSummary] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether any ETL run failed."""
        return any(r.status != "success" for r in self.runs)


def last_full_month(tz: str, today: dt.date | None = None) -> str:
    """The most recent month that has ended, in the city's timezone."""
    today = today or dt.datetime.now(ZoneInfo(tz)).date()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def month_span(end_month: str, months: int | None) -> tuple[str, str]:
    """(start, end) months: N months ending at `end_month`, or from 2023-01."""
    if not months:
        return FIRST_MONTH, end_month
    year, month = int(end_month[:4]), int(end_month[5:7])
    index = year * 12 + month - 1 - (months - 1)
    return f"{index // 12}-{index % 12 + 1:02d}", end_month


def _units(config: Config) -> list[UnitSpec]:
    return [UnitSpec(code=u.code, name_zh=u.name_zh, short_zh=u.short_zh, name_en=u.short_en)
            for u in config.city.units]


def _api_source(config: Config) -> tuple[str, HttpApiSource]:
    for name, src in config.sources.items():
        if isinstance(src, HttpApiSource):
            return name, src
    raise ValueError("config.yaml has no http_api source for the demo's approval platform")


# Where the generator writes each kind of source under the demo folder.
DEMO_LOCATIONS = {"sql_view": "hotline.db", "ratings": "ratings/inbox", "county": "county_figures/inbox"}


def demo_wired(config: Config, out_dir: Path) -> Config:
    """The config with its file and SQL-view sources pointed at the generated demo sources."""
    sources = {}
    for name, src in config.sources.items():
        if isinstance(src, SqlViewSource):
            src = src.model_copy(update={"url": f"sqlite:///{out_dir / DEMO_LOCATIONS['sql_view']}"})
        elif isinstance(src, FilesSource):
            kind = "county" if src.pattern.endswith((".xlsx", ".xls")) else "ratings"
            src = src.model_copy(update={"path": str(out_dir / DEMO_LOCATIONS[kind])})
        sources[name] = src
    return config.model_copy(update={"sources": sources})


def _same_sources(state: Path, params: dict) -> bool:
    """Whether the sources and warehouse were built, completely, with these parameters."""
    if not state.is_file():
        return False
    try:
        return json.loads(state.read_text(encoding="utf-8")).get("params") == params
    except (json.JSONDecodeError, OSError):
        return False


def _holds_only_demo_runs(warehouse: Warehouse) -> bool:
    """A warehouse the demo may reset: empty, or filled only by earlier demo builds."""
    with warehouse.engine.connect() as conn:
        if not inspect(conn).has_table(EtlRun.__tablename__):
            return True
        return not conn.scalar(select(func.count()).select_from(EtlRun).where(EtlRun.trigger != "demo"))


def _reset_warehouse(warehouse: Warehouse) -> None:
    """Drop the demo's tables so data from a different demo cannot linger."""
    downgrade(warehouse.engine, "base")


def build_demo(
    *, config: Config, scale: float | None = None, months: int | None = None, end_month: str | None = None,
    echo: Echo = print, progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate the demo sources if needed, run every ETL job against them, and report."""
    started = time.perf_counter()
    start, end = month_span(end_month or last_full_month(config.timezone), months)
    params = {"seed": config.demo.seed, "scale": scale or config.demo.default_scale, "start_month": start,
              "end_month": end, "units": config.unit_codes()}
    out_dir = config.resolve_path(config.demo.sources_dir)
    warehouse = Warehouse(config.database_url())
    state = out_dir / STATE_FILE
    generated = not _same_sources(state, params)
    if generated:
        if not _holds_only_demo_runs(warehouse):
            raise DemoError(f"{warehouse.engine.url.render_as_string()} holds runs that are not the demo's; "
                            "the demo resets its warehouse, so point BIZENV_DATABASE_URL at a separate database")
        state.unlink(missing_ok=True)
        echo(f"generating Jinzhong demo sources {start}..{end} at scale {params['scale']} into {out_dir} ...")
        generate_sources(out_dir=out_dir, units=_units(config), start_month=start, end_month=end,
                         scale=params["scale"], seed=params["seed"])
        echo("resetting the demo warehouse ...")
        prepare_warehouse(warehouse=warehouse, config=config)
        _reset_warehouse(warehouse)
    prepare_warehouse(warehouse=warehouse, config=config)
    result = DemoResult(params=params, generated=generated, seconds=0.0)
    result.runs = _run_etl(config=demo_wired(config, out_dir), warehouse=warehouse, out_dir=out_dir,
                           progress=progress)
    for run in result.runs:
        echo(_describe(run))
    if not result.failed:  # written last: a demo that failed half-way is rebuilt from scratch next time
        state.write_text(json.dumps({"params": params}, ensure_ascii=False, indent=2), encoding="utf-8")
    result.seconds = time.perf_counter() - started
    with warehouse.session() as session:
        cases = session.scalar(select(func.count()).select_from(FactApprovalCase))
    echo(f"demo ready in {result.seconds:.1f}s: {cases:,} approval cases in {warehouse.engine.url.render_as_string()}")
    warehouse.dispose()
    return result


def _run_etl(*, config: Config, warehouse: Warehouse, out_dir: Path,
             progress: Callable[[str], None] | None) -> list[RunSummary]:
    """Start the approval platform's API on loopback, run the jobs against it, and stop it."""
    _name, api = _api_source(config)
    url = urllib.parse.urlsplit(api.base_url)
    try:
        proc = start_process(db_path=out_dir / "approval_platform.db", host=url.hostname or "127.0.0.1",
                             port=url.port or 80, token=api.token())
    except RuntimeError as exc:
        raise DemoError(f"{exc}. Stop whatever holds the port, or set sources.{_name}.base_url in config.yaml "
                        "to a free port") from None
    try:
        return run_jobs(warehouse=warehouse, config=config, trigger="demo", progress=progress)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _describe(run: RunSummary) -> str:
    text = (f"  {run.job}: {run.status}, read {run.rows_read:,}, loaded {run.rows_loaded:,}, "
            f"quarantined {run.rows_rejected:,}, {run.seconds:.1f}s")
    if run.files_refused:
        text += f", {run.files_refused} file(s) refused (see failed/)"
    return text + (f"\n    error: {run.error}" if run.error else "")
