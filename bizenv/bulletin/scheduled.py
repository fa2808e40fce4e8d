"""The scheduled monthly bulletin: a thin job over `generate_bulletins`, run by `bizenv scheduler` under a lease."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bizenv.bulletin.errors import BulletinError, NoData
from etl.lock import job_lease, lease_holder
from models.config import Config
from models.db import Warehouse
from models.kpis import current_period, previous_period
from models.reports import ReportArchive

if TYPE_CHECKING:
    from bizenv.bulletin.archive import ArchiveEntry

log = logging.getLogger(__name__)

JOB_ID = "bulletin"
CATCH_UP_JOB_ID = "bulletin-catch-up"
LEASE_NAME = "job:bulletin"
LEASE_TTL_SECONDS = 2 * 3600


def bulletin_schedule(config: Config) -> str:
    """The job's 5-field cron expression: `bulletin.cron`, or `day` and `time` each month."""
    settings = config.bulletin
    if settings.cron:
        return settings.cron
    hour, minute = (int(x) for x in settings.time.split(":"))
    return f"{minute} {hour} {settings.day} * *"


def run_monthly_bulletins(*, config: Config, warehouse: Warehouse, today: dt.date | None = None,
                          formats: list[str] | None = None, period: str | None = None) -> list[ArchiveEntry]:
    """Build and archive the city edition and every county edition for `period`, by default the month before today."""
    from bizenv.bulletin.service import generate_bulletins  # plotly, reportlab & co. load only when it fires

    today = today or dt.datetime.now(ZoneInfo(config.timezone)).date()
    period = period or previous_period(current_period(config.timezone, today))
    with job_lease(engine=warehouse.engine, name=LEASE_NAME, holder=lease_holder(), ttl_seconds=LEASE_TTL_SECONDS,
                   tz=config.timezone) as held:
        if not held:
            log.info("bulletin %s skipped: another scheduler holds its lease", period)
            return []
        if scheduled_edition_exists(warehouse=warehouse, period=period):
            log.info("bulletin %s skipped: a scheduler built it already", period)
            return []
        try:
            entries = generate_bulletins(warehouse=warehouse, config=config, period=period, formats=formats,
                                         trigger="scheduler", today=today)
        except NoData as exc:
            log.warning("bulletin %s not built: %s", period, exc)
            return []
        except BulletinError:
            log.exception("bulletin %s failed; it is tried again at the next fire", period)
            return []
    log.info("bulletin %s: %d files archived", period, len(entries))
    return entries


def scheduled_edition_exists(*, warehouse: Warehouse, period: str) -> bool:
    """Whether a scheduler archived the month's bulletin, so a second scheduler or a catch-up never builds it twice."""
    with warehouse.engine.connect() as conn:
        found = conn.scalar(select(ReportArchive.id).where(ReportArchive.kind == "bulletin",
                                                           ReportArchive.period == period,
                                                           ReportArchive.trigger == "scheduler").limit(1))
    return found is not None


def missed_period(*, config: Config, warehouse: Warehouse, now: dt.datetime | None = None) -> str | None:
    """The month whose bulletin the last fire (within 31 days) was due to build and no scheduler has archived.

    A scheduler that was down at the monthly fire builds it as soon as it starts, instead of a month late.
    """
    tz = ZoneInfo(config.timezone)
    now = now.astimezone(tz) if now and now.tzinfo else (now.replace(tzinfo=tz) if now else dt.datetime.now(tz))
    trigger = CronTrigger.from_crontab(bulletin_schedule(config), timezone=tz)
    last, at = None, trigger.get_next_fire_time(None, now - dt.timedelta(days=31))
    while at is not None and at <= now:
        last, at = at, trigger.get_next_fire_time(at, at + dt.timedelta(seconds=1))
    if last is None:
        return None
    period = previous_period(current_period(config.timezone, last.date()))
    return None if scheduled_edition_exists(warehouse=warehouse, period=period) else period


def add_bulletin_job(*, scheduler: BaseScheduler, config: Config, warehouse: Warehouse,
                     now: dt.datetime | None = None) -> bool:
    """Schedule the monthly bulletin on the scheduler when `bulletin.enabled`; returns whether it was added."""
    if not config.bulletin.enabled:
        return False
    trigger = CronTrigger.from_crontab(bulletin_schedule(config), timezone=ZoneInfo(config.timezone))
    scheduler.add_job(run_monthly_bulletins, trigger, id=JOB_ID, name=JOB_ID, replace_existing=True,
                      kwargs=dict(config=config, warehouse=warehouse), coalesce=True, max_instances=1,
                      misfire_grace_time=3600)
    try:
        missed = missed_period(config=config, warehouse=warehouse, now=now)
    except DBAPIError as exc:  # e.g. a warehouse not migrated yet: the monthly fire still stands
        log.warning("bulletin: could not check for a missed edition (%s)", exc.orig)
        missed = None
    if missed:  # once, now, for that month; the lease and the archive check keep it single across schedulers
        scheduler.add_job(run_monthly_bulletins, "date", id=CATCH_UP_JOB_ID, name=CATCH_UP_JOB_ID,
                          replace_existing=True, kwargs=dict(config=config, warehouse=warehouse, period=missed),
                          misfire_grace_time=None)
    log.info("job %s: the monthly bulletin, cron %r%s", JOB_ID, bulletin_schedule(config),
             f"; the {missed} edition was missed and is built now" if missed else "")
    return True
