"""County monthly figures from the bureaus' hand-filled workbooks (one per county-month) -> `fact_county_figure`.

A workbook's rows are towns; the county-month's value of each indicator is the sum of its town cells. Rules:

- The county and month come from the title row (晋中市平遥县2026年10月营商环境指标月报), else from the file name
  (`{code}_{name}_{YYYYMM}[_更正].xlsx`); when both are readable and disagree the file is refused, because loading
  it into the wrong county-month would replace good figures.
- A workbook replaces its county-month (`REPLACES_PERIOD`): the loader deletes that county-month's rows before
  loading, so a corrected re-delivery (`…_更正.xlsx`) leaves no stale indicator behind.
- A town row with a negative value is quarantined (`negative_count`), one with a cell that is not a number
  (`invalid_number`). The county totals still load: each indicator sums the town cells that are valid, so only the
  refused cell is left out (a negative 本月注销 drops that town from `market_entities_cancelled`, not from the
  entity stock). The quarantined row tells the bureau which total lacks a town.
- A town row repeated with identical values counts once; a town listed again with other values is quarantined
  (`duplicate_town`) and not summed.
- An indicator with no number in any town (every cell — or /) loads as NULL, not 0.
- Amounts are stored in the indicator's unit (亿元 or 万元); a units row in 元/万元/亿元 is converted, an
  unknown unit refuses the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from etl.datasets.base import Context, Prepared, first_failure, line_numbers, reject_frame, row_hash, take_fields
from etl.extract.files import FileRejected, RawTable
from etl.parsing import clean_text

NAME = "county_figures"
TABLE = "fact_county_figure"
KEY = ["region_code", "period", "indicator_code"]
PERIOD_COLUMNS = ["period"]
REPLACES_PERIOD = True  # one file is the whole county-month: the loader replaces that pair's rows
CORRECTION_MARK = "更正"  # a corrected re-delivery; an uncorrected file never replaces a loaded correction

# indicator code -> (template header, group, unit stored)
INDICATORS: dict[str, tuple[str, str, str]] = {
    "market_entities_total": ("实有总数", "市场主体", "户"),
    "market_entities_new": ("本月新登记", "市场主体", "户"),
    "market_entities_cancelled": ("本月注销", "市场主体", "户"),
    "projects_signed": ("签约项目数", "招商引资", "个"),
    "investment_signed_yi": ("签约金额", "招商引资", "亿元"),
    "funds_planned_yi": ("计划到位资金", "招商引资", "亿元"),
    "funds_in_place_yi": ("实际到位资金", "招商引资", "亿元"),
    "projects_planned_start": ("计划开工项目数", "项目建设", "个"),
    "projects_started": ("已开工项目数", "项目建设", "个"),
    "policy_payout_wan": ("兑现金额", "惠企政策", "万元"),
}
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "market_entities_total": ("市场主体实有总数", "市场主体总数"),
    "market_entities_new": ("新登记", "新登记市场主体"),
    "market_entities_cancelled": ("注销", "注销市场主体"),
    "funds_in_place_yi": ("到位资金",),
    "projects_started": ("开工项目数",),
    "policy_payout_wan": ("惠企政策兑现金额", "政策兑现金额"),
}
ALIASES: dict[str, tuple[str, ...]] = {
    "town": ("乡镇（街道）", "乡镇", "街道", "乡镇街道", "乡镇名称", "单位名称", "town"),
    **{code: (zh, f"{group}/{zh}", *_EXTRA_ALIASES.get(code, ()), code)
       for code, (zh, group, _unit) in INDICATORS.items()},
}
REQUIRED = ["town", *INDICATORS]

COLUMNS = ["region_code", "period", "indicator_code", "value", "unit"]
HASHED = COLUMNS

MONEY = {"元": 1e-8, "万元": 1e-4, "亿元": 1.0}
COUNTS = {"户", "家", "个", "项", "件"}
_YEAR_MONTH = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月")
_FILE_CODE = re.compile(r"^(\d{6})")
_FILE_MONTH = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_年]?(0[1-9]|1[0-2])(?!\d)")
_DATE_LABEL = re.compile(r"(日期|时间)\s*:\s*\d{4}\s*年\s*\d{1,2}\s*月(\s*\d{1,2}\s*日)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def parse_float(values: pd.Series) -> pd.Series:
    """Numbers from text such as '１２．５', '1,234.5' or '85%' (-> 0.85); unreadable values become NA."""
    s = clean_text(values).str.replace(",", "", regex=False)
    pct = s.str.endswith("%").fillna(False)
    num = pd.to_numeric(s.str.removesuffix("%"), errors="coerce").astype("Float64")
    num = num.where(num.abs() < np.inf)  # 'inf' and '1e400' are not figures a county total can hold
    return num.where(~pct, num / 100)


# -- which county-month ------------------------------------------------------------------------------------------

def _region_in_title(title: str, ctx: Context) -> set[str]:
    """Units whose Chinese names (or codes) appear in a title, longest spelling first."""
    text = unicodedata.normalize("NFKC", title).casefold().replace(ctx.config.city.name_zh, "")
    found: set[str] = set()
    for alias in sorted(ctx.aliases, key=len, reverse=True):
        if (_CJK.search(alias) or (alias.isdigit() and len(alias) == 6)) and alias in text:
            found.add(ctx.aliases[alias])
            text = text.replace(alias, " ")
    return found


def _from_title(title_lines: Sequence[str], ctx: Context) -> tuple[str | None, str | None]:
    """The county and month a title names; a filing date (填报日期：2026年11月3日) is not the report's month."""
    texts = [_DATE_LABEL.sub(" ", unicodedata.normalize("NFKC", t)) for t in title_lines]
    dated = [(t, m) for t in texts if (m := _YEAR_MONTH.search(t)) and 1 <= int(m.group(2)) <= 12]
    if not dated:
        return None, None
    title, m = dated[0]
    regions = _region_in_title(title, ctx) or next((r for t in texts if len(r := _region_in_title(t, ctx)) == 1),
                                                    set())
    return (next(iter(regions)) if len(regions) == 1 else None), f"{m.group(1)}-{int(m.group(2)):02d}"


def _from_file_name(name: str, ctx: Context) -> tuple[str | None, str | None]:
    stem = unicodedata.normalize("NFKC", Path(name).stem)
    code = _FILE_CODE.match(stem)
    region = ctx.aliases.get(code.group(1)) if code else None
    if region is None:
        parts = [p for p in re.split(r"[_\s]+", stem) if _CJK.search(p)]
        region = next((ctx.aliases[p.casefold()] for p in parts if p.casefold() in ctx.aliases), None)
    m = _FILE_MONTH.search(stem[code.end():] if code else stem)
    return region, (f"{m.group(1)}-{m.group(2)}" if m else None)


def county_month(*, title_lines: Sequence[str], source: str, ctx: Context) -> tuple[str, str]:
    """The (unit code, 'YYYY-MM') a workbook reports on: title row first, file name second, never contradicting."""
    name = Path(source).name
    t_region, t_period = _from_title(title_lines, ctx)
    f_region, f_period = _from_file_name(name, ctx)
    for what_en, what_zh, t, f in (("county", "区县", t_region, f_region), ("month", "月份", t_period, f_period)):
        if t and f and t != f:
            raise FileRejected(f"{name}: the title says {what_en} {t} but the file name says {f}",
                               f"{name}：标题中的{what_zh}（{t}）与文件名（{f}）不一致")
    region, period = t_region or f_region, t_period or f_period
    if region is None or period is None:
        raise FileRejected(
            f"{name}: cannot tell the county and month: no title like 晋中市平遥县2026年10月营商环境指标月报 and the "
            "file name is not {code}_{name}_{YYYYMM}.xlsx",
            f"{name}：无法确定区县和月份：标题不是“晋中市平遥县2026年10月营商环境指标月报”格式，"
            "文件名也不是“代码_名称_年月.xlsx”格式")
    return region, period


# -- values ------------------------------------------------------------------------------------------------------

def _factor(code: str, unit: str | None, source: str) -> float:
    """What to multiply a column by to get the indicator's stored unit."""
    want = INDICATORS[code][2]
    if not unit or unit == want:
        return 1.0
    if want in MONEY and unit in MONEY:
        return MONEY[unit] / MONEY[want]
    if want in COUNTS and unit in COUNTS:
        return 1.0
    header = INDICATORS[code][0]
    raise FileRejected(f"{Path(source).name}: column {header} is in {unit}, expected {want}",
                       f"{Path(source).name}：{header} 列的单位是 {unit}，应为 {want}")


def _indicators(f: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every indicator column's cleaned text and number, parsed as one stacked column: column by column, the
    pandas calls cost ~5 ms each on a ten-row sheet, most of a workbook's validation."""
    columns = list(INDICATORS)
    stacked = pd.concat([f[c].astype(object) for c in columns], ignore_index=True)
    text = clean_text(stacked)
    number = parse_float(text)

    def unstack(values: pd.Series) -> pd.DataFrame:
        n = len(f)
        return pd.DataFrame({c: values.iloc[i * n:(i + 1) * n].set_axis(f.index) for i, c in enumerate(columns)})

    return unstack(text), unstack(number)


def _town_checks(f: pd.DataFrame, texts: pd.DataFrame, numbers: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per town row: which to drop silently (exact repeats) and why a row is quarantined."""
    repeat = f.astype("string").fillna("\x00").duplicated(keep="first")
    town = clean_text(f["town"])
    dup_town = town.notna() & town.where(~repeat).duplicated(keep="first") & ~repeat
    negative = (numbers < 0).fillna(False).any(axis=1)
    unreadable = (texts.notna() & numbers.isna()).any(axis=1)
    reasons = first_failure([("duplicate_town", dup_town), ("negative_count", negative),
                             ("invalid_number", unreadable)], f.index)
    return repeat, reasons


def prepare(raw: pd.DataFrame, *, source: str, ctx: Context, fields: Mapping[str, str] | None = None,
            lines: pd.Series | None = None, title_lines: Sequence[str] = (), units: Mapping[str, str] | None = None,
            total_line: int | None = None, header_line: int | None = None) -> Prepared:
    """Validate a workbook's town rows and sum them into one `fact_county_figure` row per indicator."""
    lines = line_numbers(raw, lines)
    region, period = county_month(title_lines=title_lines, source=source, ctx=ctx)
    f = take_fields(raw, ALIASES, overrides=fields, required=REQUIRED, where=source)
    texts, numbers = _indicators(f)
    repeat, reasons = _town_checks(f, texts, numbers)
    rejects = reject_frame(raw, reasons, source=source, lines=lines)
    usable = ~repeat & (reasons != "duplicate_town").fillna(True)
    valid = numbers.where((numbers >= 0).fillna(False) & usable.to_numpy()[:, None])
    values = [valid[c].sum(min_count=1) * _factor(c, (units or {}).get(c), source) for c in INDICATORS]
    out = pd.DataFrame({
        "region_code": region,
        "period": period,
        "indicator_code": list(INDICATORS),
        "value": pd.array([None if pd.isna(v) else round(float(v), 6) for v in values], dtype="Float64"),
        "unit": [u for _h, _g, u in INDICATORS.values()],
    })
    out["row_hash"] = row_hash(out, HASHED)
    out["etl_run_id"] = ctx.run_id
    out["source"] = Path(source).name
    anchor = total_line if total_line is not None else header_line
    if anchor is None:
        anchor = int(lines.min()) - 1 if len(lines) else None
    out["source_line"] = pd.array([anchor] * len(out), dtype="Int64")
    return Prepared(rows=out, rejects=rejects)


def prepare_file(*, table: RawTable, source: str, ctx: Context, fields: Mapping[str, str] | None = None
                 ) -> Prepared:
    """`prepare` with what only the file knows: its title rows, units row, 合计 row and header row."""
    total = table.total_lines[-1] if table.total_lines else None
    return prepare(table.frame, source=source, ctx=ctx, fields=fields, lines=table.lines,
                   title_lines=table.title_lines, units=table.units, total_line=total, header_line=table.header_row)

