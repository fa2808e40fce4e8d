"""The approvals page's marts: completed cases summed per item and per working-days count, by county-month.

The item ranking and the working-days distribution take any county, months, department and channel; reading them
from the facts scanned every case of those months. These marts hold the same sums at the grain of those filters,
so a read sums a few thousand rows. They are refreshed with the KPI marts, for the (county, month) pairs a load
touched, and the city is the sum of its counties at read time.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, text, tuple_

from models.marts import NO_DEPT, MartApprovalDaysMonthly, MartApprovalItemMonthly

Pair = tuple[str, str]  # (region_code, period)

# The cases both marts count: what the item ranking and the distribution read from the facts.
_COUNTED = "status = 'completed' AND working_days IS NOT NULL AND completed_period IS NOT NULL"
_DEPT = f"COALESCE(dept_code, '{NO_DEPT}')"
_LIMITED = "statutory_days > 0 AND promised_days IS NOT NULL"
_LATE = "promised_days IS NOT NULL AND working_days > promised_days"

ITEM_SQL = f"""
INSERT INTO mart_approval_item_monthly (region_code, period, item_code, dept_code, channel, cases, days_sum,
    days_max, late_cases, promised_max, statutory_max, limited_promised_sum, limited_statutory_sum)
SELECT region_code, completed_period, item_code, {_DEPT}, channel, COUNT(*), SUM(working_days), MAX(working_days),
       SUM(CASE WHEN {_LATE} THEN 1 ELSE 0 END), MAX(promised_days), MAX(statutory_days),
       SUM(CASE WHEN {_LIMITED} THEN promised_days END), SUM(CASE WHEN {_LIMITED} THEN statutory_days END)
FROM fact_approval_case
WHERE {_COUNTED} {{where}}
GROUP BY region_code, completed_period, item_code, {_DEPT}, channel
"""

DAYS_SQL = f"""
INSERT INTO mart_approval_days_monthly (region_code, period, dept_code, channel, working_days, cases, within_cases,
    beyond_cases)
SELECT region_code, completed_period, {_DEPT}, channel, working_days, COUNT(*),
       SUM(CASE WHEN promised_days IS NOT NULL AND working_days <= promised_days THEN 1 ELSE 0 END),
       SUM(CASE WHEN {_LATE} THEN 1 ELSE 0 END)
FROM fact_approval_case
WHERE {_COUNTED} {{where}}
GROUP BY region_code, completed_period, {_DEPT}, channel, working_days
"""

MARTS = (MartApprovalItemMonthly, MartApprovalDaysMonthly)


def refresh_approval_marts(*, conn: Connection, pairs: Iterable[Pair]) -> None:
    """Recount the county-months a load touched, one month at a time so each insert reads one index range."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    for mart in MARTS:
        key = tuple_(mart.region_code, mart.period)
        for i in range(0, len(pairs), 500):
            conn.execute(delete(mart).where(key.in_(pairs[i:i + 500])))
    by_period: dict[str, list[str]] = {}
    for region, period in pairs:
        by_period.setdefault(period, []).append(region)
    where = "AND completed_period = :period AND region_code IN :regions"
    for sql in (ITEM_SQL, DAYS_SQL):
        stmt = text(sql.format(where=where)).bindparams(bindparam("regions", expanding=True))
        for period, regions in by_period.items():
            conn.execute(stmt, {"period": period, "regions": regions})


def clear_approval_marts(*, conn: Connection) -> None:
    """Empty both marts before a rebuild, so a county-month with no cases left keeps no rows."""
    for mart in MARTS:
        conn.execute(delete(mart))
