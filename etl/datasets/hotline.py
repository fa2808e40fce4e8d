"""12345 hotline tickets from the hotline system's database view -> `fact_hotline_ticket`.

Tickets change state after they are first seen (closed, called back, reopened), so the fact is upserted on
`ticket_id`: a changed ticket is updated in place and an unchanged one (same row_hash) is left untouched.
"""

from __future__ import annotations

from collections.abc import Mapping

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
from etl.parsing import clean_text, format_datetime, format_period, parse_datetime, parse_int

NAME = "hotline"
TABLE = "fact_hotline_ticket"
KEY = ["ticket_id"]
PERIOD_COLUMNS = ["received_period"]  # hotline marts group tickets by the month the call came in
CURSOR_FIELD, KEY_FIELD = "source_updated_at", "ticket_id"

# Canonical field -> accepted source column names: the platform's view first, then the hotline system's own
# table (t_gd) and Chinese export headers. Config can override per job under jobs.<job>.fields.
ALIASES: dict[str, tuple[str, ...]] = {
    "ticket_id": ("ticket_no", "ticket_id", "gdbh", "工单编号"),
    "region": ("region", "ssqy", "所属区域"),
    "category": ("category", "gdfl", "工单分类"),
    "is_business_env": ("is_business_env", "sfysh", "是否营商环境"),
    "content": ("content", "ldnr", "来电内容"),
    "status": ("status", "工单状态"),
    "received_at": ("received_at", "ldsj", "来电时间"),
    "due_at": ("due_at", "blsx", "办理时限"),
    "closed_at": ("closed_at", "bjsj", "办结时间"),
    "called_back_at": ("callback_at", "called_back_at", "hfsj", "回访时间"),
    "resolved": ("resolved", "是否解决"),
    "satisfaction": ("satisfaction", "满意度"),
    "reopen_count": ("reopen_count", "cbcs", "重办次数"),
    "source_updated_at": ("updated_at", "gxsj", "更新时间"),
}
REQUIRED = ["ticket_id", "region", "status", "received_at", "source_updated_at"]

STATUS = {
    "待办理": "pending", "待受理": "pending", "pending": "pending",
    "办理中": "in_progress", "在办": "in_progress", "in_progress": "in_progress",
    "已办结": "closed", "办结": "closed", "closed": "closed",
    "已回访": "called_back", "called_back": "called_back",
    "重办中": "reopened", "重办": "reopened", "reopened": "reopened",
}
RESOLVED = {"已解决": True, "解决": True, "是": True, "1": True, "true": True, "True": True, "Y": True,
            "未解决": False, "否": False, "0": False, "false": False, "False": False, "N": False}
# Three levels per GB/T 33358; five-level systems fold their extremes into the nearest of the three.
SATISFACTION = {
    "满意": "satisfied", "非常满意": "satisfied", "satisfied": "satisfied",
    "基本满意": "basically_satisfied", "basic_satisfied": "basically_satisfied",
    "basically_satisfied": "basically_satisfied",
    "不满意": "dissatisfied", "非常不满意": "dissatisfied", "dissatisfied": "dissatisfied",
}
TRUE_TEXT = {"1", "是", "true", "True", "Y", "y"}
UNCATEGORISED = "未分类"


COLUMNS = [
    "ticket_id", "region_code", "category", "is_business_env", "content", "status", "received_at",
    "received_period", "due_at", "closed_at", "called_back_at", "resolved", "satisfaction", "reopen_count",
    "source_updated_at",
]
HASHED = [c for c in COLUMNS if c != "source_updated_at"]


def parse_time(values: pd.Series, *, tz: str) -> pd.Series:
    """Datetimes from text, or as given when the source database returns timestamps (aware ones in the city's zone)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[s]")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[s]")
    return parse_datetime(values)


def _flag(values: pd.Series) -> pd.Series:
    """1/0 from '1', 1, '是', 'true'…; anything else is 0."""
    return (clean_text(values).isin(TRUE_TEXT) | parse_int(values).eq(1).fillna(False)).astype(int)


def _resolved(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Resolved as nullable 1/0, and where a given value was not recognised."""
    text = clean_text(values)
    mapped = text.map(RESOLVED).astype("boolean")
    number = parse_int(values)
    mapped = mapped.fillna(number.where(number.isin([0, 1])).astype("boolean"))
    return mapped.astype("Int64"), text.notna() & mapped.isna()


def prepare(raw: pd.DataFrame, *, source: str, ctx: Context, fields: Mapping[str, str] | None = None,
            lines: pd.Series | None = None) -> Prepared:
    """Validate one chunk of hotline tickets and shape the good ones as `fact_hotline_ticket` rows."""
    lines = line_numbers(raw, lines)
    f = take_fields(raw, ALIASES, overrides=fields, required=REQUIRED, where=source)
    ticket_id = clean_text(f["ticket_id"])
    region = resolve_region(f["region"], ctx.aliases)
    status = clean_text(f["status"]).map(STATUS).astype("string")
    tz = ctx.config.timezone
    received = parse_time(f["received_at"], tz=tz)
    times = {c: parse_time(f[c], tz=tz) for c in ("due_at", "closed_at", "called_back_at")}
    unreadable = pd.Series(False, index=raw.index)
    for c, parsed in times.items():
        unreadable |= clean_text(f[c].astype("string")).notna() & parsed.isna()
    reopen = parse_int(f["reopen_count"]).fillna(0)
    resolved, bad_resolved = _resolved(f["resolved"])
    sat_text = clean_text(f["satisfaction"])
    satisfaction = sat_text.map(SATISFACTION).astype("string")
    reasons = first_failure([
        ("missing_key", ticket_id.isna()),
        ("unknown_region", region.isna()),
        ("bad_received_at", received.isna()),
        ("unknown_ticket_status", status.isna()),
        ("bad_ticket_time", unreadable),
        ("closed_before_received", times["closed_at"] < received),
        ("negative_count", reopen < 0),
        ("bad_callback_result", bad_resolved | (sat_text.notna() & satisfaction.isna())),
    ], raw.index)
    rejects = reject_frame(raw, reasons, source=source, lines=lines)
    good = reasons.isna()
    out = pd.DataFrame({
        "ticket_id": ticket_id,
        "region_code": region,
        "category": clean_text(f["category"]).fillna(UNCATEGORISED),
        "is_business_env": _flag(f["is_business_env"]),
        "content": f["content"].astype("string"),  # the caller's words, kept exactly as delivered
        "status": status,
        "received_at": format_datetime(received),
        "received_period": format_period(received),
        "due_at": format_datetime(times["due_at"]),
        "closed_at": format_datetime(times["closed_at"]),
        "called_back_at": format_datetime(times["called_back_at"]),
        "resolved": resolved,
        "satisfaction": satisfaction,
        "reopen_count": reopen,
        "source_updated_at": format_datetime(parse_time(f["source_updated_at"], tz=tz)),
    })[good]
    out = finish_rows(out, hashed=HASHED, key=KEY, ctx=ctx, source=source, lines=lines)
    return Prepared(rows=out, rejects=rejects)
