"""The Excel edition: the bulletin's text on the first sheet, then one sheet per table, with real number formats
(0.0%, 0.0), frozen headers and sized columns; text is made formula-safe as in bizenv.exports."""

from __future__ import annotations

import io

import xlsxwriter

from bizenv.bulletin import model
from bizenv.exports import safe_text
from bizenv.i18n import format_datetime, format_period, t

MAX_WIDTH = 80


def _chars(text: str) -> int:
    """Display width in characters, a CJK character counting as two (as bizenv.exports sizes columns)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:28] or "Sheet"
    out, i = base, 2
    while out.lower() in used:
        out, i = f"{base}_{i}", i + 1
    used.add(out.lower())
    return out


class _Formats:
    """xlsxwriter formats, created once per workbook."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.header = book.add_format({"bold": True, "bg_color": "#1F4E79", "font_color": "#FFFFFF",
                                       "text_wrap": True, "valign": "vcenter", "border": 1})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self._cache: dict[tuple[str | None, str], object] = {}

    def cell(self, num_format: str | None, tone: str) -> object:
        key = (num_format, tone)
        if key not in self._cache:
            spec: dict = {"border": 1, "border_color": "#B8C4D6"}
            if num_format:
                spec["num_format"] = num_format
            colour = {"good": "#1B7F3B", "bad": "#B22222", "muted": "#6C757D"}.get(tone)
            if colour:
                spec["font_color"] = colour
            self._cache[key] = self.book.add_format(spec)
        return self._cache[key]


def _write_text_sheet(book: xlsxwriter.Workbook, fmt: _Formats, bulletin: model.Bulletin, name: str) -> None:
    sheet = book.add_worksheet(name)
    lang = bulletin.lang
    lines = [(bulletin.title, fmt.title), (bulletin.edition, None),
             (t("bulletin.cover.period", lang, period=format_period(bulletin.period, lang)), None),
             (t("bulletin.cover.data_as_of", lang, when=format_datetime(bulletin.data_as_of, lang)), None),
             (t("bulletin.cover.generated", lang, when=format_datetime(bulletin.generated_at, lang)), None), ("", None)]
    for block in bulletin.blocks:
        if isinstance(block, model.Heading):
            lines.append((block.text, fmt.title if block.level == 1 else None))
        elif isinstance(block, model.Para):
            lines.append((block.text, fmt.wrap))
    sheet.set_column(0, 0, 120)
    for i, (text, style) in enumerate(lines):
        sheet.write_string(i, 0, safe_text(text), style)


def _write_table(book: xlsxwriter.Workbook, fmt: _Formats, table: model.Table, name: str) -> None:
    sheet = book.add_worksheet(name)
    widths = [_chars(c) + 2 for c in table.columns]
    for j, column in enumerate(table.columns):
        sheet.write_string(0, j, safe_text(column), fmt.header)
    for i, row in enumerate(table.rows, start=1):
        for j, cell in enumerate(row):
            style = fmt.cell(cell.num_format, cell.tone)
            if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                sheet.write_number(i, j, cell.value, style)
            else:
                sheet.write_string(i, j, safe_text(cell.text if cell.value is None else str(cell.value)), style)
            widths[j] = max(widths[j], _chars(cell.text) + 2)
    for j, width in enumerate(widths):
        sheet.set_column(j, j, min(max(width, 6), MAX_WIDTH))
    sheet.freeze_panes(1, 1 if len(table.columns) > 3 else 0)
    if table.note:
        sheet.write_string(len(table.rows) + 2, 0, safe_text(table.note))


def render_xlsx(bulletin: model.Bulletin) -> bytes:
    """The XLSX bytes of an edition: cells hold values, never formulas."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                        "nan_inf_to_errors": True})
    book.set_properties({"title": bulletin.title, "subject": bulletin.edition, "author": bulletin.issuer,
                         "created": bulletin.generated_at})
    fmt, used = _Formats(book), set()
    _write_text_sheet(book, fmt, bulletin, _sheet_name(t("bulletin.sheet.text", bulletin.lang), used))
    for table in bulletin.tables():
        _write_table(book, fmt, table, _sheet_name(table.sheet, used))
    book.close()
    return buffer.getvalue()
