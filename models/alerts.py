"""Alerts: the breaches of a month that someone must act on, read alike by the CLI, the dashboard and the bulletin.

Three kinds:
- `target_missed`: a KPI of the city or a county missed its target (beyond the 'near' margin), on a sample of at
  least the KPI's `min_sample`. Severity is high when it also got worse than last month.
- `open_overdue_cases`: approval cases still open past their due date at the month's end (or today, for the
  month still running).
- `bad_review_overdue`: verified bad reviews not rectified within the rectification deadline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models.calendar import get_calendar
from models.computations import rectify_cutoff
from models.config import Config, KpiDefinition
from models.facts import OVERDUE_INDEX_WHERE
from models.marts import MartKpiMonthly

AlertKind = Literal["target_missed", "open_overdue_cases", "bad_review_overdue"]
SEVERITY_ORDER = {"high": 0, "medium": 1}


@dataclass(frozen=True, slots=True)
class Alert:
    """One breach, with the numbers that make it one."""

    kind: AlertKind
    severity: Literal["high", "medium"]
    region_code: str
    period: str
    kpi_code: str | None = None
    value: float | None = None
    target: float | None = None
    mom_change: float | None = None
    count: int | None = None
    oldest: dt.date | None = None


def _month_end(period: str) -> dt.date:
    year, month = int(period[:4]), int(period[5:7])
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _worse(kpi: KpiDefinition, change: float | None) -> bool:
    if change is None:
        return False
    return change < 0 if kpi.direction == "higher_is_better" else change > 0


def _target_alerts(session: Session, config: Config, period: str, regions: Sequence[str] | None) -> list[Alert]:
    m = MartKpiMonthly
    stmt = select(m.region_code, m.kpi_code, m.value, m.sample_size, m.mom_change).where(
        m.period == period, m.target_status == "missed")
    if regions is not None:
        stmt = stmt.where(m.region_code.in_(list(regions)))
    out = []
    for region, code, value, n, mom in session.execute(stmt):
        kpi = config.kpi_by_code.get(code)
        if kpi is None or n < kpi.min_sample:
            continue
        out.append(Alert("target_missed", "high" if _worse(kpi, mom) else "medium", region, period, code, value,
                         kpi.target_for(period), mom))
    return out


def _open_overdue_alerts(session: Session, period: str, today: dt.date,
                         regions: Sequence[str] | None) -> list[Alert]:
    cutoff = min(_month_end(period) + dt.timedelta(days=1), today)
    # The partial index's own predicate, repeated, and a bound on due_period let SQLite read the few late-or-open
    # cases off ix_fact_approval_case_overdue instead of every case (612 → a few ms at 5.2M cases). Both follow
    # from the other terms (due before the month's end, completed after it), so the rows are the same. Accepted by
    # the month follows from due by it, and is left out: PostgreSQL ANDed in a bitmap of every case accepted since
    # (5M at full volume, 540 ms) when its statistics were stale. Naming the regions lets SQLite read the overdue
    # index by region and completion month instead (a cold read at 5.2M cases: 96-490 → 42-56 ms).
    sql = ("SELECT region_code, COUNT(*), MIN(due_date) FROM fact_approval_case "
           f"WHERE region_code IN (SELECT code FROM dim_region) AND {OVERDUE_INDEX_WHERE} AND due_period <= :period "
           "AND due_date < :cutoff AND status <> 'not_accepted' "
           "AND (completed_period IS NULL OR completed_period > :period) GROUP BY region_code")
    rows = session.execute(text(sql), {"cutoff": cutoff, "period": period}).all()
    return [Alert("open_overdue_cases", "high", region, period, "overdue_rate", count=int(n), oldest=_date(oldest))
            for region, n, oldest in rows if regions is None or region in regions]


def _bad_review_alerts(session: Session, config: Config, period: str, today: dt.date,
                       regions: Sequence[str] | None) -> list[Alert]:
    kpi = next((k for k in config.kpis if k.computation == "rating_rectified_on_time_rate"), None)
    days = int(kpi.params.get("deadline_working_days", 10)) if kpi else 10
    calendar = get_calendar(config.calendar.as_mapping())
    cutoff = rectify_cutoff(today=min(_month_end(period) + dt.timedelta(days=1), today), deadline_working_days=days,
                            add_working_days=calendar.add_working_days)
    sql = ("SELECT region_code, COUNT(*), MIN(rated_at) FROM fact_rating WHERE verified_bad "
           "AND rated_period <= :period AND rated_at < :cutoff "
           "AND (rectified_at IS NULL OR rectify_working_days > :days) "
           "AND (rectify_status IS NULL OR rectify_status <> 'rectified') GROUP BY region_code")
    rows = session.execute(text(sql), {"period": period, "cutoff": cutoff, "days": days}).all()
    return [Alert("bad_review_overdue", "high", region, period, kpi.code if kpi else None, count=int(n),
                  oldest=_date(oldest)) for region, n, oldest in rows if regions is None or region in regions]


def _date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def kpi_alerts(*, session: Session, config: Config, period: str, region_codes: Sequence[str] | None = None,
               today: dt.date | None = None) -> list[Alert]:
    """The month's breaches, most severe first, then by region and KPI order, so every reader lists them alike."""
    today = today or dt.datetime.now(ZoneInfo(config.timezone)).date()
    alerts = (_target_alerts(session, config, period, region_codes)
              + _open_overdue_alerts(session, period, today, region_codes)
              + _bad_review_alerts(session, config, period, today, region_codes))
    order = {code: i for i, code in enumerate([config.city.code, *config.unit_codes()])}
    kpi_order = {k.code: i for i, k in enumerate(config.kpis)}
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER[a.severity], order.get(a.region_code, 99), a.kind,
                                         kpi_order.get(a.kpi_code or "", 99)))
