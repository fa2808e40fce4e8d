"""Vectorised parsing of the values real source files carry: full-width digits, '—' for missing, mixed dates."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MISSING_MARKERS = {"", "—", "–", "-", "/", "／", "－", "——", "null", "NULL", "None", "nan", "NaN", "无"}

_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",  # ISO 8601 without an offset, as JSON APIs write it
    "%Y-%m-%dT%H:%M",
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
WAREHOUSE_TZ = "Asia/Shanghai"  # the warehouse keeps wall-clock times of the city
_PLAIN_INT = r"^-?[0-9]+$"  # what Arrow's cast may take: it would also read '0x10' as 16
INT64_LIMIT = 2.0 ** 63


_MARKERS = pa.array(sorted(MISSING_MARKERS), type=pa.large_string())


def plain_arrow_type(kind: pa.DataType) -> bool:
    """Text, a number, a boolean or all-null: Arrow types whose values every parser and loader takes as they are."""
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
            or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind))


def _arrow_text(values: pd.Series) -> pa.Array:
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values.array)
    if isinstance(values.dtype, pd.ArrowDtype):  # API pages arrive as Arrow columns (text, numbers, booleans)
        arr = pa.array(values.array)
        return arr if pa.types.is_large_string(arr.type) else pc.cast(arr, pa.large_string())
    if values.dtype == object:
        # Fast path for what sources mostly deliver (text, whole numbers, missing values): Arrow converts those
        # without a Python call per value, and casts integers to the same text str() gives. Anything else
        # (floats, dates, mixed types) goes through pandas, whose text for them the parsers expect.
        try:
            arr = pa.array(values.to_numpy(), from_pandas=True)
        except (pa.ArrowInvalid, TypeError, OverflowError):  # also an int beyond int64, Decimal('Infinity')
            arr = None
        if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                                or pa.types.is_integer(arr.type) or pa.types.is_null(arr.type)):
            return pc.cast(arr, pa.large_string())
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        return pa.array(values.astype("string[pyarrow]").array)
    return pc.cast(pa.array(values, from_pandas=True), pa.large_string())


def text_series(arr: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """An Arrow text array as a `string[pyarrow]` Series without copying it through Python objects."""
    return pd.Series(pd.arrays.ArrowStringArray(pc.cast(arr, pa.large_string())), index=index, copy=False)


def clean_text(values: pd.Series) -> pd.Series:
    """Text with full-width characters folded (NFKC), trimmed, and missing markers turned into NA."""
    arr = pc.cast(_arrow_text(values), pa.large_string())
    if not pc.all(pc.string_is_ascii(arr)).as_py():  # folding is costly; most columns are plain ASCII
        arr = pc.utf8_normalize(arr, form="NFKC")
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.is_in(arr, value_set=_MARKERS), pa.scalar(None, pa.large_string()), arr)
    return text_series(arr, values.index)


def parse_int(values: pd.Series) -> pd.Series:
    """Integers from text such as '１２３' or '1,234'; unreadable values become NA."""
    s = clean_text(values).str.replace(",", "", regex=False)
    arr = pa.array(s.array)
    if pc.all(pc.match_substring_regex(arr, _PLAIN_INT)).as_py() is not False:  # plain whole numbers, or none
        # The common case, without pandas' per-value parsing; a number beyond int64 is read below instead.
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pd.Series(pc.cast(arr, pa.int64()), index=s.index, dtype=pd.Int64Dtype())
    number = pd.to_numeric(s, errors="coerce").astype("Float64")
    # 'inf', '1e400' and numbers beyond int64 are unreadable, not a wrapped-around -9223372036854775808
    return number.where(number.abs() < INT64_LIMIT).round().astype("Int64")


def parse_datetime(values: pd.Series) -> pd.Series:
    """Datetimes from the mix of formats sources write, and Excel serial numbers; unreadable values become NaT."""
    s = clean_text(values)
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[s]")
    todo = s.notna().to_numpy().copy()
    for fmt in _DATETIME_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce").to_numpy("datetime64[s]")
        idx = np.flatnonzero(todo)
        out[idx] = parsed
        todo[idx] = np.isnat(parsed)
    out = pd.Series(out, index=s.index)
    todo = pd.Series(todo, index=s.index)
    if todo.any():
        _parse_offset_times(s, out, todo)
    if todo.any():
        serial = pd.to_numeric(s[todo], errors="coerce")
        ok = serial.between(20000, 80000)  # 1954..2119: a plausible Excel serial date
        if ok.any():
            days = serial[ok].astype(float)
            stamps = (EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).dt.round("s")
            out.loc[ok[ok].index] = stamps.astype("datetime64[s]")
    return out


def _parse_offset_times(s: pd.Series, out: pd.Series, todo: pd.Series) -> None:
    """ISO 8601 times with an offset ('…T09:12:00+08:00', '…Z'), as the city's wall clock; fills `out`, clears
    `todo` where read."""
    offset = todo & s.str.contains(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*(?:Z|[+-]\d{2}:?\d{2})$", regex=True,
                                   na=False)
    if not offset.any():
        return
    stamps = pd.to_datetime(s[offset], format="ISO8601", utc=True, errors="coerce")
    local = stamps.dt.tz_convert(WAREHOUSE_TZ).dt.tz_localize(None).dt.floor("s").astype("datetime64[s]")
    read = local.notna()
    out.loc[read[read].index] = local[read]
    todo.loc[read[read].index] = False


def _as_text(values: pd.Series, unit: str) -> pd.Series:
    """'YYYY-MM-DD HH:MM:SS' (unit s), 'YYYY-MM-DD' (D) or 'YYYY-MM' (M), by Arrow casts (no per-value calls)."""
    a = values.to_numpy("datetime64[s]")
    stamps = pa.array(a, type=pa.timestamp("s"), mask=np.isnat(a))
    if unit == "s":
        return text_series(pc.cast(stamps, pa.large_string()), values.index)
    days = pc.cast(pc.cast(stamps, pa.date32()), pa.large_string())
    return text_series(days if unit == "D" else pc.utf8_slice_codeunits(days, 0, 7), values.index)


def format_datetime(values: pd.Series) -> pd.Series:
    """Datetimes as warehouse text ('YYYY-MM-DD HH:MM:SS', Asia/Shanghai wall clock), NA where missing."""
    return _as_text(values, "s")


def format_date(values: pd.Series) -> pd.Series:
    """Dates as warehouse text ('YYYY-MM-DD'), NA where missing."""
    return _as_text(values, "D")


def format_period(values: pd.Series) -> pd.Series:
    """'YYYY-MM' periods, NA where the datetime is missing."""
    return _as_text(values, "M")
