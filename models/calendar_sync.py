"""Keeps `dim_calendar` equal to the working-day calendar, so SQL users see the same working days as the ETL."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from models.calendar import get_calendar
from models.config import Config
from models.dims import DimCalendar


def sync_calendar(*, session: Session, config: Config) -> int:
    """Rewrite only the days whose classification changed; returns how many were written."""
    cal = get_calendar(config.calendar.as_mapping())
    have = {r.day: (r.is_working_day, r.kind, r.holiday_name, r.source)
            for r in session.execute(select(DimCalendar.day, DimCalendar.is_working_day, DimCalendar.kind,
                                            DimCalendar.holiday_name, DimCalendar.source))}
    changed = [d for d in cal.days if have.get(d.day) != (d.is_working_day, d.kind, d.holiday_name, d.source)]
    if not changed:
        return 0
    days = [d.day for d in changed if d.day in have]
    for i in range(0, len(days), 500):
        session.execute(delete(DimCalendar).where(DimCalendar.day.in_(days[i:i + 500])))
    session.execute(insert(DimCalendar), [dict(day=d.day, is_working_day=d.is_working_day, kind=d.kind,
                                               holiday_name=d.holiday_name, source=d.source) for d in changed])
    return len(changed)
