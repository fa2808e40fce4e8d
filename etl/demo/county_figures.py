"""County monthly figures: one hand-filled Excel workbook per county per month, as county bureaus send them."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.writer.excel import ExcelWriter

from etl.demo.common import DAY, HOUR, TAG_COUNTY, TAG_PLAN, Context, Month, improvement
from etl.demo.units import GENERIC_TOWNS, TOWNS, UnitSpec

# (column, group, unit): the two-level header and the units row.
COLUMNS: list[tuple[str, str, str]] = [
    ("乡镇（街道）", "", "—"),
    ("实有总数", "市场主体", "户"), ("本月新登记", "市场主体", "户"), ("本月注销", "市场主体", "户"),
    ("签约项目数", "招商引资", "个"), ("签约金额", "招商引资", "亿元"), ("计划到位资金", "招商引资", "亿元"),
    ("实际到位资金", "招商引资", "亿元"), ("计划开工项目数", "项目建设", "个"), ("已开工项目数", "项目建设", "个"),
    ("兑现金额", "惠企政策", "万元"),
]
VALUE_COLUMNS = [c[0] for c in COLUMNS[1:]]
DECIMAL_COLUMNS = {"签约金额", "计划到位资金", "实际到位资金", "兑现金额"}
DASHABLE = set(VALUE_COLUMNS[3:])  # hand-filled sheets leave investment and payout cells as — or /
MISSING_COLUMN = "本月新登记"  # what the malformed workbook lacks
_FULLWIDTH = str.maketrans("0123456789.-,", "０１２３４５６７８９．－，")
_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass
class CountyStats:
    """What was delivered, for the manifest."""

    files: list[str] = field(default_factory=list)
    corrected: list[dict[str, str]] = field(default_factory=list)
    malformed: list[dict[str, str]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    negative_rows: list[dict[str, str]] = field(default_factory=list)
    fullwidth_cells: int = 0
    separator_cells: int = 0
    dash_cells: int = 0


@dataclass(frozen=True)
class Special:
    """The county-months that get a correction, a malformed sheet or negative counts."""

    corrected: tuple[int, int] | None
    malformed: tuple[int, int] | None
    negatives: tuple[tuple[int, int], ...]


def write_county_figures(ctx: Context, inbox: Path) -> CountyStats:
    """Simulate every county's towns month by month and write each submitted month's workbook."""
    stats = CountyStats()
    special = _plan(ctx)
    for u_idx, unit in enumerate(ctx.units):
        rng = ctx.rng(TAG_COUNTY, u_idx)
        towns = _towns(rng, unit)
        stock = _initial_stock(rng, ctx.profiles[u_idx].weight, len(towns))
        for month in ctx.months:
            values, stock = _month_values(ctx, rng, u_idx, month, towns, stock)
            filed = _filing_time(ctx, rng, u_idx, month)
            if filed > ctx.now:
                stats.missing.append({"code": unit.code, "period": month.label})
                continue
            key = (u_idx, month.index)
            sheet_rng = ctx.rng(TAG_COUNTY, 1000 + u_idx, month.index)
            if key in special.negatives:
                town = int(sheet_rng.integers(0, len(towns)))
                col = "本月注销" if sheet_rng.random() < 0.5 else "本月新登记"
                values[col][town] = -max(int(values[col][town]), 1)
                stats.negative_rows.append({"file": _name(unit, month), "town": towns[town], "column": col})
            drop = MISSING_COLUMN if key == special.malformed else None
            _save(ctx, inbox, unit, month, towns, values, filed, sheet_rng, stats, drop=drop)
            if drop:
                stats.malformed.append({"file": _name(unit, month), "reason": f"column {drop} missing"})
            if key == special.corrected:
                fixed = _correct(sheet_rng, values)
                later = filed + int(sheet_rng.integers(3, 9)) * DAY
                if later <= ctx.now:
                    _save(ctx, inbox, unit, month, towns, fixed, later, sheet_rng, stats, suffix="_更正")
                    stats.corrected.append({"file": _name(unit, month, "_更正"), "replaces": _name(unit, month)})
    return stats


def _plan(ctx: Context) -> Special:
    """Pick distinct county-months for the correction, the malformed sheet and two negative counts."""
    rng = ctx.rng(TAG_PLAN, 70)
    k, m = len(ctx.units), len(ctx.months)
    late = _late_unit(ctx)
    pool = [(u, i) for i in range(m) for u in range(k) if not (u == late and i == m - 1)]
    corrected = (int(rng.choice([u for u in range(k) if u != late] or [0])), max(m - 2, 0))
    rest = [p for p in pool if p != corrected]
    picks = [rest[int(j)] for j in rng.permutation(len(rest))[:3]]
    malformed = picks[0] if picks else None
    return Special(corrected=corrected, malformed=malformed, negatives=tuple(picks[1:3]))


def _late_unit(ctx: Context) -> int:
    """The smallest unit is the one that has not filed its last month yet."""
    return int(np.argmin(ctx.weights))


def _towns(rng: np.random.Generator, unit: UnitSpec) -> list[str]:
    """The county's towns; unknown units get 6-12 plausible ones."""
    if unit.code in TOWNS:
        return TOWNS[unit.code]
    pool = list(GENERIC_TOWNS)
    return [pool[i] for i in sorted(rng.permutation(len(pool))[: int(rng.integers(6, 13))])]


def _initial_stock(rng: np.random.Generator, weight_10k: float, n_towns: int) -> np.ndarray:
    """Market entities per town at the start: ~8.5 per 100 residents, the county seat towns largest."""
    share = rng.gamma(2.0, 1.0, n_towns) * np.where(np.arange(n_towns) < 2, 3.0, 1.0)
    return np.round(weight_10k * 10_000 * 0.085 * share / share.sum()).astype(np.int64)


def _month_values(ctx: Context, rng: np.random.Generator, u_idx: int, month: Month, towns: list[str],
                  stock: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One month's figures per town; the entity stock carries over to the next month."""
    k = len(towns)
    r = float(improvement(ctx, np.array([month.start + 14]), np.array([u_idx]))[0])
    season = {1: 0.8, 2: 0.6, 3: 1.3, 4: 1.1, 12: 0.9}.get(int(str(month.start)[5:7]), 1.0)
    new = rng.poisson(stock * 0.011 * season * (1.0 + 0.25 * r))
    gone = rng.poisson(stock * 0.006)
    stock = stock + new - gone
    share = stock / stock.sum()
    scale = ctx.profiles[u_idx].weight / 10.0
    signed = rng.poisson(0.8 * scale * share * (1.0 + 0.3 * r))
    amount = np.round(signed * np.exp(np.log(1.2) + 0.7 * rng.standard_normal(k)), 2)
    plan = np.round(rng.gamma(1.2, 0.35 * scale * share * k / 4.0), 2)
    actual = np.round(plan * rng.uniform(0.5, 1.05, k), 2)
    to_start = rng.poisson(0.6 * scale * share * k / 4.0)
    started = rng.binomial(to_start, min(0.75 + 0.15 * r, 0.98))
    payout = np.round(np.where(rng.random(k) < 0.6, rng.gamma(1.5, 20.0 * scale, k), 0.0), 2)
    values = dict(zip(VALUE_COLUMNS, [stock.copy(), new, gone, signed, amount, plan, actual, to_start, started,
                                      payout], strict=True))
    return values, stock


def _filing_time(ctx: Context, rng: np.random.Generator, u_idx: int, month: Month) -> int:
    """Filed on the 2nd-8th of the next month; the smallest county files its last month late (the 16th)."""
    day = int(rng.integers(2, 9))
    if u_idx == _late_unit(ctx) and month.index == len(ctx.months) - 1:
        day = 16
    base = int((month.end + np.timedelta64(day - 1, "D")).astype(np.int64)) * DAY
    return base + 9 * HOUR + int(rng.integers(0, 8 * HOUR))


def _correct(rng: np.random.Generator, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The corrected re-delivery: a few towns' new registrations and amounts changed."""
    fixed = {k: v.copy() for k, v in values.items()}
    k = len(fixed["本月新登记"])
    for town in rng.permutation(k)[: min(3, k)]:
        fixed["本月新登记"][town] += int(rng.integers(1, 20))
        fixed["签约金额"][town] = round(float(fixed["签约金额"][town]) + float(rng.uniform(0.5, 3.0)), 2)
        fixed["实际到位资金"][town] = round(float(fixed["实际到位资金"][town]) * 0.9, 2)
    fixed["实有总数"] = fixed["实有总数"] + (fixed["本月新登记"] - values["本月新登记"])
    return fixed


def _name(unit: UnitSpec, month: Month, suffix: str = "") -> str:
    return f"{unit.code}_{unit.name_zh}_{month.label.replace('-', '')}{suffix}.xlsx"


def _cell_value(rng: np.random.Generator, col: str, value: float, stats: CountyStats) -> object:
    """A value as a clerk typed it: mostly a number, sometimes text with full-width digits or separators."""
    decimal = col in DECIMAL_COLUMNS
    if value == 0 and col in DASHABLE and rng.random() < 0.3:
        stats.dash_cells += 1
        return "—" if rng.random() < 0.6 else "/"
    text = f"{value:.2f}" if decimal else str(int(value))
    u = rng.random()
    if not decimal and abs(value) >= 1000 and u < 0.15:
        stats.separator_cells += 1
        return f"{int(value):,}"
    if u > 0.97:
        stats.fullwidth_cells += 1
        return text.translate(_FULLWIDTH)
    return round(float(value), 2) if decimal else int(value)


def _save(ctx: Context, inbox: Path, unit: UnitSpec, month: Month, towns: list[str], values: dict[str, np.ndarray],
          filed: int, rng: np.random.Generator, stats: CountyStats, *, drop: str | None = None,
          suffix: str = "") -> None:
    """Lay the sheet out like the county template and save it with fixed zip timestamps."""
    cols = [c for c in COLUMNS if c[0] != drop]
    wb = Workbook()
    ws = wb.active
    ws.title = "月报"
    filed_dt = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=filed)
    _header(ws, unit, month, filed_dt, cols)
    row = 6
    for t, town in enumerate(towns):
        ws.cell(row, 1, town)
        for j, (col, _g, _u) in enumerate(cols[1:], start=2):
            ws.cell(row, j, _cell_value(rng, col, float(values[col][t]), stats))
        row += 1
    if rng.random() < 0.3:
        row += 1  # a blank row before the total
    ws.cell(row, 1, "合计")
    for j, (col, _g, _u) in enumerate(cols[1:], start=2):
        total = values[col].sum()
        ws.cell(row, j, round(float(total), 2) if col in DECIMAL_COLUMNS else int(total))
    wb.properties.creator = f"{unit.name_zh}营商环境局"
    wb.properties.created = wb.properties.modified = filed_dt
    name = _name(unit, month, suffix)
    (inbox / name).write_bytes(_xlsx_bytes(wb))
    stats.files.append(name)


def _header(ws, unit: UnitSpec, month: Month, filed: dt.datetime, cols: list[tuple[str, str, str]]) -> None:  # noqa: ANN001
    """Title, filing line, two-level merged header and the units row."""
    last = len(cols)
    y, m = month.label.split("-")
    ws.cell(1, 1, f"晋中市{unit.name_zh}{y}年{int(m)}月营商环境指标月报").font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    ws.cell(2, 1, f"填报单位：{unit.name_zh}营商环境局　　填报日期：{filed.year}年{filed.month}月{filed.day}日")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=last)
    ws.cell(3, 1, cols[0][0])
    ws.merge_cells(start_row=3, start_column=1, end_row=4, end_column=1)
    j = 2
    while j <= last:
        group = cols[j - 1][1]
        span = 1
        while j + span <= last and cols[j + span - 1][1] == group:
            span += 1
        ws.cell(3, j, group)
        if span > 1:
            ws.merge_cells(start_row=3, start_column=j, end_row=3, end_column=j + span - 1)
        j += span
    thin = Side(style="thin")
    for j, (col, _g, unit_text) in enumerate(cols, start=1):
        if j > 1:
            ws.cell(4, j, col)
        ws.cell(5, j, unit_text)
        for r in (3, 4, 5):
            ws.cell(r, j).alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            ws.cell(r, j).border = Border(left=thin, right=thin, top=thin, bottom=thin)
    ws.column_dimensions["A"].width = 14


class _FixedTimeZip(zipfile.ZipFile):
    """A zip whose entries all carry one fixed timestamp, so equal workbooks are equal bytes."""

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # noqa: ANN001, ANN201
        if isinstance(zinfo_or_arcname, str):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        return super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # noqa: ANN001, ANN201
        """openpyxl streams each sheet to a temp file and adds it with its mtime: store the bytes instead."""
        with open(filename, "rb") as fh:
            data = fh.read()
        return self.writestr(arcname or Path(filename).name, data)


def _xlsx_bytes(wb: Workbook) -> bytes:
    """Serialise without openpyxl's wall-clock stamps (save_workbook sets `modified` to now)."""
    buf = io.BytesIO()
    archive = _FixedTimeZip(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(wb, archive).save()
    return buf.getvalue()
