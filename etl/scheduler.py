"""The scheduler process: fires each configured job on its cron schedule, in its own process, never in the web app.

Every fire takes the job's lease in the warehouse first (`etl.lock`), so two schedulers started by mistake, on one
host or two, never run the same job at the same time: the second one logs and skips. Jobs coalesce, never overlap
themselves (`max_instances=1`) and may start up to `MISFIRE_GRACE_SECONDS` late. A failed run is recorded on
`etl_run` by `run_job`, does not stop the other jobs, and is simply tried again at its next fire.

The warehouse remembers which fires ran: a scheduled run's `etl_run` row (trigger 'scheduler') starts at or after
its fire time. So a scheduler that starts, or is restarted after being killed, within `MISFIRE_GRACE_SECONDS` of
fires it was not there for runs the job once for all of them (coalesced), and a fire that a scheduler has already
started a run for is never run again: not by a restarted scheduler, nor by a second one.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from etl.jobs import RunSummary, run_job
from etl.lock import job_lease, lease_holder
from models.config import Config
from models.db import Warehouse
from models.ops import EtlRun

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 300  # a fire up to 5 minutes late (busy host, clock step) still runs, once
LEASE_TTL_SECONDS = 2 * 3600  # renewed while the job runs; only a dead holder's lease ever expires
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}


def lease_name(job: str) -> str:
    """The etl_lock row that guards a job."""
    return f"job:{job}"


def fire(*, config: Config, warehouse: Warehouse, name: str, holder: str | None = None,
         ttl_seconds: float = LEASE_TTL_SECONDS, scheduled: bool = False) -> RunSummary | None:
    """Run one job under its warehouse lease; None when another scheduler holds it, its fire already ran or it crashed.

    `scheduled` (as the scheduler calls it): the run is for the job's latest fire time within the grace period, and
    is skipped when a scheduler run of the job started at or after that time already. The lease makes the check and
    the run's start one step, so of several schedulers (or restarts) exactly one runs each fire.
    """
    holder = holder or lease_holder()
    due = (recent_fires(schedule=config.jobs[name].schedule, timezone=config.timezone) or [None])[-1] \
        if scheduled else None
    with job_lease(engine=warehouse.engine, name=lease_name(name), holder=holder, ttl_seconds=ttl_seconds,
                   tz=config.timezone) as held:
        if not held:
            log.info("job %s skipped: another scheduler holds its lease", name)
            return None
        if due is not None and (taken := fire_taken(warehouse=warehouse, name=name, due=due,
                                                    timezone=config.timezone)) is not None:
            log.info("job %s: its fire at %s already ran (run %d); not run twice", name,
                     due.isoformat(sep=" ", timespec="minutes"), taken)
            return None
        log.info("job %s started (lease holder %s)", name, holder)
        try:
            summary = run_job(warehouse=warehouse, config=config, name=name, trigger="scheduler")
        except Exception:  # noqa: BLE001 - recorded on etl_run by run_job; the scheduler must keep going
            log.exception("job %s crashed; it runs again at its next fire", name)
            return None
    log.log(logging.INFO if summary.status == "success" else logging.ERROR, "job %s %s: %d read, %d loaded, "
            "%d rejected in %.1f s%s", name, summary.status, summary.rows_read, summary.rows_loaded,
            summary.rows_rejected, summary.seconds, f" ({summary.error})" if summary.error else "")
    return summary


def fire_taken(*, warehouse: Warehouse, name: str, due: dt.datetime, timezone: str) -> int | None:
    """The scheduler run that took the job's fire at `due` (the first one started at or after it), if any."""
    since = due.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)  # etl_run keeps the city's wall-clock time
    with warehouse.engine.connect() as conn:
        return conn.scalar(select(EtlRun.id).where(EtlRun.job == name, EtlRun.trigger == "scheduler",
                                                   EtlRun.started_at >= since).order_by(EtlRun.id).limit(1))


def trigger_for(*, schedule: str, timezone: str) -> CronTrigger:
    """The cron trigger of a 5-field schedule in the city's timezone."""
    return CronTrigger.from_crontab(schedule, timezone=ZoneInfo(timezone))


def _moment(now: dt.datetime | None, tz: ZoneInfo) -> dt.datetime:
    """`now` (naive means the city's wall clock) or the current time, aware in the city's timezone."""
    return now.astimezone(tz) if now and now.tzinfo else (now.replace(tzinfo=tz) if now else dt.datetime.now(tz))


def recent_fires(*, schedule: str, timezone: str, now: dt.datetime | None = None,
                 within: float = MISFIRE_GRACE_SECONDS) -> list[dt.datetime]:
    """A schedule's fire times in the `within` seconds up to now, oldest first: those a late start still runs."""
    moment = _moment(now, ZoneInfo(timezone))
    trigger = trigger_for(schedule=schedule, timezone=timezone)
    fires, at = [], trigger.get_next_fire_time(None, moment - dt.timedelta(seconds=within))
    while at is not None and at <= moment:
        fires.append(at)
        at = trigger.get_next_fire_time(at, at + dt.timedelta(seconds=1))
    return fires


def build_scheduler(*, config: Config, warehouse: Warehouse, blocking: bool = True,
                    now: dt.datetime | None = None) -> BaseScheduler:
    """A scheduler with one cron job per configured job, each fire going through `fire`.

    A job with fires in the grace period before `now` starts due at the oldest of them, so APScheduler runs them
    once, coalesced, at start; `fire` then skips the run if a scheduler already ran the latest of them.
    """
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=ZoneInfo(config.timezone), job_defaults=dict(JOB_DEFAULTS))
    for name, job in config.jobs.items():
        missed = recent_fires(schedule=job.schedule, timezone=config.timezone, now=now)
        if missed:
            log.info("job %s: its fire at %s was missed, within the grace period: it runs now unless a scheduler "
                     "ran it already", name, missed[-1].isoformat(sep=" ", timespec="minutes"))
        scheduler.add_job(fire, trigger_for(schedule=job.schedule, timezone=config.timezone), id=name, name=name,
                          kwargs=dict(config=config, warehouse=warehouse, name=name, scheduled=True),
                          replace_existing=True, **({"next_run_time": missed[0]} if missed else {}))
    return scheduler


def next_runs(*, config: Config, now: dt.datetime | None = None) -> list[tuple[str, dt.datetime]]:
    """Each job's next fire time (aware, city timezone), soonest first, for status displays."""
    moment = _moment(now, ZoneInfo(config.timezone))
    out = [(name, trigger_for(schedule=job.schedule, timezone=config.timezone).get_next_fire_time(None, moment))
           for name, job in config.jobs.items()]
    return sorted(((n, t) for n, t in out if t is not None), key=lambda p: p[1])


class _Stopper:
    """Stops a blocking scheduler on SIGTERM/SIGINT from a helper thread, since a signal handler must not block."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler
        self.requested = False
        self.thread: threading.Thread | None = None
        self.previous: dict[int, object] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be handled on the main thread; the caller stops the scheduler itself
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.previous[sig] = signal.signal(sig, self._handle)
        # A signal that arrives before the scheduler runs is acted on as soon as it starts.
        self.scheduler.add_listener(lambda _event: self._stop_if_requested(), EVENT_SCHEDULER_STARTED)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: object) -> None:
        if not self.requested:
            log.info("%s received: stopping after running jobs finish", signal.Signals(signum).name)
        self.requested = True
        self._stop_if_requested()

    def _stop_if_requested(self) -> None:
        if self.requested and self.thread is None and self.scheduler.state != STATE_STOPPED:
            self.thread = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True},
                                           name="scheduler-stop")
            self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def run_scheduler(*, config: Config, warehouse: Warehouse) -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT, then wait for running jobs and return."""
    scheduler = build_scheduler(config=config, warehouse=warehouse, blocking=True)
    from bizenv.bulletin.scheduled import add_bulletin_job  # the monthly bulletin (issue 7), lazily: etl stays light

    add_bulletin_job(scheduler=scheduler, config=config, warehouse=warehouse)
    stopper = _Stopper(scheduler)
    stopper.install()
    try:
        for name, when in next_runs(config=config):
            log.info("job %s: next run %s", name, when.isoformat(sep=" ", timespec="minutes"))
        log.info("scheduler started with %d jobs (timezone %s)", len(config.jobs), config.timezone)
        scheduler.start()
        stopper.join()
    finally:
        stopper.restore()
    log.info("scheduler stopped")
