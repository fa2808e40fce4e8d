"""好差评 ratings from the rating system's daily CSV exports -> `fact_rating`.

Levels follow GB/T 39734-2020: 非常满意 5, 满意 4, 基本满意 3, 不满意 2, 非常不满意 1 (1-2 are 差评). Only these five
texts (or their English names) are levels; a bare number such as "5" is refused, because places score the
levels differently (5..1 or 10/8/6/3/0) and a number cannot say which scale it is on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from etl.datasets.base import (
    Context,
    Prepared,
    finish_rows,
    first_failure,
    line_numbers,
    per_distinct,
    reject_frame,
    resolve_region,
    take_fields,
)
from etl.parsing import clean_text, format_datetime, format_period, parse_datetime

NAME = "ratings"
TABLE = "fact_rating"
KEY = ["rating_id"]
PERIOD_COLUMNS = ["rated_period"]

# Canonical field -> accepted headers: the rating system's Chinese header first (named in error messages).
ALIASES: dict[str, tuple[str, ...]] = {
    "rating_id": ("评价编号", "评价ID", "评价流水号", "rating_id", "Rating ID"),
    "case_id": ("办件编号", "申办流水号", "办件流水号", "case_id", "Case ID"),
    "region": ("行政区划", "行政区划代码", "所属区县", "区县", "region", "region_code"),
    "channel": ("评价渠道", "渠道", "channel"),
    "rated_at": ("评价时间", "评价日期", "rated_at", "Rating time"),
    "level": ("评价等级", "评价结果", "满意度", "level", "Rating"),
    "comment": ("评价内容", "评价意见", "comment"),
    "verified_bad": ("是否核实差评", "核实差评", "是否差评核实", "verified_bad"),
    "rectify_status": ("整改状态", "差评整改状态", "rectify_status"),
    "rectified_at": ("整改完成时间", "整改时间", "rectified_at"),
}
REQUIRED = ["rating_id", "region", "rated_at", "level"]

LEVELS = {
    "非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1,
    "verysatisfied": 5, "satisfied": 4, "basicallysatisfied": 3, "dissatisfied": 2, "verydissatisfied": 1,
}
CHANNELS = {
    "pc端": "pc", "pc": "pc", "网页": "pc", "移动端": "mobile", "app": "mobile", "手机": "mobile",
    "窗口评价器": "window", "窗口": "window", "评价器": "window", "短信": "sms", "sms": "sms",
    "二维码": "qrcode", "扫码": "qrcode", "qrcode": "qrcode", "自助终端": "kiosk", "kiosk": "kiosk",
    "mobile": "mobile", "window": "window",
}
RECTIFY = {"已整改": "rectified", "整改中": "in_progress", "未整改": "not_rectified",
           "rectified": "rectified", "in_progress": "in_progress", "not_rectified": "not_rectified"}
TRUE_TEXT = {"是", "1", "y", "yes", "true", "已核实"}

COLUMNS = ["rating_id", "case_id", "region_code", "channel", "rated_at", "rated_period", "level", "comment",
           "verified_bad", "rectify_status", "rectified_at", "rectify_working_days"]
HASHED = COLUMNS
_SPACES = re.compile(r"\s+")


def _key(values: pd.Series) -> pd.Series:
    """Text folded for a lookup: NFKC, no inner spaces, case-folded."""
    return per_distinct(clean_text(values), lambda v: _SPACES.sub("", v).casefold())


def _region_text(values: pd.Series, city_zh: str) -> pd.Series:
    """行政区划 without a leading city name (晋中市平遥县 -> 平遥县), so it matches the unit aliases."""
    text = clean_text(values)
    stripped = text.str.removeprefix(city_zh)
    return stripped.where(stripped.fillna("") != "", text)


def _channel(values: pd.Series) -> pd.Series:
    """Rating channel codes; an unknown channel is `other`, a missing one stays missing."""
    key = _key(values)
    return key.map(CHANNELS).astype("string").fillna("other").where(key.notna())


def _rectified_early(rated: pd.Series, rectified: pd.Series) -> pd.Series:
    """Rectified before rated; a date-only rectification on the rating's own day is not early."""
    day_only = rectified == rectified.dt.floor("D")
    same_day = rectified.dt.floor("D") == rated.dt.floor("D")
    return (rectified < rated) & ~(day_only & same_day)


def prepare(raw: pd.DataFrame, *, source: str | pd.Series, ctx: Context, fields: Mapping[str, str] | None = None,
            lines: pd.Series | None = None) -> Prepared:
    """Validate one block of rating rows and shape the good ones as `fact_rating` rows."""
    lines = line_numbers(raw, lines)
    where = source if isinstance(source, str) else ", ".join(sorted(set(source)))
    f = take_fields(raw, ALIASES, overrides=fields, required=REQUIRED, where=where)
    rating_id = clean_text(f["rating_id"])
    region = resolve_region(_region_text(f["region"], ctx.config.city.name_zh), ctx.aliases)
    rated = parse_datetime(f["rated_at"])
    rectified = parse_datetime(f["rectified_at"])
    rectified_given = clean_text(f["rectified_at"]).notna()
    level = _key(f["level"]).map(LEVELS).astype("Int64")
    span_start, span_end = pd.Timestamp(ctx.calendar.start), pd.Timestamp(ctx.calendar.end) + pd.Timedelta(days=1)
    reasons = first_failure([
        ("missing_key", rating_id.isna()),
        ("unknown_region", region.isna()),
        ("bad_rated_at", rated.isna()),
        ("invalid_level", level.isna()),
        ("bad_rectified_at", rectified_given & rectified.isna()),
        ("rectified_before_rated", _rectified_early(rated, rectified)),
        ("date_out_of_range", ~rated.between(span_start, span_end, inclusive="left")),
    ], raw.index)
    rejects = reject_frame(raw, reasons, source=source, lines=lines)
    good = reasons.isna()
    rectify_days = ctx.calendar.working_days_between_many(rated.to_numpy("datetime64[D]"),
                                                          rectified.to_numpy("datetime64[D]"))
    out = pd.DataFrame({
        "rating_id": rating_id,
        "case_id": clean_text(f["case_id"]),
        "region_code": region,
        "channel": _channel(f["channel"]),
        "rated_at": format_datetime(rated),
        "rated_period": format_period(rated),
        "level": level,
        "comment": clean_text(f["comment"]),
        "verified_bad": _key(f["verified_bad"]).isin(TRUE_TEXT).astype(int),
        "rectify_status": _key(f["rectify_status"]).map(RECTIFY).astype("string"),
        "rectified_at": format_datetime(rectified),
        "rectify_working_days": pd.Series(rectify_days, index=raw.index).clip(lower=0).round().astype("Int64"),
    })[good]
    out = finish_rows(out, hashed=HASHED, key=KEY, ctx=ctx, source=source, lines=lines)
    return Prepared(rows=out, rejects=rejects)
