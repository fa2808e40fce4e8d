"""Table cells for KPI values, changes, targets and ranks: one formatting for PDF and Word, raw values for Excel."""

from __future__ import annotations

import math

from bizenv.bulletin.model import Cell, Tone
from bizenv.i18n import MISSING, display_scale, format_number, t, unit_label
from models.config import KpiDefinition

# Excel number formats per unit, for values already multiplied by display_scale (ratios stay fractions: 0.0%).
NUM_FORMATS = {"ratio": "0.0%", "working_days": "0.0", "count": "#,##0", "per_10k": "0.0", "yi_yuan": "0.00",
               "wan_yuan": "#,##0.0", "score": "0.0", "visits": "0.00"}


def missing(value: float | None) -> bool:
    """None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def kpi_label(kpi: KpiDefinition, lang: str) -> str:
    """A KPI's name with its unit when the numbers beside it carry none ("平均办理时长（工作日）")."""
    name = kpi.name_zh if lang == "zh" else kpi.name_en
    if kpi.unit == "ratio":
        return name
    return f"{name}（{unit_label(kpi.unit, lang)}）" if lang == "zh" else f"{name} ({unit_label(kpi.unit, lang)})"


def excel_value(value: float, unit: str, lang: str) -> float:
    """The number Excel stores: ratios as fractions (formatted 0.0%), other units as displayed."""
    return float(value) if unit == "ratio" else float(value) * display_scale(unit, lang)


def value_cell(value: float | None, unit: str, lang: str, *, distinct_from: float | None = None) -> Cell:
    """A KPI value as a bare number ("97.7%", "1.8"), stored raw for Excel."""
    if missing(value):
        return Cell(MISSING, tone="muted")
    return Cell(format_number(value, unit, lang, distinct_from=distinct_from), excel_value(value, unit, lang),
                NUM_FORMATS.get(unit))


def improved(kpi: KpiDefinition, change: float | None) -> bool | None:
    """Whether a change is for the better under the KPI's direction; None when there is none."""
    if missing(change) or change == 0:
        return None
    return (change > 0) == (kpi.direction == "higher_is_better")


def change_cell(change: float | None, kpi: KpiDefinition, lang: str) -> Cell:
    """A signed change, percentage points for rates, green when better and red when worse; no sign when it rounds
    to zero."""
    if missing(change):
        return Cell(MISSING, tone="muted")
    ratio = kpi.unit == "ratio"
    shown_unit, factor = ("score", 100.0) if ratio else (kpi.unit, 1.0)
    zero = format_number(abs(change) * factor, shown_unit, lang).strip("0.,") == ""
    better = None if zero else improved(kpi, change)
    tone: Tone = "plain" if better is None else ("good" if better else "bad")
    number = format_number(0.0 if zero else change * factor, shown_unit, lang, signed=not zero)
    if ratio:
        pp = t("unit.pp", lang)
        fmt = f'+0.0"{pp}";-0.0"{pp}";0.0"{pp}"'
        return Cell(f"{number}{'' if lang == 'zh' else ' '}{pp}", float(change) * 100.0, fmt, tone)
    fmt = NUM_FORMATS.get(kpi.unit, "0.0")
    return Cell(number, excel_value(change, kpi.unit, lang), f"+{fmt};-{fmt};{fmt}", tone)


def status_cell(status: str | None, lang: str) -> Cell:
    """达标 / 接近 / 未达标, coloured."""
    if not status or (isinstance(status, float) and math.isnan(status)):
        return Cell(MISSING, tone="muted")
    tone: Tone = {"met": "good", "near": "plain", "missed": "bad"}.get(status, "plain")  # type: ignore[assignment]
    return Cell(t(f"bulletin.status.{status}", lang), tone=tone)


def rank_change_cell(change: float | None, lang: str) -> Cell:
    """↑3 / ↓2 / 持平; positive means the county moved up."""
    if missing(change):
        return Cell(MISSING, tone="muted")
    n = int(change)
    if n == 0:
        return Cell(t("bulletin.rank.same", lang), 0)
    key, tone = ("bulletin.rank.up", "good") if n > 0 else ("bulletin.rank.down", "bad")
    return Cell(t(key, lang, n=abs(n)), n, tone=tone)  # type: ignore[arg-type]


def int_cell(value: float | None) -> Cell:
    """A whole number, or a dash."""
    return Cell(MISSING, tone="muted") if missing(value) else Cell(str(int(value)), int(value), "0")


def score_cell(value: float | None, lang: str) -> Cell:
    """An index score 0-100 with one decimal."""
    if missing(value):
        return Cell(MISSING, tone="muted")
    return Cell(format_number(value, "score", lang), round(float(value), 10), "0.0")


def text_cell(text: str, tone: Tone = "plain") -> Cell:
    """A text cell (Excel stores it formula-safe)."""
    return Cell(text, tone=tone)
