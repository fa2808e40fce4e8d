"""The blank county workbook (`etl.template`): its layout, and that it loads back through the real inbox job.

A template is written, a few town cells are typed in with openpyxl (another one is left blank), and the files go
through `run_job` into a real warehouse on SQLite and PostgreSQL. Expected sums are worked out by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from etl.datasets import county_figures
from etl.datasets.base import Context
from etl.demo import county_figures as demo_county
from etl.demo.units import TOWNS
from etl.extract.files import read_table
from etl.jobs import run_job
from etl.template import BLANK_TOWN_ROWS, COLUMNS, INSTRUCTIONS_SHEET, SHEET, write_template
from models.calendar import get_calendar
from models.config import Config, FilesSource, Unit
from models.db import Warehouse
from models.regions import alias_map

UNITS_ROW = ["—", "户", "户", "户", "个", "亿元", "亿元", "亿元", "个", "个", "万元"]
LEAVES = ["实有总数", "本月新登记", "本月注销", "签约项目数", "签约金额", "计划到位资金", "实际到位资金",
          "计划开工项目数", "已开工项目数", "兑现金额"]
# 平遥县 towns typed in (row 6 古陶镇, row 7 段村镇, row 8 东泉镇); None is a cell left blank.
FILLED = {
    6: [11677, 144, 60, 1, 1.89, 1.5, 1.2, 2, 1, 237.57],
    7: [7138, 102, 4, 0, 0.5, None, 0.3, 1, 1, None],
    8: [5000, 50, 10, 2, 3.25, 2, None, 0, 0, 12.5],
}
EXPECTED = {  # the column sums of FILLED, by hand
    "market_entities_total": 23815.0, "market_entities_new": 296.0, "market_entities_cancelled": 74.0,
    "projects_signed": 3.0, "investment_signed_yi": 5.64, "funds_planned_yi": 3.5, "funds_in_place_yi": 1.5,
    "projects_planned_start": 3.0, "projects_started": 2.0, "policy_payout_wan": 250.07,
}


def _table(wh: Warehouse, sql: str) -> list[tuple]:
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _fill(path: Path, rows: dict[int, list[object]]) -> None:
    """Type numbers into town rows as a clerk would, then save (the 合计 formulas keep no cached values)."""
    wb = load_workbook(path)
    ws = wb[SHEET]
    for r, values in rows.items():
        for j, value in enumerate(values, start=2):
            ws.cell(r, j, value)
    wb.save(path)


# -- layout ------------------------------------------------------------------------------------------------------

def test_template_layout_header_validation_and_instructions(config: Config, tmp_path: Path) -> None:
    path = write_template(config=config, region_code="140728", period="2026-10", out_dir=tmp_path / "out")
    assert path == tmp_path / "out" / "140728_平遥县_202610.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == [SHEET, INSTRUCTIONS_SHEET] == ["月报", "填报说明"]
    ws = wb["月报"]
    assert ws["A1"].value == "晋中市平遥县2026年10月营商环境指标月报"
    assert ws["A2"].value.startswith("填报单位：平遥县营商环境局") and "填报日期：" in ws["A2"].value
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:K1", "A2:K2", "A3:A4", "B3:D3", "E3:H3", "I3:J3"}
    assert [ws.cell(3, j).value for j in (1, 2, 5, 9, 11)] == ["乡镇（街道）", "市场主体", "招商引资", "项目建设",
                                                              "惠企政策"]
    assert [ws.cell(4, j).value for j in range(2, 12)] == LEAVES
    assert [ws.cell(5, j).value for j in range(1, 12)] == UNITS_ROW

    towns = TOWNS["140728"]
    last = 5 + len(towns)  # 14 towns on rows 6-19, 合计 on row 20
    assert [ws.cell(r, 1).value for r in range(6, last + 1)] == towns
    assert ws.cell(last + 1, 1).value == "合计"
    assert ws.cell(last + 1, 2).value == f"=SUM(B6:B{last})"
    assert ws.cell(last + 1, 11).value == f"=SUM(K6:K{last})"
    assert ws.max_row == last + 1
    assert ws.freeze_panes == "B6"
    assert ws.column_dimensions["A"].width == 16 and all(ws.column_dimensions[c].width >= 12 for c in "BCDEFGHIJK")

    dvs = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    whole = {f"{c}6:{c}{last}" for c in "BCDEIJ"}
    decimal = {f"{c}6:{c}{last}" for c in "FGHK"}
    assert set(dvs) == whole | decimal
    for ref, dv in dvs.items():
        assert (dv.type, dv.operator, dv.formula1, dv.allow_blank) == (
            "whole" if ref in whole else "decimal", "greaterThanOrEqual", "0", True)
        assert dv.showErrorMessage and dv.showInputMessage and dv.errorStyle in (None, "stop")
        rule = "请输入不小于0的整数" if ref in whole else "请输入不小于0的数字"
        assert rule in dv.error and rule in dv.prompt
    assert "单位：亿元" in dvs[f"F6:F{last}"].prompt and "单位：户" in dvs[f"B6:B{last}"].prompt

    notes = wb["填报说明"]
    listed = {row[1]: row for row in notes.iter_rows(values_only=True) if row[1] in {c.header for c in COLUMNS}}
    assert [listed[c.header][3] for c in COLUMNS] == UNITS_ROW
    assert all(listed[c.header][5] for c in COLUMNS)  # every column has a meaning
    assert listed["签约金额"][2] == "招商引资" and listed["兑现金额"][4] == "请输入不小于0的数字，可保留两位小数"


def test_template_columns_match_the_loader_and_the_demo_writer() -> None:
    """Header texts come from the dataset, and the demo writer lays out the same columns."""
    assert [(c.header, c.group, c.unit) for c in COLUMNS] == demo_county.COLUMNS
    assert [c.field for c in COLUMNS] == county_figures.REQUIRED
    assert all(c.header in county_figures.ALIASES[c.field] for c in COLUMNS)


def test_title_and_file_name_name_the_same_county_month(config: Config, tmp_path: Path) -> None:
    path = write_template(config=config, region_code="140781", period="2027-01", out_dir=tmp_path)
    table = read_table(path, aliases=county_figures.ALIASES, required=county_figures.REQUIRED)
    assert table.title_lines[0] == "晋中市介休市2027年1月营商环境指标月报"
    ctx = Context(config=config, aliases=alias_map(config), calendar=get_calendar(config.calendar.as_mapping()),
                  run_id=1)
    assert county_figures.county_month(title_lines=table.title_lines, source=path.name, ctx=ctx) == (
        "140781", "2027-01")
    assert table.units["investment_signed_yi"] == "亿元" and table.units["policy_payout_wan"] == "万元"


# -- loads back --------------------------------------------------------------------------------------------------

def test_filled_and_blank_templates_load_through_the_inbox_job(warehouse: Warehouse, config: Config,
                                                                 tmp_path: Path) -> None:
    inbox = tmp_path / "county" / "inbox"
    filled = write_template(config=config, region_code="140728", period="2026-10", out_dir=inbox)
    _fill(filled, FILLED)
    blank = write_template(config=config, region_code="140702", period="2026-10", out_dir=inbox)
    sources = {**config.sources, "county_inbox": FilesSource(kind="files", path=str(inbox), pattern="*.xlsx")}
    cfg = config.model_copy(update={"sources": sources})

    summary = run_job(warehouse=warehouse, config=cfg, name="county_figures")
    assert summary.status == "success", summary.error
    assert (summary.rows_inserted, summary.rows_rejected) == (20, 0)

    rows = _table(warehouse, "SELECT region_code, period, indicator_code, value, unit FROM fact_county_figure "
                             "ORDER BY region_code, indicator_code")
    assert [(r, p, i, None if v is None else round(v, 6), u) for r, p, i, v, u in rows] == sorted(
        [("140702", "2026-10", code, None, unit) for code, (_h, _g, unit) in county_figures.INDICATORS.items()]
        + [("140728", "2026-10", code, EXPECTED[code], unit)
           for code, (_h, _g, unit) in county_figures.INDICATORS.items()])
    # The source line points at the 合计 row (20 for 平遥's 14 towns, 22 for 榆次's 16).
    assert _table(warehouse, "SELECT DISTINCT region_code, source, source_line FROM fact_county_figure "
                             "ORDER BY region_code") == [("140702", blank.name, 22), ("140728", filled.name, 20)]
    assert _table(warehouse, "SELECT COUNT(*) FROM etl_rejected_row") == [(0,)]
    assert _table(warehouse, "SELECT filename, status, rows_loaded, rows_rejected, region_code, period FROM etl_file "
                             "ORDER BY filename") == [
        (blank.name, "loaded", 10, 0, "140702", "2026-10"),
        (filled.name, "loaded", 10, 0, "140728", "2026-10"),
    ]
    assert not (tmp_path / "county" / "failed").exists()
    assert sorted(p.name for p in (tmp_path / "county" / "archive").iterdir()) == sorted([blank.name, filled.name])


def test_unknown_county_gets_blank_town_rows_that_load(config: Config, tmp_path: Path) -> None:
    """A unit without a known town list: 10 blank rows; unused ones are skipped, filled ones summed."""
    extra = Unit(code="140799", name_zh="示范县", name_en="Demo County", short_zh="示范", short_en="Demo")
    cfg = config.model_copy(update={"city": config.city.model_copy(update={"units": [*config.city.units, extra]})})
    path = write_template(config=cfg, region_code="140799", period="2026-02", out_dir=tmp_path)
    assert path.name == "140799_示范县_202602.xlsx"
    ws = load_workbook(path)[SHEET]
    assert [ws.cell(r, 1).value for r in range(6, 6 + BLANK_TOWN_ROWS)] == [None] * BLANK_TOWN_ROWS
    assert ws.cell(6 + BLANK_TOWN_ROWS, 1).value == "合计"
    assert {str(dv.sqref) for dv in ws.data_validations.dataValidation} >= {"B6:B15", "K6:K15"}

    wb = load_workbook(path)
    ws = wb[SHEET]
    ws["A6"], ws["B6"], ws["F6"] = "城关镇", 120, 0.75
    ws["A9"], ws["B9"], ws["K9"] = "河西乡", 30, 8
    wb.save(path)
    table = read_table(path, aliases=county_figures.ALIASES, required=county_figures.REQUIRED)
    assert table.frame["town"].tolist() == ["城关镇", "河西乡"] and table.total_lines == [16]
    ctx = Context(config=cfg, aliases=alias_map(cfg), calendar=get_calendar(cfg.calendar.as_mapping()), run_id=1)
    prepared = county_figures.prepare_file(table=table, source=path.name, ctx=ctx)
    got = dict(zip(prepared.rows["indicator_code"], prepared.rows["value"], strict=True))
    assert (got["market_entities_total"], got["investment_signed_yi"], got["policy_payout_wan"]) == (150, 0.75, 8)
    assert prepared.rows["value"].isna().sum() == 7 and prepared.rejects.empty
    assert set(prepared.rows["region_code"]) == {"140799"} and set(prepared.rows["period"]) == {"2026-02"}


# -- arguments ---------------------------------------------------------------------------------------------------

def test_region_spellings_towns_and_errors(config: Config, tmp_path: Path) -> None:
    assert write_template(config=config, region_code="平遥县", period="2026-10", out_dir=tmp_path / "a").name == (
        "140728_平遥县_202610.xlsx")
    assert write_template(config=config, region_code="140726", period="2026-10", out_dir=tmp_path / "a").name == (
        "140703_太谷区_202610.xlsx")  # a retired code names the current unit
    own = write_template(config=config, region_code="140721", period="2026-03", out_dir=tmp_path / "b",
                         towns=["箕城镇", "云竹镇"])
    ws = load_workbook(own)[SHEET]
    assert [ws.cell(r, 1).value for r in (6, 7, 8)] == ["箕城镇", "云竹镇", "合计"]
    assert ws["B8"].value == "=SUM(B6:B7)"

    with pytest.raises(ValueError, match="unknown region '999999'"):
        write_template(config=config, region_code="999999", period="2026-10", out_dir=tmp_path)
    for bad in ("2026-13", "2026/10", "202610", "26-10", "2026-1", "", "2026-10-01"):
        with pytest.raises(ValueError, match="bad period .*expected YYYY-MM"):
            write_template(config=config, region_code="140728", period=bad, out_dir=tmp_path)
    with pytest.raises(ValueError, match="repeats 云竹镇"):
        write_template(config=config, region_code="140721", period="2026-04", out_dir=tmp_path,
                       towns=["云竹镇", "云竹镇"])
    with pytest.raises(ValueError, match="合计"):
        write_template(config=config, region_code="140721", period="2026-04", out_dir=tmp_path, towns=["合计"])
    with pytest.raises(ValueError, match="towns is empty"):
        write_template(config=config, region_code="140721", period="2026-04", out_dir=tmp_path, towns=[])
    with pytest.raises(FileExistsError, match="already exists"):
        write_template(config=config, region_code="140721", period="2026-03", out_dir=tmp_path / "b")
    assert load_workbook(own)[SHEET]["A6"].value == "箕城镇"  # the existing file was left alone
    again = write_template(config=config, region_code="140721", period="2026-03", out_dir=tmp_path / "b",
                           overwrite=True)
    assert load_workbook(again)[SHEET]["A6"].value == TOWNS["140721"][0]
    assert not list(tmp_path.glob("*.xlsx"))  # nothing written for a refused call
