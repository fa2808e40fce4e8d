"""ETL jobs started from the dashboard ("run now" on the data-operations page): one at a time per process.

A small registry per Flask server (`runner_for(server)`, like dashboard.bulletin_jobs). The request that starts a
run checks the role (from the server-side session) and audits the request, then hands the job to a daemon thread
and returns at once; the page polls `state()` until the run is done. The thread runs
`etl.jobs.run_job(..., trigger="ui")`, which records the run (and any failure, with its error) in `etl_run`, then
writes the finishing `etl_run` audit entry itself, with the user and address captured from the starting request:
the entry is written even if nobody keeps the page open.

Why one at a time: a second run of the same job would fight the first over the source cursor, and two different
jobs would both refresh marts; a web worker is not the place to queue work. A click while a run is going gets a
"busy" answer instead. Across processes (other gunicorn workers, the scheduler) the run takes the job's warehouse
lease (`etl_lock`, the one `bizenv scheduler` takes): when someone else holds it, nothing runs and the page says
so (status `busy`).

etl/ is imported lazily inside the thread: the dashboard process need not load the extractors to serve pages.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import flask

from models.accounts import audit
from models.config import Config
from models.db import Warehouse
from models.scope import Viewer

EXTENSION_KEY = "bizenv_etl_runner"
RUN_ROLES = frozenset({"admin", "analyst"})  # issue 6: analysts (and admins) run data operations
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunState:
    """The process's latest UI run: what is going on now, or how the last one ended."""

    job: str | None = None
    status: str = "idle"  # idle | running | success | failed | busy (another process holds the job's lease)
    username: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    run_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    error: str | None = None
    generation: int = 0  # bumped when a run ends, so the runs table knows to read again

    @property
    def running(self) -> bool:
        return self.status == "running"


def may_run(viewer: Viewer) -> bool:
    """Analysts and admins run data operations; leaders and county bureaus read only."""
    return viewer.role in RUN_ROLES


def _now(config: Config) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)


class EtlRunner:
    """The UI runs of one server process; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = RunState()
        self._thread: threading.Thread | None = None

    def state(self) -> RunState:
        """A snapshot of the latest run."""
        with self._lock:
            return self._state

    def _finish(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes,  # type: ignore[arg-type]
                                  generation=self._state.generation + 1)

    def start(self, *, warehouse: Warehouse, config: Config, job: str, username: str | None, ip: str | None,
              audited: bool = True) -> bool:
        """Start `job` in a background thread; False (nothing started) when a run is already going here.

        The caller checks the role and that the job is configured. `audited=False` when there is no login (page
        tests): there is no user to write down.
        """
        with self._lock:
            if self._state.running:
                return False
            self._state = RunState(job=job, status="running", username=username, started_at=_now(config),
                                   generation=self._state.generation)
            self._thread = threading.Thread(
                target=self._run, name=f"bizenv-ui-run-{job}", daemon=True,
                kwargs={"warehouse": warehouse, "config": config, "job": job, "username": username, "ip": ip,
                        "audited": audited})
            self._thread.start()
        return True

    def _run(self, *, warehouse: Warehouse, config: Config, job: str, username: str | None, ip: str | None,
             audited: bool) -> None:
        details: dict[str, object] = {"job": job, "trigger": "ui", "stage": "finished"}
        try:
            # Lazily: models/ and the page modules never import etl/.
            from etl.jobs import run_job
            from etl.lock import job_lease
            from etl.scheduler import LEASE_TTL_SECONDS, lease_name

            with job_lease(engine=warehouse.engine, name=lease_name(job), ttl_seconds=LEASE_TTL_SECONDS,
                           tz=config.timezone) as held:
                summary = run_job(warehouse=warehouse, config=config, name=job, trigger="ui") if held else None
            if summary is None:
                details.update(status="busy", rows=0)
                self._finish(status="busy", finished_at=_now(config))
                if audited:
                    self._audit(warehouse, config, username, ip, details)
                return
            details.update(status=summary.status, rows=summary.rows_loaded, rows_read=summary.rows_read,
                           rows_rejected=summary.rows_rejected, run_id=summary.run_id,
                           seconds=round(summary.seconds, 1))
            if summary.error:
                details["error"] = summary.error[:500]
            self._finish(status=summary.status, run_id=summary.run_id, rows_read=summary.rows_read,
                         rows_loaded=summary.rows_loaded, rows_rejected=summary.rows_rejected, error=summary.error,
                         finished_at=_now(config))
        except Exception as exc:  # noqa: BLE001 - run_job re-raises a crash after recording it; the page must learn
            log.exception("UI run of %s crashed", job)
            error = "".join(traceback.format_exception_only(exc)).strip()
            details.update(status="failed", rows=0, error=error[:500])
            self._finish(status="failed", error=error, finished_at=_now(config))
        if audited:
            self._audit(warehouse, config, username, ip, details)

    @staticmethod
    def _audit(warehouse: Warehouse, config: Config, username: str | None, ip: str | None,
               details: dict[str, object]) -> None:
        try:
            with warehouse.session() as session:
                audit(session=session, action="etl_run", success=details["status"] == "success", now=_now(config),
                      username=username, ip=ip, details=details)
        except Exception:  # noqa: BLE001 - the run is recorded in etl_run either way
            log.exception("could not audit the UI run of %s", details.get("job"))

    def wait(self, timeout: float | None = None) -> RunState:
        """Block until the current run (if any) has ended; for tests."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state()


def runner_for(server: flask.Flask) -> EtlRunner:
    """The UI-run registry of a Flask server (created on first use)."""
    return server.extensions.setdefault(EXTENSION_KEY, EtlRunner())
