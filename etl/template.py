"""The blank monthly workbook a county bureau fills in: laid out exactly as `etl.datasets.county_figures` reads it.

`write_template` writes `{code}_{name}_{YYYYMM}.xlsx` with two sheets:

- 月报: the merged title row (晋中市平遥县2026年10月营商环境指标月报, which names the county and month to the
  loader), a 填报单位/填报日期 row, the two-level merged header (乡镇（街道） | 市场主体 … 惠企政策), the units row
  (—, 户, …, 万元), one row per town and a 合计 row of SUM formulas. Input cells carry data validation (whole
  numbers ≥ 0 for 户/个, decimals ≥ 0 for 亿元/万元) with a Chinese prompt and error message; panes are frozen below
  the units row and right of the town column.
- 填报说明: each column with its group, unit, what to type and what it means, and the general rules.

The header texts, groups and units come from the dataset's `INDICATORS` and `ALIASES`, so the template and the
loader cannot drift. The 合计 formulas have no cached values until Excel recalculates; the loader drops 合计 rows
and sums the town rows itself, so a template saved by openpyxl loads as it is (every indicator NULL when blank).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from etl.datasets.county_figures import ALIASES, CORRECTION_MARK, COUNTS, INDICATORS, MONEY
from etl.extract.files import TOTAL_MARKERS
from etl.towns import TOWNS
from models.config import Config, Unit
from models.regions import alias_map, normalise_region_text

SHEET = "月报"
INSTRUCTIONS_SHEET = "填报说明"
TOWN_HEADER = ALIASES["town"][0]  # 乡镇（街道）
TOWN_UNIT = "—"  # the units row's cell over the town column (the loader skips it as "no unit")
BLANK_TOWN_ROWS = 10  # rows left for town names when the county's towns are not known
TITLE_ROW, FILER_ROW, GROUP_ROW, LEAF_ROW, UNITS_ROW = 1, 2, 3, 4, 5
FIRST_DATA_ROW = 6

# What each column means, for the 填报说明 sheet and the cells' input prompts (defined here: the dataset has none).
MEANINGS: dict[str, str] = {
    "town": "本县（市、区）所辖乡镇、街道名称，每个乡镇（街道）填一行，不得重复",
    "market_entities_total": "截至本月末辖区内登记在册的市场主体（企业、个体工商户、农民专业合作社）总户数",
    "market_entities_new": "本月内新设立登记的市场主体户数",
    "market_entities_cancelled": "本月内注销登记的市场主体户数",
    "projects_signed": "本月新签约的招商引资项目个数",
    "investment_signed_yi": "本月新签约招商引资项目的协议投资总额",
    "funds_planned_yi": "本月招商引资项目计划到位资金",
    "funds_in_place_yi": "本月招商引资项目实际到位资金",
    "projects_planned_start": "本月计划开工的项目个数",
    "projects_started": "本月实际开工的项目个数",
    "policy_payout_wan": "本月惠企政策实际兑现给企业的资金",
}

_PERIOD = re.compile(r"^((?:19|20)\d{2})-(0[1-9]|1[0-2])$")  # the years the loader reads from a title
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_INPUT_FILL = PatternFill("solid", fgColor="FFFDE7")
_TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")


@dataclass(frozen=True)
class Column:
    """One column of the 月报 sheet: canonical field, header text, group (blank for the town column), unit."""

    field: str
    header: str
    group: str
    unit: str

    @property
    def is_count(self) -> bool:
        return self.unit in COUNTS

    @property
    def rule(self) -> str:
        """What a clerk may type, as the prompt and the 填报说明 sheet say it."""
        if self.field == "town":
            return "填写乡镇（街道）名称"
        if self.is_count:
            return "请输入不小于0的整数"
        return "请输入不小于0的数字，可保留两位小数"


COLUMNS: list[Column] = [
    Column("town", TOWN_HEADER, "", TOWN_UNIT),
    *(Column(code, header, group, unit) for code, (header, group, unit) in INDICATORS.items()),
]


# -- arguments ---------------------------------------------------------------------------------------------------

def find_unit(config: Config, region: str) -> Unit:
    """The configured unit a code (or any accepted spelling: name, short name, alias, retired code) names."""
    code = alias_map(config).get(normalise_region_text(str(region)))
    unit = next((u for u in config.city.units if u.code == code), None)
    if unit is None:
        known = ", ".join(f"{u.code} {u.name_zh}" for u in config.city.units)
        raise ValueError(f"unknown region {region!r}: not a unit of {config.city.name_zh} (known: {known})")
    return unit


def parse_period(period: str) -> tuple[int, int]:
    """(year, month) of a 'YYYY-MM' period; anything else is a ValueError naming the value."""
    m = _PERIOD.match(str(period).strip())
    if not m:
        raise ValueError(f"bad period {period!r}: expected YYYY-MM, e.g. 2026-10")
    return int(m.group(1)), int(m.group(2))


def _town_rows(unit: Unit, towns: Sequence[str] | None) -> list[str]:
    """The town names to pre-fill: given, else the county's known towns, else blank rows to fill in."""
    if towns is None:
        return list(TOWNS.get(unit.code, [""] * BLANK_TOWN_ROWS))
    names = [str(t).strip() for t in towns]
    if not names:
        raise ValueError("towns is empty: pass at least one town, or None for the county's default towns")
    if any(not n for n in names):
        raise ValueError("towns contains a blank name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"towns repeats {', '.join(dupes)}: each town is one row")
    totals = [n for n in names if re.sub(r"\s+", "", n) in TOTAL_MARKERS]
    if totals:
        raise ValueError(f"towns contains {', '.join(totals)}: the 合计 row is added by the template")
    return names


def template_name(unit: Unit, year: int, month: int) -> str:
    """The file name the loader reads the county and month from: `{code}_{name}_{YYYYMM}.xlsx`."""
    return f"{unit.code}_{unit.name_zh}_{year}{month:02d}.xlsx"


def template_title(config: Config, unit: Unit, year: int, month: int) -> str:
    """晋中市平遥县2026年10月营商环境指标月报."""
    return f"{config.city.name_zh}{unit.name_zh}{year}年{month}月营商环境指标月报"


# -- the 月报 sheet ---------------------------------------------------------------------------------------------

def _header(ws: Worksheet, *, title: str, unit: Unit) -> None:
    """Title, filing line, two-level merged header and units row (the shape `read_table` detects)."""
    last = len(COLUMNS)
    ws.cell(TITLE_ROW, 1, title).font = Font(bold=True, size=16)
    ws.cell(TITLE_ROW, 1).alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=last)
    ws.row_dimensions[TITLE_ROW].height = 32
    # No digits before 年/月: a blank date is not read as the report's month (a filled-in date is ignored too).
    ws.cell(FILER_ROW, 1, f"填报单位：{unit.name_zh}营商环境局　　　　填报日期：　　　　年　　月　　日")
    ws.merge_cells(start_row=FILER_ROW, start_column=1, end_row=FILER_ROW, end_column=last)
    ws.cell(FILER_ROW, 1).alignment = Alignment(horizontal="left", vertical="center")
    ws.row_dimensions[FILER_ROW].height = 22

    ws.cell(GROUP_ROW, 1, COLUMNS[0].header)
    ws.merge_cells(start_row=GROUP_ROW, start_column=1, end_row=LEAF_ROW, end_column=1)
    j = 2
    while j <= last:
        group = COLUMNS[j - 1].group
        span = 1
        while j + span <= last and COLUMNS[j + span - 1].group == group:
            span += 1
        ws.cell(GROUP_ROW, j, group)
        if span > 1:
            ws.merge_cells(start_row=GROUP_ROW, start_column=j, end_row=GROUP_ROW, end_column=j + span - 1)
        j += span
    for j, col in enumerate(COLUMNS, start=1):
        if j > 1:
            ws.cell(LEAF_ROW, j, col.header)
        ws.cell(UNITS_ROW, j, col.unit)
        for r in (GROUP_ROW, LEAF_ROW, UNITS_ROW):
            cell = ws.cell(r, j)
            cell.alignment, cell.border, cell.fill = _CENTER, _BORDER, _HEADER_FILL
            cell.font = Font(bold=r != UNITS_ROW)
    ws.row_dimensions[LEAF_ROW].height = 30


def _body(ws: Worksheet, towns: Sequence[str]) -> int:
    """Town rows (input cells) and the 合计 row of SUM formulas; returns the last town row."""
    last_town = FIRST_DATA_ROW + len(towns) - 1
    for i, town in enumerate(towns):
        r = FIRST_DATA_ROW + i
        for j, col in enumerate(COLUMNS, start=1):
            cell = ws.cell(r, j, town or None) if j == 1 else ws.cell(r, j)
            cell.border = _BORDER
            if j > 1:
                cell.fill = _INPUT_FILL
                cell.number_format = "#,##0" if col.is_count else "#,##0.00"
                cell.alignment = Alignment(horizontal="right")
    total = last_town + 1
    ws.cell(total, 1, "合计")
    for j, col in enumerate(COLUMNS, start=1):
        cell = ws.cell(total, j)
        if j > 1:
            letter = get_column_letter(j)
            cell.value = f"=SUM({letter}{FIRST_DATA_ROW}:{letter}{last_town})"
            cell.number_format = "#,##0" if col.is_count else "#,##0.00"
        cell.font, cell.border, cell.fill = Font(bold=True), _BORDER, _TOTAL_FILL
        cell.alignment = _CENTER if j == 1 else Alignment(horizontal="right")
    return last_town


def _validations(ws: Worksheet, last_town: int) -> None:
    """One validation per value column over its town cells: whole numbers (户, 个) or decimals (亿元, 万元) ≥ 0."""
    for j, col in enumerate(COLUMNS[1:], start=2):
        letter = get_column_letter(j)
        dv = DataValidation(
            type="whole" if col.is_count else "decimal", operator="greaterThanOrEqual", formula1="0",
            allow_blank=True, showInputMessage=True, showErrorMessage=True, errorStyle="stop",
            promptTitle=f"{col.header}（{col.unit}）"[:32],
            prompt=f"{MEANINGS[col.field]}。单位：{col.unit}。{col.rule}；无数据请留空。"[:255],
            errorTitle="输入有误",
            error=f"{col.header}：{col.rule}（单位：{col.unit}），不要填写单位、文字或负数。"[:255])
        dv.add(f"{letter}{FIRST_DATA_ROW}:{letter}{last_town}")
        ws.add_data_validation(dv)


def _layout(ws: Worksheet) -> None:
    """Column widths, frozen panes below the units row and right of the town column, printing on one page wide."""
    ws.column_dimensions["A"].width = 16
    for j, col in enumerate(COLUMNS[1:], start=2):
        ws.column_dimensions[get_column_letter(j)].width = max(12, 2 * len(col.header) + 4)
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 2).coordinate  # B6
    ws.print_title_rows = f"{GROUP_ROW}:{UNITS_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


# -- the 填报说明 sheet -------------------------------------------------------------------------------------------

def _money_units() -> str:
    """签约金额、计划到位资金、实际到位资金为亿元，兑现金额为万元 — from the dataset's units."""
    by_unit: dict[str, list[str]] = {}
    for col in COLUMNS[1:]:
        if col.unit in MONEY:
            by_unit.setdefault(col.unit, []).append(col.header)
    return "，".join(f"{'、'.join(headers)}为{unit}" for unit, headers in by_unit.items())


def _instructions(ws: Worksheet, *, title: str, file_name: str) -> None:
    """General rules, then one row per column: 列名, 所属分组, 单位, 填写要求, 含义."""
    stem = Path(file_name).stem
    ws.cell(1, 1, f"{title}填报说明").font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
    rules = [
        f"1. 在“{SHEET}”工作表中按乡镇（街道）逐行填写本月数据，一个乡镇（街道）一行；乡镇较多时可在合计行上方插入行。",
        "2. 只填数字，不要填写单位、文字、空格或负数；计数类（户、个）填整数，金额类（亿元、万元）可保留两位小数。",
        "3. 本月确无数据的单元格请留空，不要填写“—”“/”或“无”；确为零的填 0。",
        "4. 合计行由公式自动计算，请勿改动；系统入库时按各乡镇（街道）数据重新汇总。",
        "5. 请勿修改标题、表头和单位行，不要调整列的顺序或删除列，标题中的区县和月份决定数据归属。",
        f"6. 文件名保持“{file_name}”；报送后如需更正，修改后以“{stem}_{CORRECTION_MARK}.xlsx”重新报送，"
        "更正文件将整体替换当月数据。",
        f"7. 金额单位：{_money_units()}。",
    ]
    for i, text in enumerate(rules, start=3):
        ws.cell(i, 1, text).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=6)
        ws.row_dimensions[i].height = 30
    head = len(rules) + 4
    for j, text in enumerate(["序号", "列名", "所属分组", "单位", "填写要求", "含义"], start=1):
        cell = ws.cell(head, j, text)
        cell.font, cell.alignment, cell.border, cell.fill = Font(bold=True), _CENTER, _BORDER, _HEADER_FILL
    for i, col in enumerate(COLUMNS, start=1):
        values = [i, col.header, col.group or "—", col.unit, col.rule, MEANINGS[col.field]]
        for j, value in enumerate(values, start=1):
            cell = ws.cell(head + i, j, value)
            cell.border = _BORDER
            cell.alignment = Alignment(wrap_text=True, vertical="center",
                                       horizontal="center" if j in (1, 3, 4) else "left")
    for letter, width in zip("ABCDEF", (6, 16, 12, 8, 30, 60), strict=True):
        ws.column_dimensions[letter].width = width


# -- public ------------------------------------------------------------------------------------------------------

def write_template(*, config: Config, region_code: str, period: str, out_dir: Path,
                   towns: Sequence[str] | None = None, overwrite: bool = False) -> Path:
    """Write the blank county-month workbook `{code}_{name}_{YYYYMM}.xlsx` into `out_dir` and return its path.

    `region_code` is a unit code (any spelling `alias_map` accepts works, e.g. 平遥县 or a retired code);
    `period` is 'YYYY-MM'. `towns` pre-fills the town column (default: the county's known towns, else
    10 blank rows). An existing file is not replaced unless `overwrite` — it may be a filled-in copy.
    """
    unit = find_unit(config, region_code)
    year, month = parse_period(period)
    names = _town_rows(unit, towns)
    out_dir = Path(out_dir)
    path = out_dir / template_name(unit, year, month)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (it may be a filled-in report); remove it or overwrite")
    title = template_title(config, unit, year, month)

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    _header(ws, title=title, unit=unit)
    last_town = _body(ws, names)
    _validations(ws, last_town)
    _layout(ws)
    _instructions(wb.create_sheet(INSTRUCTIONS_SHEET), title=title, file_name=path.name)
    wb.active = 0
    wb.properties.title = title
    wb.properties.creator = f"{config.city.name_zh}营商环境监测平台"

    out_dir.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


__all__ = ["COLUMNS", "INSTRUCTIONS_SHEET", "MEANINGS", "SHEET", "Column", "find_unit", "parse_period",
           "template_name", "template_title", "write_template"]
