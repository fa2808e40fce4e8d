"""Vectorised parsing of the values real source files carry: full-width digits, '—' for missing, mixed dates."""

from __future__ import annotations

import numpy as np
import pandas as pd

MISSING_MARKERS = {"", "—", "–", "-", "/", "／", "－", "——", "null", "NULL", "None", "nan", "NaN", "无"}

_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y%m%d",
)
EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def clean_text(values: pd.Series) -> pd.Series:
    """Text with full-width characters folded (NFKC), trimmed, and missing markers turned into NA."""
    s = values.astype("string").str.normalize("NFKC").str.strip()
    return s.mask(s.isin(MISSING_MARKERS))


def parse_int(values: pd.Series) -> pd.Series:
    """Integers from text such as '１２３' or '1,234'; unreadable values become NA."""
    s = clean_text(values).str.replace(",", "", regex=False)
    return pd.to_numeric(s, errors="coerce").astype("Float64").round().astype("Int64")


def parse_datetime(values: pd.Series) -> pd.Series:
    """Datetimes from the mix of formats sources write, and Excel serial numbers; unreadable values become NaT."""
    s = clean_text(values)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    todo = s.notna()
    for fmt in _DATETIME_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce")
        hit = parsed.notna()
        out.loc[hit[hit].index] = parsed[hit].astype("datetime64[s]")
        todo &= out.isna()
    if todo.any():
        serial = pd.to_numeric(s[todo], errors="coerce")
        ok = serial.between(20000, 80000)  # 1954..2119: a plausible Excel serial date
        if ok.any():
            days = serial[ok].astype(float)
            out.loc[ok[ok].index] = (EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).dt.round("s").astype("datetime64[s]")
    return out


def format_datetime(values: pd.Series) -> np.ndarray:
    """Datetimes as warehouse text ('YYYY-MM-DD HH:MM:SS', Asia/Shanghai wall clock), None where missing."""
    text = values.dt.strftime("%Y-%m-%d %H:%M:%S")
    return text.astype(object).where(values.notna(), None).to_numpy()


def format_period(values: pd.Series) -> pd.Series:
    """'YYYY-MM' periods, NA where the datetime is missing."""
    return values.dt.strftime("%Y-%m").astype("string")
