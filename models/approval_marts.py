"""The approvals page's marts: completed cases summed per item and per working-days count, by county-month.

The item ranking and the working-days distribution take any county, months, department and channel; reading them
from the facts scanned every case of those months. These marts hold the same sums at the grain of those filters,
so a read sums a few thousand rows. They are refreshed with the KPI marts, for the (county, month) pairs a load
touched, and the city is the sum of its counties at read time.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, text, tuple_

from models.db import rows_frame
from models.marts import NO_DEPT, MartApprovalDaysMonthly, MartApprovalItemMonthly

Pair = tuple[str, str]  # (region_code, period)

# The cases both marts count: what the item ranking and the distribution read from the facts.
_COUNTED = "status = 'completed' AND working_days IS NOT NULL AND completed_period IS NOT NULL"
_DEPT = f"COALESCE(dept_code, '{NO_DEPT}')"
_LIMITED = "statutory_days > 0 AND promised_days IS NOT NULL"
_LATE = "promised_days IS NOT NULL AND working_days > promised_days"

# One pass over the month's cases at the grain both marts share; pandas then sums it two ways.
FINE_SQL = f"""
SELECT region_code, completed_period, item_code, {_DEPT}, channel, working_days, COUNT(*),
       SUM(CASE WHEN promised_days IS NOT NULL AND working_days <= promised_days THEN 1 ELSE 0 END),
       SUM(CASE WHEN {_LATE} THEN 1 ELSE 0 END), MAX(promised_days), MAX(statutory_days),
       SUM(CASE WHEN {_LIMITED} THEN promised_days END), SUM(CASE WHEN {_LIMITED} THEN statutory_days END)
FROM fact_approval_case
WHERE {_COUNTED} AND completed_period = :period AND region_code IN :regions
GROUP BY region_code, completed_period, item_code, {_DEPT}, channel, working_days
"""
FINE_COLUMNS = ["region_code", "period", "item_code", "dept_code", "channel", "working_days", "cases",
                "within_cases", "late_cases", "promised_max", "statutory_max", "limited_promised_sum",
                "limited_statutory_sum"]
ITEM_KEY = ["region_code", "period", "item_code", "dept_code", "channel"]
DAYS_KEY = ["region_code", "period", "dept_code", "channel", "working_days"]

MARTS = (MartApprovalItemMonthly, MartApprovalDaysMonthly)


def read_approval_counts(*, conn: Connection, pairs: Iterable[Pair]) -> dict[str, pd.DataFrame]:
    """The touched county-months' cases at the marts' grain, per month: one indexed pass over each month's cases.

    Only reads, so a big refresh runs it on a connection of its own beside the KPI sums (two cores, two scans).
    """
    by_period: dict[str, list[str]] = {}
    for region, period in sorted(set(pairs)):
        by_period.setdefault(period, []).append(region)
    stmt = text(FINE_SQL).bindparams(bindparam("regions", expanding=True))
    out = {}
    for period, regions in by_period.items():
        fine = rows_frame(conn.execute(stmt, {"period": period, "regions": regions}), FINE_COLUMNS)
        if not fine.empty:
            out[period] = fine.astype({c: float for c in FINE_COLUMNS[5:]})  # NULL as NaN: sums and maxima skip it
    return out


def refresh_approval_marts(*, conn: Connection, pairs: Iterable[Pair],
                           counts: dict[str, pd.DataFrame] | None = None) -> None:
    """Recount the county-months a load touched, from `counts` when they were read already."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    if counts is None:
        counts = read_approval_counts(conn=conn, pairs=pairs)
    for mart in MARTS:
        key = tuple_(mart.region_code, mart.period)
        for i in range(0, len(pairs), 500):
            conn.execute(delete(mart).where(key.in_(pairs[i:i + 500])))
    for fine in counts.values():
        conn.execute(insert(MartApprovalItemMonthly), _records(_items(fine)))
        conn.execute(insert(MartApprovalDaysMonthly), _records(_days(fine)))


def _items(fine: pd.DataFrame) -> pd.DataFrame:
    """Per item: the ranking's sums, with the working days folded away."""
    fine = fine.assign(days_sum=fine["working_days"] * fine["cases"], days_max=fine["working_days"])
    sums = ["cases", "days_sum", "late_cases"]
    grouped = fine.groupby(ITEM_KEY, sort=False)
    out = grouped[sums].sum()
    out[["days_max", "promised_max", "statutory_max"]] = grouped[["days_max", "promised_max", "statutory_max"]].max()
    for col in ("limited_promised_sum", "limited_statutory_sum"):  # NULL when no case of the item had both limits
        out[col] = grouped[col].sum(min_count=1)
    return out.reset_index()


def _days(fine: pd.DataFrame) -> pd.DataFrame:
    """Per working-days count: the distribution's within and beyond the promised limit."""
    out = fine.groupby(DAYS_KEY, sort=False)[["cases", "within_cases", "late_cases"]].sum()
    return out.rename(columns={"late_cases": "beyond_cases"}).reset_index()


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows for insert: NaN as NULL, numbers as Python ints (pandas turns nullable sums into floats)."""
    columns = {}
    for name, col in frame.items():
        if not pd.api.types.is_numeric_dtype(col):
            columns[name] = col.tolist()
        elif col.isna().any():
            columns[name] = [None if v != v else int(v) for v in col.tolist()]  # v != v: NaN
        else:
            columns[name] = col.astype("int64").tolist()
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def clear_approval_marts(*, conn: Connection) -> None:
    """Empty both marts before a rebuild, so a county-month with no cases left keeps no rows."""
    for mart in MARTS:
        conn.execute(delete(mart))
