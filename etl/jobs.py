"""ETL jobs: extract a source stream page by page, validate, load each page in one transaction, refresh marts.

A job run is recorded in `etl_run`. Each page's facts, quarantined rows, dirty (region, month) pairs and the
source cursor commit together, so a crash leaves the warehouse as it was before that page and the next run
resumes from the cursor. Marts are refreshed at the end for exactly the pairs marked dirty.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import DBAPIError

from etl.datasets import approvals, county_figures, hotline, ratings, service_items
from etl.datasets.base import Context, FieldMappingError, Prepared, source_field
from etl.extract.http_api import HttpApiExtractor, SourceError
from etl.load import (
    check_references,
    clear_dirty,
    dirty_pairs,
    now_local,
    quarantine,
    read_cursor,
    save_cursor,
    upsert_frame,
)
from etl.pipeline import prefetch
from models.calendar import get_calendar
from models.calendar_sync import sync_calendar
from models.config import Config, HttpApiSource, JobSettings
from models.db import Warehouse
from models.dims import DimServiceItem
from models.facts import FACT_REFERENCES
from models.kpis import refresh_kpi_marts
from models.ops import EtlRun, bump_data_version
from models.regions import alias_map, sync_regions

log = logging.getLogger(__name__)

DATASETS: dict[str, ModuleType] = {
    "approvals": approvals, "service_items": service_items, "hotline": hotline, "ratings": ratings,
    "county_figures": county_figures,
}

Progress = Callable[[str], None]


class JobError(Exception):
    """A job that cannot run as configured; the message names the job and the key."""


@dataclass
class RunSummary:
    """What one run did, for the CLI and for tests."""

    run_id: int
    job: str
    status: str
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    marts_refreshed: int = 0
    dims_changed: int = 0  # dimension rows a batch inserted or updated beside its facts (departments)
    files_refused: int = 0  # inbox files moved to failed/ whole
    seconds: float = 0.0
    error: str | None = None

    @property
    def rows_loaded(self) -> int:
        """Rows that changed the warehouse."""
        return self.rows_inserted + self.rows_updated

    @property
    def changed_facts(self) -> bool:
        """Whether the run wrote facts, dimensions or marts: what moves the dashboard's facts version."""
        return bool(self.rows_loaded or self.dims_changed or self.marts_refreshed)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_dead_runs(conn: Connection, *, job: str, tz: str) -> None:
    """Mark this host's earlier runs of the job whose process is gone as abandoned (killed or crashed)."""
    host = socket.gethostname()
    dead = [r.id for r in conn.execute(select(EtlRun.id, EtlRun.pid).where(
        EtlRun.job == job, EtlRun.status == "running", EtlRun.host == host)) if r.pid and not _alive(r.pid)]
    if dead:
        conn.execute(update(EtlRun).where(EtlRun.id.in_(dead)).values(
            status="abandoned", finished_at=now_local(tz),
            error=f"the process on {host} ended without finishing (killed or crashed); its committed pages stay"))
        bump_data_version(conn=conn, facts=True)  # what its committed pages changed is not recorded


def _start_run(warehouse: Warehouse, *, job: str, trigger: str, tz: str) -> int:
    with warehouse.engine.begin() as conn:
        _reap_dead_runs(conn, job=job, tz=tz)
        result = conn.execute(EtlRun.__table__.insert().values(
            job=job, trigger=trigger, started_at=now_local(tz), status="running", host=socket.gethostname(),
            pid=os.getpid(), rows_read=0, rows_inserted=0, rows_updated=0, rows_rejected=0))
        return int(result.inserted_primary_key[0])


def _finish_run(warehouse: Warehouse, summary: RunSummary, *, tz: str) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(update(EtlRun).where(EtlRun.id == summary.run_id).values(
            finished_at=now_local(tz), status=summary.status, rows_read=summary.rows_read,
            rows_inserted=summary.rows_inserted, rows_updated=summary.rows_updated,
            rows_rejected=summary.rows_rejected, error=summary.error))
        bump_data_version(conn=conn, facts=summary.changed_facts)


def _catalogue(conn: Connection) -> dict[str, tuple[str | None, int | None, int | None, bool]]:
    rows = conn.execute(select(DimServiceItem.item_code, DimServiceItem.dept_code, DimServiceItem.statutory_days,
                               DimServiceItem.promised_days, DimServiceItem.is_instant))
    return {r.item_code: (r.dept_code, r.statutory_days, r.promised_days, bool(r.is_instant)) for r in rows}


def job_context(warehouse: Warehouse, config: Config, run_id: int, dataset: ModuleType) -> Context:
    """Regions, calendar and (for approvals) the catalogue, read once per run for validation."""
    with warehouse.session() as session:
        sync_regions(session=session, config=config)
        sync_calendar(session=session, config=config)
        items = _catalogue(session.connection()) if dataset is approvals else {}
    return Context(config=config, aliases=alias_map(config), calendar=get_calendar(config.calendar.as_mapping()),
                   run_id=run_id, items=items)


def load_batch(conn: Connection, dataset: ModuleType, prepared: Prepared, summary: RunSummary) -> None:
    """Merge a validated batch and quarantine its rejects, in the caller's transaction; counts go on the summary."""
    if dataset is service_items and not prepared.rows.empty:
        depts = service_items.departments(prepared.rows)
        changed = upsert_frame(conn=conn, table="dim_department", frame=depts, key=["dept_code"],
                               columns=list(depts.columns))
        summary.dims_changed += changed.inserted + changed.updated
    check_references(conn=conn, frame=prepared.rows, references=FACT_REFERENCES)
    cols = [*dataset.COLUMNS, "row_hash", "etl_run_id", "source", "source_line"]
    result = upsert_frame(conn=conn, table=dataset.TABLE, frame=prepared.rows, key=dataset.KEY, columns=cols,
                          period_columns=dataset.PERIOD_COLUMNS,
                          period_spans=getattr(dataset, "PERIOD_SPANS", ()))
    summary.rows_inserted += result.inserted
    summary.rows_updated += result.updated
    summary.rows_rejected += quarantine(conn=conn, run_id=summary.run_id, dataset=dataset.NAME,
                                        rejects=prepared.rejects)


def run_api_job(*, warehouse: Warehouse, config: Config, name: str, job: JobSettings, summary: RunSummary,
                progress: Progress | None) -> None:
    """Pull an API stream since its cursor; each page commits with its cursor."""
    source = config.sources[job.source]
    assert isinstance(source, HttpApiSource)
    dataset = DATASETS[job.dataset]
    ctx = job_context(warehouse, config, summary.run_id, dataset)
    extractor = HttpApiExtractor(settings=source, name=job.source, stream=job.stream or "",
                                 cursor_field=source_field(dataset.ALIASES, job.fields, dataset.CURSOR_FIELD),
                                 key_field=source_field(dataset.ALIASES, job.fields, dataset.KEY_FIELD))
    with warehouse.engine.connect() as conn:
        since = read_cursor(conn=conn, source=job.source, stream=job.stream or "")
    started = time.perf_counter()
    # Only what the loader needs crosses to it (the producer may be another process): not the page's records.
    batches = ((page.cursor, len(page.frame),
                dataset.prepare(page.frame, source=page.url, ctx=ctx, fields=job.fields))
               for page in extractor.pages(since=since))
    for cursor, read, prepared in prefetch(batches):
        with warehouse.engine.begin() as conn:
            load_batch(conn, dataset, prepared, summary)
            if cursor:
                save_cursor(conn=conn, source=job.source, stream=job.stream or "", value=cursor,
                            run_id=summary.run_id)
        summary.rows_read += read
        if progress:
            rate = summary.rows_read / max(time.perf_counter() - started, 1e-9)
            progress(f"{name}: {summary.rows_read:,} rows read ({rate:,.0f} rows/s)")


# Source kind -> the function that runs a job over it. Each commits batch by batch through `load_batch`.
RUNNERS: dict[str, Callable[..., None]] = {"http_api": run_api_job}


def _register_runners() -> None:
    from etl.inbox import run_files_job  # these import etl.jobs lazily, so they register after its definitions
    from etl.sqlview import run_sql_view_job

    RUNNERS["sql_view"] = run_sql_view_job
    RUNNERS["files"] = run_files_job


_register_runners()


# From this many stale (county, month) pairs of one table (a few months of every county), the refresh reads the
# facts on two more connections at once: a year's approvals refreshed in 13-15 s instead of 17-21 on two cores.
PARALLEL_REFRESH_PAIRS = 48


def refresh_dirty_marts(*, warehouse: Warehouse, config: Config) -> int:
    """Refresh marts for every pair marked dirty (by this run or by one that crashed), then clear the marks."""
    with warehouse.engine.begin() as conn:
        pending = dirty_pairs(conn=conn)
        n = 0
        for table, pairs in pending.items():
            n += refresh_kpi_marts(conn=conn, config=config, pairs=pairs, tables=[table],
                                   parallel=len(pairs) >= PARALLEL_REFRESH_PAIRS)
        if pending:
            clear_dirty(conn=conn, pending=pending)
        return n


def warehouse_failure(exc: BaseException) -> str | None:
    """One line for a warehouse outage (connection lost, database locked, disk full) in the error's chain, else None.

    Such a run fails like an unreachable source: recorded and reported, not re-raised as a bug. The line names the
    driver's own error (the first one raised; rolling back on a lost connection only adds "connection is lost"),
    never the SQL statement or its parameters.
    """
    def operational(e: BaseException) -> bool:  # a DB-API driver's OperationalError (psycopg's, sqlite3's)
        return any(c.__name__ == "OperationalError" for c in type(e).__mro__) and not isinstance(e, DBAPIError)

    chain: list[BaseException] = []
    while exc is not None and exc not in chain and (isinstance(exc, DBAPIError) or operational(exc)):
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    drivers = [e for e in chain if operational(e)]
    if not drivers:
        return None
    first = drivers[-1]
    message = (str(first).strip().splitlines() or [type(first).__name__])[0]
    return f"warehouse error ({type(first).__name__}): {message}"


def run_job(*, warehouse: Warehouse, config: Config, name: str, trigger: str = "cli",
            progress: Progress | None = None) -> RunSummary:
    """Run one configured job now; a failure is recorded with its error and returned, not raised."""
    if name not in config.jobs:
        raise JobError(f"unknown job {name!r}; configured jobs: {', '.join(config.jobs) or '(none)'}")
    job = config.jobs[name]
    if job.dataset not in DATASETS:
        raise JobError(f"jobs.{name}.dataset: unknown dataset {job.dataset!r} (known: {', '.join(DATASETS)})")
    run_id = _start_run(warehouse, job=name, trigger=trigger, tz=config.timezone)
    summary = RunSummary(run_id=run_id, job=name, status="running")
    started = time.perf_counter()
    try:
        runner = RUNNERS.get(config.sources[job.source].kind)
        if runner is None:
            raise JobError(f"jobs.{name}: {config.sources[job.source].kind} sources are not loadable yet")
        runner(warehouse=warehouse, config=config, name=name, job=job, summary=summary, progress=progress)
        summary.marts_refreshed = refresh_dirty_marts(warehouse=warehouse, config=config)
        summary.status = "success"
    except (SourceError, FieldMappingError, JobError) as exc:
        summary.status, summary.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - any crash is recorded on the run; a bug is then re-raised
        reason = warehouse_failure(exc)
        summary.status, summary.error = "failed", reason or "".join(traceback.format_exception_only(exc)).strip()
        summary.seconds = time.perf_counter() - started
        _finish_run(warehouse, summary, tz=config.timezone)
        if reason is None:
            raise
        log.error("job %s failed: %s", name, reason, exc_info=exc)
        return summary
    summary.seconds = time.perf_counter() - started
    _finish_run(warehouse, summary, tz=config.timezone)
    return summary


def run_jobs(*, warehouse: Warehouse, config: Config, names: Sequence[str] | None = None, trigger: str = "cli",
             progress: Progress | None = None) -> list[RunSummary]:
    """Run jobs in dependency order (the catalogue before approvals); one job's failure does not stop the rest."""
    wanted = list(names) if names else list(config.jobs)
    order = sorted(wanted, key=lambda n: 0 if config.jobs.get(n) and config.jobs[n].dataset == "service_items" else 1)
    return [run_job(warehouse=warehouse, config=config, name=n, trigger=trigger, progress=progress) for n in order]
