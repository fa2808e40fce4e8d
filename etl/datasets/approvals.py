"""Approval cases (办件) from the integrated government-service platform -> `fact_approval_case`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from etl.datasets.base import (
    Context,
    Prepared,
    finish_rows,
    first_failure,
    line_numbers,
    reject_frame,
    resolve_region,
    take_fields,
)
from etl.parsing import clean_text, format_date, format_datetime, format_period, parse_datetime, parse_int
from models.calendar import WorkCalendar

NAME = "approvals"
TABLE = "fact_approval_case"
KEY = ["case_id"]
PERIOD_COLUMNS = ["completed_period"]  # marts group approvals by completion month
# An overdue case counts as open-overdue at every month end from its due month until it is completed.
PERIOD_SPANS = [("due_period", "completed_period")]
CURSOR_FIELD, KEY_FIELD = "source_updated_at", "case_id"

# Canonical field -> the platform's export field (全国一体化政务服务平台 naming). Config can override per job.
ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": ("SBLSH",),
    "item_code": ("SXBM",),
    "region": ("XZQHDM",),
    "dept_code": ("SLBMBM",),
    "channel": ("SBQD",),
    "submitted_at": ("SBSJ",),
    "accepted_at": ("SLSJ",),
    "completed_at": ("BJSJ",),
    "status": ("BJZT",),
    "suspended_days": ("ZTTS",),
    "promised_days": ("CNSX",),
    "statutory_days": ("FDSX",),
    "visits": ("PDCS",),
    "fully_online": ("SFQCWB",),
    "source_updated_at": ("GXSJ",),
    # Optional: the "一件事" bundle (e.g. 企业开办) the case belongs to; platforms name it differently.
    "bundle_id": ("YJSBH", "bundleId", "bundle_id", "一件事编号", "套餐编号"),
}
REQUIRED = ["case_id", "item_code", "region", "accepted_at", "completed_at", "status", "source_updated_at"]

STATUS = {
    "已办结": "completed", "办结": "completed", "completed": "completed",
    "在办": "in_progress", "办理中": "in_progress", "in_progress": "in_progress",
    "补正中": "suspended", "挂起": "suspended", "suspended": "suspended",
    "不予受理": "not_accepted", "not_accepted": "not_accepted",
    "撤件": "withdrawn", "撤回": "withdrawn", "withdrawn": "withdrawn",
}
CHANNEL = {"窗口办理": "window", "窗口": "window", "网上办理": "online", "网上": "online", "移动端": "mobile",
           "自助终端": "kiosk", "window": "window", "online": "online", "mobile": "mobile", "kiosk": "kiosk"}
TRUE_TEXT = {"1", "是", "true", "True", "Y", "y"}

COLUMNS = [
    "case_id", "region_code", "item_code", "item_known", "dept_code", "channel", "submitted_at", "accepted_at",
    "completed_at", "status", "promised_days", "statutory_days", "suspended_days", "working_days", "visits",
    "fully_online", "accepted_period", "completed_period", "due_date", "due_period", "bundle_id", "source_updated_at",
]
HASHED = [c for c in COLUMNS if c != "source_updated_at"]


def due_dates(calendar: WorkCalendar, accepted: pd.Series, promised: pd.Series, suspended: pd.Series) -> pd.Series:
    """The last day a case can be completed and still be on time; NaT without a promised limit.

    Completion counts as on time while `working_days` <= promised, i.e. while fewer than promised + suspended + 1
    working days have passed since the acceptance day. The due date is therefore the day before the
    (promised + suspended + 1)-th working day: the (promised + suspended)-th working day itself, plus the
    weekends or holidays right after it, on which completing uses up no further working day.
    """
    limit = promised.astype("Float64") + suspended.astype("Float64")
    has_limit = limit.notna().to_numpy()
    n = limit.fillna(0).to_numpy(dtype="int64") + 1
    start = accepted.to_numpy("datetime64[D]")
    start = np.where(has_limit, start, np.datetime64("NaT"))
    nxt = calendar.add_working_days_many(start, n)
    return pd.Series((nxt - np.timedelta64(1, "D")).astype("datetime64[s]"), index=accepted.index)


def _catalogue_columns(ctx: Context, item_code: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Whether each item is in the catalogue, and its department, statutory and promised limits (NA if not)."""
    codes = pd.Index(list(ctx.items), dtype="string[pyarrow]")
    pos = codes.get_indexer(item_code) if len(codes) else np.full(len(item_code), -1)
    known = pd.Series(pos >= 0, index=item_code.index)

    def column(i: int, dtype: str) -> pd.Series:
        values = pd.array([v[i] for v in ctx.items.values()] + [None], dtype=dtype)
        return pd.Series(values.take(np.where(pos >= 0, pos, len(codes))), index=item_code.index)

    return known, column(0, "string[pyarrow]"), column(1, "Int64"), column(2, "Int64")


def prepare(raw: pd.DataFrame, *, source: str, ctx: Context, fields: Mapping[str, str] | None = None,
            lines: pd.Series | None = None) -> Prepared:
    """Validate one page of platform records and shape the good ones as `fact_approval_case` rows."""
    lines = line_numbers(raw, lines)
    f = take_fields(raw, ALIASES, overrides=fields, required=REQUIRED, where=source)
    case_id = clean_text(f["case_id"])
    region = resolve_region(f["region"], ctx.aliases)
    status = clean_text(f["status"]).map(STATUS).astype("string")
    accepted = parse_datetime(f["accepted_at"])
    completed = parse_datetime(f["completed_at"])
    completed_given = clean_text(f["completed_at"]).notna()
    submitted = parse_datetime(f["submitted_at"])
    visits_raw, suspended_raw = parse_int(f["visits"]), parse_int(f["suspended_days"])
    unreadable = ((visits_raw.isna() & clean_text(f["visits"]).notna())
                  | (suspended_raw.isna() & clean_text(f["suspended_days"]).notna()))
    visits, suspended = visits_raw.fillna(0), suspended_raw.fillna(0)
    working = pd.Series(ctx.calendar.working_days_between_many(accepted.to_numpy("datetime64[D]"),
                                                                completed.to_numpy("datetime64[D]")), index=raw.index)
    span_start, span_end = pd.Timestamp(ctx.calendar.start), pd.Timestamp(ctx.calendar.end) + pd.Timedelta(days=1)
    outside = ~accepted.between(span_start, span_end, inclusive="left") | (
        completed.notna() & ~completed.between(span_start, span_end, inclusive="left"))
    reasons = first_failure([
        ("missing_key", case_id.isna()),
        ("unknown_region", region.isna()),
        ("bad_accepted_at", accepted.isna()),
        ("bad_completed_at", completed_given & completed.isna()),
        ("unknown_status", status.isna()),
        ("completed_before_accepted", completed < accepted),
        ("completed_without_time", (status == "completed") & completed.isna()),
        ("date_out_of_range", outside),
        ("invalid_number", unreadable),
        ("negative_count", (visits < 0) | (suspended < 0)),
    ], raw.index)
    rejects = reject_frame(raw, reasons, source=source, lines=lines)
    good = reasons.isna()

    item_code = clean_text(f["item_code"]).fillna("")
    known, cat_dept, cat_statutory, cat_promised = _catalogue_columns(ctx, item_code)
    promised = parse_int(f["promised_days"]).fillna(cat_promised)
    statutory = parse_int(f["statutory_days"]).fillna(cat_statutory)
    days = (working - suspended.astype(float)).clip(lower=0).where(completed.notna())
    due = due_dates(ctx.calendar, accepted, promised, suspended)
    out = pd.DataFrame({
        "case_id": case_id,
        "region_code": region,
        "item_code": item_code,
        "item_known": known.astype(int),
        "dept_code": clean_text(f["dept_code"]).fillna(cat_dept),
        "channel": clean_text(f["channel"]).map(CHANNEL).fillna("other"),
        "submitted_at": format_datetime(submitted),
        "accepted_at": format_datetime(accepted),
        "completed_at": format_datetime(completed),
        "status": status,
        "promised_days": promised,
        "statutory_days": statutory,
        "suspended_days": suspended,
        "working_days": days.round().astype("Int64"),
        "visits": visits,
        "fully_online": clean_text(f["fully_online"]).isin(TRUE_TEXT).astype(int),
        "accepted_period": format_period(accepted),
        "completed_period": format_period(completed),
        "due_date": format_date(due),
        "due_period": format_period(due),
        "bundle_id": clean_text(f["bundle_id"]),
        "source_updated_at": format_datetime(parse_datetime(f["source_updated_at"])),
    })[good]
    out = finish_rows(out, hashed=HASHED, key=KEY, ctx=ctx, source=source, lines=lines)
    return Prepared(rows=out, rejects=rejects)
