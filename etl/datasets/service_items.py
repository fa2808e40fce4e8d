"""The service catalogue (事项清单) -> `dim_department` and `dim_service_item`."""

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
    row_hash,
    take_fields,
)
from etl.parsing import clean_text, format_datetime, parse_datetime, parse_int

NAME = "service_items"
TABLE = "dim_service_item"
KEY = ["item_code"]
PERIOD_COLUMNS: list[str] = []
CURSOR_FIELD, KEY_FIELD = "source_updated_at", "item_code"

ALIASES: dict[str, tuple[str, ...]] = {
    "item_code": ("SXBM",),
    "name_zh": ("SXMC",),
    "dept_code": ("SSBMBM",),
    "dept_name": ("SSBMMC",),
    "statutory_days": ("FDSX",),
    "promised_days": ("CNSX",),
    "is_instant": ("SFJBJ",),
    "source_updated_at": ("GXSJ",),
}
REQUIRED = ["item_code", "name_zh", "dept_code", "statutory_days", "promised_days", "source_updated_at"]
COLUMNS = ["item_code", "name_zh", "dept_code", "statutory_days", "promised_days", "is_instant", "source_updated_at"]
HASHED = [c for c in COLUMNS if c != "source_updated_at"]


def prepare(raw: pd.DataFrame, *, source: str, ctx: Context, fields: Mapping[str, str] | None = None,
            lines: pd.Series | None = None) -> Prepared:
    """Validate catalogue records: a promised limit may never exceed the statutory one."""
    lines = line_numbers(raw, lines)
    f = take_fields(raw, ALIASES, overrides=fields, required=REQUIRED, where=source)
    code, name = clean_text(f["item_code"]), clean_text(f["name_zh"])
    statutory, promised = parse_int(f["statutory_days"]), parse_int(f["promised_days"])
    reasons = first_failure([
        ("missing_key", code.isna()),
        ("missing_name", name.isna()),
        ("bad_limit", promised.isna() | statutory.isna() | (promised < 0) | (statutory < 0) | (promised > statutory)),
    ], raw.index)
    good = reasons.isna()
    out = pd.DataFrame({
        "item_code": code,
        "name_zh": name,
        "dept_code": clean_text(f["dept_code"]),
        "statutory_days": statutory,
        "promised_days": promised,
        "is_instant": clean_text(f["is_instant"]).isin({"1", "是", "true", "True"}).astype(int),
        "source_updated_at": format_datetime(parse_datetime(f["source_updated_at"])),
        "dept_name": clean_text(f["dept_name"]),
    })[good]
    out = finish_rows(out, hashed=HASHED, key=KEY, ctx=ctx, source=source, lines=lines)
    return Prepared(rows=out, rejects=reject_frame(raw, reasons, source=source, lines=lines))


def departments(rows: pd.DataFrame) -> pd.DataFrame:
    """The departments named by a catalogue batch, for `dim_department`."""
    depts = rows[["dept_code", "dept_name"]].dropna(subset=["dept_code"]).drop_duplicates("dept_code", keep="last")
    out = pd.DataFrame({"dept_code": depts["dept_code"], "name_zh": depts["dept_name"].fillna(depts["dept_code"])})
    out["row_hash"] = row_hash(out, ["dept_code", "name_zh"])
    return out.reset_index(drop=True)
