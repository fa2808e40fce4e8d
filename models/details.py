"""Case-level reads behind the drill-down tables and detail charts, scoped to what the viewer may see.

Every read is keyword-only `(*, session, viewer, config, region_code, period, ...)` and returns a small frame:
filtering, grouping and limiting happen in SQL over the indexed month slices of the fact tables, so no request
ever pulls a whole table into pandas. `region_code` is a county, or the city (or None) for "every region the viewer
may see": a county bureau asking for the city sees its own county, and asking for another county is refused with
`DetailScopeError` before any row is read.

"As of" a month means at the end of that month, or today while the month is still running, as the KPI layer and
the alerts count "open past due".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from models.calendar import get_calendar
from models.config import Config
from models.db import rows_frame
from models.dims import DimDepartment, DimServiceItem
from models.facts import (
    BUSINESS_ENV_INDEX_WHERE,
    OVERDUE_INDEX_WHERE,
    VERIFIED_BAD_INDEX_WHERE,
    FactApprovalCase,
    FactHotlineTicket,
    FactRating,
)
from models.kpis import read_kpi_monthly
from models.marts import MartApprovalDaysMonthly, MartApprovalItemMonthly, MartRatingLevelMonthly
from models.scope import Viewer

__all__ = [
    "DetailScopeError", "channel_options", "department_options", "detail_regions", "item_options",
    "overdue_open_cases", "overdue_tickets", "rating_levels_by_month", "rectification_summary", "slowest_items",
    "ticket_categories", "unrectified_bad_reviews", "working_days_distribution",
]

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
C, R, T = FactApprovalCase, FactRating, FactHotlineTicket
DEFAULT_RECTIFY_DEADLINE = 10


class DetailScopeError(PermissionError):
    """A viewer asked for case-level detail of a region it may not see."""


# ---- scope, periods and the "as of" instant ---------------------------------------------------------------------


def detail_regions(*, viewer: Viewer, config: Config, region_code: str | None) -> list[str]:
    """The regions a detail read covers: one county, or every county the viewer may see for the city."""
    if region_code in (None, "", config.city.code):
        return [viewer.region_code] if viewer.role == "county" else list(config.unit_codes())
    if not viewer.can_see_detail(region_code):
        raise DetailScopeError(f"{viewer.role} viewer of {viewer.region_code} may not read detail of {region_code}")
    if region_code not in config.unit_codes():
        raise ValueError(f"unknown region {region_code!r}")
    return [region_code]


def _check_period(period: str) -> str:
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise ValueError(f"not a YYYY-MM period: {period!r}")
    return period


def _periods(start: str | None, end: str) -> list[str]:
    """Every month from start to end inclusive (start defaults to end); at most 120 months."""
    end = _check_period(end)
    start = _check_period(start) if start else end
    if start > end:
        start, end = end, start
    out, (year, month) = [], (int(start[:4]), int(start[5:7]))
    while f"{year}-{month:02d}" <= end and len(out) < 120:
        out.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _month_end(period: str) -> dt.date:
    year, month = int(period[:4]), int(period[5:7])
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def _today(config: Config, today: dt.date | None) -> dt.date:
    return today or dt.datetime.now(ZoneInfo(config.timezone)).date()


def as_of_day(period: str, today: dt.date) -> dt.date:
    """The day a month is judged at: its last day, or today while it is still running."""
    return min(_month_end(_check_period(period)), today)


def _frame(session: Session, stmt: Select, columns: Sequence[str]) -> pd.DataFrame:
    return rows_frame(session.execute(stmt), columns)


def _rectify_deadline(config: Config) -> int:
    """The rectification deadline in working days, as configured on the rectified-on-time KPI."""
    kpi = next((k for k in config.kpis if k.computation == "rating_rectified_on_time_rate"), None)
    return int(kpi.params.get("deadline_working_days", DEFAULT_RECTIFY_DEADLINE)) if kpi else DEFAULT_RECTIFY_DEADLINE


def _working_days(config: Config, starts: pd.Series, ends: Sequence[dt.date]) -> list[int]:
    """Working days from each start to its end, at least 0: by array, one calendar lookup per row only for a date
    outside the calendar's span (200 rows: ~1 ms instead of ~30)."""
    calendar = get_calendar(config.calendar.as_mapping())
    first = pd.to_datetime(pd.Series(list(starts), dtype=object), format="ISO8601").to_numpy("datetime64[D]")
    days = calendar.working_days_between_many(first, np.asarray(list(ends), dtype="datetime64[D]"))
    return [max(int(n), 0) if not np.isnan(n) else max(calendar.working_days_between(pd.Timestamp(s).date(), e), 0)
            for n, s, e in zip(days, starts, ends, strict=True)]


def _mart_filters(mart: type[MartApprovalItemMonthly] | type[MartApprovalDaysMonthly], regions: list[str],
                  periods: list[str], dept_code: str | None, channel: str | None) -> list:
    where = [mart.region_code.in_(regions), mart.period.in_(periods)]
    if dept_code:
        where.append(mart.dept_code == dept_code)
    if channel:
        where.append(mart.channel == channel)
    return where


# ---- approvals ----------------------------------------------------------------------------------------------------

SLOWEST_COLUMNS = ["item_code", "item_name", "dept_code", "dept_name", "cases", "mean_working_days",
                   "max_working_days", "late_cases", "late_share", "promised_days", "statutory_days", "compression",
                   "rank_by_time", "rank_by_compression"]


def slowest_items(
    *, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str,
    start_period: str | None = None, limit: int = 20, order_by: str = "time", dept_code: str | None = None,
    channel: str | None = None, min_cases: int = 1,
) -> pd.DataFrame:
    """Items of the cases completed in the months, ranked by mean working days or by limit compression.

    `compression` is 1 − Σpromised / Σstatutory over the item's cases, as the KPI counts it; `rank_by_compression`
    puts the least compressed item first (the one whose promise saves applicants the least time).
    """
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    M = MartApprovalItemMonthly
    stmt = (
        select(M.item_code, func.sum(M.cases), func.sum(M.days_sum), func.max(M.days_max), func.sum(M.late_cases),
               func.max(M.promised_max), func.max(M.statutory_max), func.sum(M.limited_promised_sum),
               func.sum(M.limited_statutory_sum))
        .where(*_mart_filters(M, regions, _periods(start_period, period), dept_code, channel))
        .group_by(M.item_code)
        .having(func.sum(M.cases) >= max(int(min_cases), 1))
    )
    agg = _frame(session, stmt, ["item_code", "cases", "days_sum", "max_working_days", "late_cases",
                                 "promised_days", "statutory_days", "sum_promised", "sum_statutory"])
    if agg.empty:
        return pd.DataFrame(columns=SLOWEST_COLUMNS)
    agg["cases"] = agg["cases"].astype(int)
    agg["mean_working_days"] = agg["days_sum"].astype(float) / agg["cases"]
    agg["late_share"] = agg["late_cases"] / agg["cases"]
    statutory = agg["sum_statutory"].astype(float)
    agg["compression"] = (1.0 - agg["sum_promised"].astype(float) / statutory).where(statutory > 0)
    agg["rank_by_time"] = agg["mean_working_days"].rank(method="min", ascending=False).astype(int)
    agg["rank_by_compression"] = agg["compression"].rank(method="min", ascending=True, na_option="bottom").astype(int)
    key = ["rank_by_compression", "rank_by_time"] if order_by == "compression" else ["rank_by_time", "cases"]
    agg = agg.sort_values([key[0], key[1], "item_code"], ascending=[True, order_by == "compression", True])
    agg = agg.head(max(int(limit), 0))
    names = _item_names(session, agg["item_code"].tolist())
    agg = agg.merge(names, on="item_code", how="left")
    agg["item_name"] = agg["item_name"].fillna(agg["item_code"])
    return agg[SLOWEST_COLUMNS].reset_index(drop=True)


def _item_names(session: Session, codes: list[str]) -> pd.DataFrame:
    stmt = (select(DimServiceItem.item_code, DimServiceItem.name_zh, DimServiceItem.dept_code, DimDepartment.name_zh)
            .outerjoin(DimDepartment, DimDepartment.dept_code == DimServiceItem.dept_code)
            .where(DimServiceItem.item_code.in_(codes or [""])))
    return _frame(session, stmt, ["item_code", "item_name", "dept_code", "dept_name"])


OVERDUE_CASE_COLUMNS = ["case_id", "region_code", "item_code", "item_name", "dept_code", "dept_name", "channel",
                        "status", "accepted_at", "due_date", "days_overdue"]


def overdue_open_cases(
    *, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str, limit: int = 200,
    dept_code: str | None = None, channel: str | None = None, today: dt.date | None = None,
) -> pd.DataFrame:
    """Cases still open at the month's end (today, for the running month) whose due date had passed, oldest due first.

    The same population as the overdue-rate KPI's "open past due" count; `days_overdue` counts the working days
    after the due date up to the as-of day.
    """
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    as_of = as_of_day(period, _today(config, today))
    order = (C.due_date, C.accepted_at, C.case_id)
    first = (
        select(C.case_id)
        # due_period ≤ period follows from due_date ≤ as_of; spelled out, it is tested inside the overdue-by-region
        # index, whose completion-month ranges (NULL; after the month) SQLite reads instead of every late case.
        .where(text(OVERDUE_INDEX_WHERE), C.region_code.in_(regions), C.due_period <= period, C.due_date <= as_of,
               C.status != "not_accepted", or_(C.completed_period.is_(None), C.completed_period > period))
        .order_by(*order).limit(max(int(limit), 0))
    )
    if dept_code:
        first = first.where(C.dept_code == dept_code)
    if channel:
        first = first.where(C.channel == channel)
    # The oldest-due cases are picked off the index, which carries every column the filter and the order need;
    # only those are read from the table (city-wide, 7.7k open late cases: 85 → 26 ms).
    stmt = (select(C.case_id, C.region_code, C.item_code, C.dept_code, C.channel, C.status, C.accepted_at, C.due_date)
            .where(C.case_id.in_(first)).order_by(*order))
    rows = _frame(session, stmt, ["case_id", "region_code", "item_code", "dept_code", "channel", "status",
                                  "accepted_at", "due_date"])
    if rows.empty:
        return pd.DataFrame(columns=OVERDUE_CASE_COLUMNS)
    rows["days_overdue"] = _working_days(config, rows["due_date"], [as_of] * len(rows))
    # Names by dict lookup, not a merge per table: two pandas merges cost more than the query on 200 rows.
    items = _item_names(session, rows["item_code"].unique().tolist())
    item_name = dict(zip(items["item_code"], items["item_name"], strict=True))
    depts = _dept_names(session, rows["dept_code"].dropna().unique().tolist())
    dept_name = dict(zip(depts["dept_code"], depts["dept_name"], strict=True))
    rows["item_name"] = [item_name.get(code) or code for code in rows["item_code"]]
    rows["dept_name"] = [dept_name.get(code) for code in rows["dept_code"]]
    rows["due_date"] = pd.to_datetime(rows["due_date"]).dt.date
    rows["accepted_at"] = pd.to_datetime(rows["accepted_at"])
    return rows[OVERDUE_CASE_COLUMNS].reset_index(drop=True)


def _dept_names(session: Session, codes: list[str]) -> pd.DataFrame:
    stmt = select(DimDepartment.dept_code, DimDepartment.name_zh).where(DimDepartment.dept_code.in_(codes or [""]))
    return _frame(session, stmt, ["dept_code", "dept_name"])


def working_days_distribution(
    *, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str,
    start_period: str | None = None, limit: int = 200, dept_code: str | None = None, channel: str | None = None,
) -> pd.DataFrame:
    """How many completed cases took each number of working days, split into within and beyond the promised limit.

    Columns: working_days, cases, within_limit, beyond_limit, no_limit. Values above `limit` days are folded into
    one last row at `limit` so a few extreme cases cannot stretch the chart.
    """
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    M = MartApprovalDaysMonthly
    stmt = (
        select(M.working_days, func.sum(M.cases), func.sum(M.within_cases), func.sum(M.beyond_cases))
        .where(*_mart_filters(M, regions, _periods(start_period, period), dept_code, channel))
        .group_by(M.working_days).order_by(M.working_days)
    )
    out = _frame(session, stmt, ["working_days", "cases", "within_limit", "beyond_limit"])
    cols = ["working_days", "cases", "within_limit", "beyond_limit", "no_limit"]
    if out.empty:
        return pd.DataFrame(columns=cols)
    out = out.astype(int)
    out["working_days"] = out["working_days"].clip(upper=max(int(limit), 0))
    out = out.groupby("working_days", as_index=False).sum()
    out["no_limit"] = out["cases"] - out["within_limit"] - out["beyond_limit"]
    return out[cols]


def department_options(*, session: Session, viewer: Viewer, config: Config, region_code: str | None = None,
                       period: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Departments of the service catalogue that have items: dept_code, dept_name (catalogue data, not scoped)."""
    detail_regions(viewer=viewer, config=config, region_code=region_code)
    stmt = (select(DimDepartment.dept_code, DimDepartment.name_zh)
            .where(DimDepartment.dept_code.in_(select(DimServiceItem.dept_code).distinct()))
            .order_by(DimDepartment.dept_code).limit(limit))
    return _frame(session, stmt, ["dept_code", "dept_name"])


def item_options(*, session: Session, viewer: Viewer, config: Config, region_code: str | None = None,
                 period: str | None = None, limit: int = 2000, dept_code: str | None = None) -> pd.DataFrame:
    """Service items of the catalogue, optionally of one department: item_code, item_name, dept_code."""
    detail_regions(viewer=viewer, config=config, region_code=region_code)
    stmt = select(DimServiceItem.item_code, DimServiceItem.name_zh, DimServiceItem.dept_code)
    if dept_code:
        stmt = stmt.where(DimServiceItem.dept_code == dept_code)
    return _frame(session, stmt.order_by(DimServiceItem.item_code).limit(limit),
                  ["item_code", "item_name", "dept_code"])


def channel_options(*, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str,
                    start_period: str | None = None, limit: int = 50) -> list[str]:
    """The channels cases of the months came through (window, online, mobile, kiosk, other), most used first."""
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    periods = _periods(start_period, period)
    stmt = (select(C.channel).where(C.region_code.in_(regions), C.completed_period.in_(periods))
            .group_by(C.channel).order_by(func.count().desc(), C.channel).limit(limit))
    return [c for c in session.scalars(stmt) if c]


# ---- ratings (好差评) --------------------------------------------------------------------------------------------

BAD_REVIEW_COLUMNS = ["rating_id", "region_code", "case_id", "channel", "rated_at", "level", "comment",
                      "rectify_status", "deadline", "working_days_since", "past_deadline"]


def unrectified_bad_reviews(
    *, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str, limit: int = 200,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Verified bad reviews given up to the month that were not rectified by its end (today, if running), oldest first.

    `deadline` is the rating day plus the KPI's `deadline_working_days`; `past_deadline` says whether it had passed
    by the as-of day; `working_days_since` counts working days from the rating to the as-of day.
    """
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    as_of = as_of_day(period, _today(config, today))
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    rectified_by_then = and_(R.rectify_status == "rectified",
                             or_(R.rectified_at.is_(None), R.rectified_at < cutoff))
    stmt = (
        select(R.rating_id, R.region_code, R.case_id, R.channel, R.rated_at, R.level, R.comment, R.rectify_status)
        # The predicate as the partial index ix_fact_rating_verified_bad spells it, so the index is used; it gives a
        # county's reviews by rating time, so the oldest unrectified are read in order.
        .where(text(VERIFIED_BAD_INDEX_WHERE), R.region_code.in_(regions), R.rated_period <= period,
               R.rated_at < cutoff, ~rectified_by_then)
        .order_by(R.rated_at, R.rating_id).limit(max(int(limit), 0))
    )
    rows = _frame(session, stmt, BAD_REVIEW_COLUMNS[:8])
    if rows.empty:
        return pd.DataFrame(columns=BAD_REVIEW_COLUMNS)
    days = _rectify_deadline(config)
    calendar = get_calendar(config.calendar.as_mapping())
    rows["rated_at"] = pd.to_datetime(rows["rated_at"])
    rows["deadline"] = [calendar.add_working_days(ts.date(), days) for ts in rows["rated_at"]]
    rows["working_days_since"] = _working_days(config, rows["rated_at"], [as_of] * len(rows))
    rows["past_deadline"] = [d < as_of for d in rows["deadline"]]
    return rows[BAD_REVIEW_COLUMNS].reset_index(drop=True)


def rating_levels_by_month(*, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str,
                           start_period: str | None = None, limit: int = 120) -> pd.DataFrame:
    """Ratings per month and level (5 非常满意 … 1 非常不满意): period, level, ratings, with every level present."""
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    periods = _periods(start_period, period)[-max(int(limit), 1):]
    L = MartRatingLevelMonthly
    stmt = (select(L.period, L.level, func.sum(L.ratings))
            .where(L.region_code.in_(regions), L.period.in_(periods))
            .group_by(L.period, L.level))
    counts = _frame(session, stmt, ["period", "level", "ratings"])
    grid = pd.MultiIndex.from_product([periods, [5, 4, 3, 2, 1]], names=["period", "level"])
    counts = counts.astype({"level": int, "ratings": int}).set_index(["period", "level"])
    out = counts.reindex(grid, fill_value=0).reset_index()
    out["ratings"] = out["ratings"].astype(int)
    return out


RECTIFICATION_COLUMNS = ["period", "verified_bad", "rectified", "rectification_rate", "due", "rectified_on_time",
                         "on_time_rate"]


def rectification_summary(*, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str,
                          start_period: str | None = None, limit: int = 120) -> pd.DataFrame:
    """Per month: verified bad reviews, rectified, and rectified within the deadline, from the KPI marts.

    The counts are the rectification KPIs' numerators and denominators, so this table and the KPI cards agree.
    A county viewer reading the city gets its own county.
    """
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    if region_code in (None, "", config.city.code) and viewer.role != "county":
        regions = [config.city.code]
    periods = _periods(start_period, period)[-max(int(limit), 1):]
    codes = {k.computation: k.code for k in config.kpis}
    rate_kpi, on_time_kpi = codes.get("rating_rectification_rate"), codes.get("rating_rectified_on_time_rate")
    wanted = [c for c in (rate_kpi, on_time_kpi) if c]
    mart = read_kpi_monthly(session=session, viewer=viewer, kpi_codes=wanted, periods=periods,
                            region_codes=regions) if wanted else pd.DataFrame()
    out = pd.DataFrame({"period": periods})
    for kpi, num, den, rate in ((rate_kpi, "rectified", "verified_bad", "rectification_rate"),
                                (on_time_kpi, "rectified_on_time", "due", "on_time_rate")):
        part = mart[mart["kpi_code"] == kpi] if kpi and not mart.empty else pd.DataFrame(
            columns=["period", "numerator", "denominator"])
        sums = part.groupby("period")[["numerator", "denominator"]].sum(min_count=1)
        out[num] = out["period"].map(sums["numerator"]) if not sums.empty else None
        out[den] = out["period"].map(sums["denominator"]) if not sums.empty else None
        n, d = out[num].astype(float), out[den].astype(float)
        out[rate] = (n / d).where(d > 0)
    return out[RECTIFICATION_COLUMNS]


# ---- 12345 hotline ---------------------------------------------------------------------------------------------

OVERDUE_TICKET_COLUMNS = ["ticket_id", "region_code", "category", "is_business_env", "status", "received_at",
                          "due_at", "closed_at", "days_late", "content"]


def overdue_tickets(
    *, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str,
    start_period: str | None = None, limit: int = 200, business_only: bool = False, today: dt.date | None = None,
) -> pd.DataFrame:
    """Tickets received in the months that were closed after their due time or were still open past it.

    Open is judged at the month's end (today, for the running month); `days_late` is in calendar days (hotline
    limits run on the clock), one decimal, from the due time to closure or to the as-of instant. Most late first.
    """
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    periods = _periods(start_period, period)
    as_of = as_of_day(period, _today(config, today))
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    closed_late = and_(T.closed_at.is_not(None), T.closed_at > T.due_at, T.closed_at < cutoff)
    open_late = and_(or_(T.closed_at.is_(None), T.closed_at >= cutoff), T.due_at < cutoff)
    stmt = (select(T.ticket_id, T.region_code, T.category, T.is_business_env, T.status, T.received_at, T.due_at,
                   T.closed_at, T.content)
            .where(T.region_code.in_(regions), T.received_period.in_(periods), T.due_at.is_not(None),
                   or_(closed_late, open_late))
            .order_by(T.due_at, T.ticket_id))
    if business_only:
        stmt = stmt.where(text(BUSINESS_ENV_INDEX_WHERE))
    rows = _frame(session, stmt.limit(max(int(limit), 0) * 5 + 50),
                  ["ticket_id", "region_code", "category", "is_business_env", "status", "received_at", "due_at",
                   "closed_at", "content"])
    if rows.empty:
        return pd.DataFrame(columns=OVERDUE_TICKET_COLUMNS)
    for col in ("received_at", "due_at", "closed_at"):
        rows[col] = pd.to_datetime(rows[col])
    closed_in_time = rows["closed_at"].notna() & (rows["closed_at"] < pd.Timestamp(cutoff))
    end = rows["closed_at"].where(closed_in_time, pd.Timestamp(cutoff))
    rows["days_late"] = ((end - rows["due_at"]).dt.total_seconds() / 86400.0).round(1)
    rows["status"] = rows["status"].where(closed_in_time | rows["closed_at"].isna(), "open_at_month_end")
    rows["is_business_env"] = rows["is_business_env"].astype(bool)
    rows = rows.sort_values(["days_late", "ticket_id"], ascending=[False, True]).head(max(int(limit), 0))
    return rows[OVERDUE_TICKET_COLUMNS].reset_index(drop=True)


def ticket_categories(*, session: Session, viewer: Viewer, config: Config, region_code: str | None, period: str,
                      start_period: str | None = None, limit: int = 30, today: dt.date | None = None) -> pd.DataFrame:
    """Business-environment tickets received in the months by category, most first: category, tickets, share,
    closed_late_or_overdue (closed after the due time, or open past it at the as-of day)."""
    regions = detail_regions(viewer=viewer, config=config, region_code=region_code)
    periods = _periods(start_period, period)
    cutoff = dt.datetime.combine(as_of_day(period, _today(config, today)) + dt.timedelta(days=1), dt.time())
    late = or_(and_(T.closed_at.is_not(None), T.closed_at > T.due_at),
               and_(T.closed_at.is_(None), T.due_at < cutoff))
    stmt = (select(T.category, func.count(), func.sum(case((and_(T.due_at.is_not(None), late), 1), else_=0)))
            .where(text(BUSINESS_ENV_INDEX_WHERE), T.region_code.in_(regions), T.received_period.in_(periods))
            .group_by(T.category).order_by(func.count().desc(), T.category).limit(max(int(limit), 0)))
    out = _frame(session, stmt, ["category", "tickets", "late"])
    cols = ["category", "tickets", "share", "late"]
    if out.empty:
        return pd.DataFrame(columns=cols)
    out[["tickets", "late"]] = out[["tickets", "late"]].astype(int)
    out["share"] = out["tickets"] / out["tickets"].sum()
    return out[cols]

