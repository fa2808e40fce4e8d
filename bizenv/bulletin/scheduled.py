"""The scheduled monthly bulletin: a thin job over `generate_bulletins`, run by `bizenv scheduler` under a lease."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bizenv.bulletin.errors import BulletinError, NoData
from etl.lock import job_lease, lease_holder
from models.config import Config
from models.db import Warehouse
from models.kpis import current_period, previous_period

if TYPE_CHECKING:
    from bizenv.bulletin.archive import ArchiveEntry

log = logging.getLogger(__name__)

JOB_ID = "bulletin"
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
                          formats: list[str] | None = None) -> list[ArchiveEntry]:
    """Build and archive the city edition and every county edition for the month before `today`."""
    from bizenv.bulletin.service import generate_bulletins  # plotly, reportlab & co. load only when it fires

    today = today or dt.datetime.now(ZoneInfo(config.timezone)).date()
    period = previous_period(current_period(config.timezone, today))
    with job_lease(engine=warehouse.engine, name=LEASE_NAME, holder=lease_holder(), ttl_seconds=LEASE_TTL_SECONDS,
                   tz=config.timezone) as held:
        if not held:
            log.info("bulletin %s skipped: another scheduler holds its lease", period)
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


def add_bulletin_job(*, scheduler: BaseScheduler, config: Config, warehouse: Warehouse) -> bool:
    """Schedule the monthly bulletin on the scheduler when `bulletin.enabled`; returns whether it was added."""
    if not config.bulletin.enabled:
        return False
    trigger = CronTrigger.from_crontab(bulletin_schedule(config), timezone=ZoneInfo(config.timezone))
    scheduler.add_job(run_monthly_bulletins, trigger, id=JOB_ID, name=JOB_ID, replace_existing=True,
                      kwargs=dict(config=config, warehouse=warehouse), coalesce=True, max_instances=1,
                      misfire_grace_time=3600)
    log.info("job %s: the monthly bulletin, cron %r", JOB_ID, bulletin_schedule(config))
    return True
