"""CSV and XLSX exports that a spreadsheet cannot be tricked by: the dashboard's tables and the bulletin use them.

Text from sources (a hotline ticket's content, a rating's comment, a town name) could start with `=`, `+`, `-`,
`@` or a control character; Excel and WPS would run it as a formula. Such text is prefixed with an apostrophe,
which spreadsheets show as text (OWASP's advice on CSV injection). Numbers stay numbers.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_text(value: object) -> object:
    """Text that cannot start a formula; anything that is not text is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell (and header) made safe; numeric columns are untouched."""
    out = frame.copy()
    out.columns = [safe_text(str(c)) for c in out.columns]
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].map(safe_text)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a BOM, so Excel on a Chinese Windows opens it without mojibake."""
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame], *, number_formats: Mapping[str, str] | None = None) -> bytes:
    """One sheet per frame, headers frozen and columns sized; cells are written as values, never as formulas."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False,
                                                   "nan_inf_to_errors": True}}) as writer:
        for name, frame in sheets.items():
            sheet_name = _sheet_name(name)
            safe = safe_frame(frame)
            safe.to_excel(writer, sheet_name=sheet_name, index=False)
            sheet = writer.sheets[sheet_name]
            sheet.freeze_panes(1, 0)
            for i, col in enumerate(safe.columns):
                fmt = writer.book.add_format({"num_format": number_formats[col]}) if (
                    number_formats and col in number_formats) else None
                sheet.set_column(i, i, _width(safe[col], str(col)), fmt)
    return buffer.getvalue()


def _sheet_name(name: str) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)
    return cleaned[:31] or "Sheet1"


def _width(values: pd.Series, header: str) -> float:
    """Column width in characters, counting a CJK character as two."""
    def chars(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    sample = values.head(500).astype(str).to_numpy()
    longest = max((chars(v) for v in sample), default=0) if len(sample) else 0
    return float(np.clip(max(longest, chars(header)) + 2, 6, 60))
