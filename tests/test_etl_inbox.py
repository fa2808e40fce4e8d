"""File inboxes end to end: 好差评 CSV exports -> fact_rating, county workbooks -> fact_county_figure.

Dataset rules are checked on hand-made frames; the runner on hand-made files in a temporary inbox and on a small
generated demo inbox, against a real warehouse on SQLite and PostgreSQL. Expected numbers are worked out by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import text

import etl.jobs
from etl.datasets import county_figures, ratings
from etl.datasets.base import Context
from etl.extract.files import FileRejected
from etl.inbox import run_files_job
from etl.jobs import RunSummary, run_job
from etl.parsing import clean_text
from models.calendar import get_calendar
from models.config import Config, FilesSource, JobSettings
from models.db import Warehouse
from models.regions import alias_map

RATING_HEADER = ["评价编号", "办件编号", "行政区划", "事项名称", "评价渠道", "评价时间", "评价等级", "评价内容",
                 "是否核实差评", "整改状态", "整改完成时间"]


@pytest.fixture
def ctx(config: Config) -> Context:
    return Context(config=config, aliases=alias_map(config), calendar=get_calendar(config.calendar.as_mapping()),
                   run_id=1)


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lead registers these in etl/jobs.py; until then the tests do."""
    monkeypatch.setitem(etl.jobs.RUNNERS, "files", run_files_job)
    monkeypatch.setitem(etl.jobs.DATASETS, "ratings", ratings)
    monkeypatch.setitem(etl.jobs.DATASETS, "county_figures", county_figures)


def _rating(rid: str, region: str, rated: str, level: str, *, verified: str = "", status: str = "—",
            rectified: str = "", comment: str = "", channel: str = "PC端") -> list[str]:
    return [rid, f"C-{rid}", region, "企业开办", channel, rated, level, comment, verified, status, rectified]


# -- ratings dataset ---------------------------------------------------------------------------------------------

def test_ratings_parse_every_date_form_region_spelling_and_level(ctx: Context) -> None:
    good = [
        _rating("R1", "140702", "2026/10/08 09:12", "非常满意", channel="移动端"),
        _rating("R2", "140726", "2026-10-08", "满意", channel="窗口评价器"),          # retired code -> 太谷区
        _rating("R3", "平遥", "2026年10月8日", "基本满意", channel="短信"),           # short name
        _rating("R4", "Taigu", "46303.5", "满意 ", channel="未知渠道"),               # alias, Excel serial
        _rating("R5", "晋中市介休市", "２０２６-１０-０８ １０:００:００", "不满意", verified="是", status="已整改",
                rectified="2026-10-12 16:00"),                                       # city prefix, full-width
        _rating("ＨＣＰ６", "祁县", "2026-10-08 15:00:00", "非常不满意", verified="是", status="整改中",
                rectified="2026-10-08", channel=""),                                 # same-day date-only rectified
        _rating("R1", "140702", "2026/10/08 09:12", "非常满意", channel="移动端"),    # repeated row: loads once
    ]
    bad = [
        (_rating("", "140702", "2026-10-08 09:00:00", "满意"), "missing_key"),
        (_rating("B2", "开发区", "2026-10-08 09:00:00", "满意"), "unknown_region"),
        (_rating("B3", "140702", "", "满意"), "bad_rated_at"),
        (_rating("B4", "140702", "2026-10-08 09:00:00", "5"), "invalid_level"),
        (_rating("B5", "140702", "2026-10-08 09:00:00", "一般"), "invalid_level"),
        (_rating("B6", "140702", "2026-10-08 09:00:00", "不满意", rectified="明天"), "bad_rectified_at"),
        (_rating("B7", "140702", "2026-10-08 09:00:00", "不满意", rectified="2026-10-07 10:00"),
         "rectified_before_rated"),
        (_rating("B8", "140702", "1990-01-01 09:00:00", "满意"), "date_out_of_range"),
    ]
    raw = pd.DataFrame(good + [r for r, _ in bad], columns=RATING_HEADER)
    lines = pd.Series(range(2, 2 + len(raw)))
    prepared = ratings.prepare(raw, source="hcp_20261008.csv", ctx=ctx, lines=lines)
    rows = prepared.rows.set_index("rating_id")
    assert rows.index.tolist() == ["R2", "R3", "R4", "R5", "HCP6", "R1"]
    assert rows["region_code"].to_dict() == {"R2": "140703", "R3": "140728", "R4": "140703", "R5": "140781",
                                             "HCP6": "140727", "R1": "140702"}
    assert rows["rated_at"].to_dict() == {"R2": "2026-10-08 00:00:00", "R3": "2026-10-08 00:00:00",
                                          "R4": "2026-10-08 12:00:00", "R5": "2026-10-08 10:00:00",
                                          "HCP6": "2026-10-08 15:00:00", "R1": "2026-10-08 09:12:00"}
    assert rows["level"].to_dict() == {"R2": 4, "R3": 3, "R4": 4, "R5": 2, "HCP6": 1, "R1": 5}
    assert rows["channel"].fillna("<NA>").to_dict() == {"R2": "window", "R3": "sms", "R4": "other", "R5": "pc",
                                                        "HCP6": "<NA>", "R1": "mobile"}
    assert rows["verified_bad"].to_dict() == {"R2": 0, "R3": 0, "R4": 0, "R5": 1, "HCP6": 1, "R1": 0}
    assert rows["rectify_status"].fillna("<NA>").to_dict() == {
        "R2": "<NA>", "R3": "<NA>", "R4": "<NA>", "R5": "rectified", "HCP6": "in_progress", "R1": "<NA>"}
    assert rows.loc["R5", "rectified_at"] == "2026-10-12 16:00:00"
    assert set(rows["rated_period"]) == {"2026-10"}
    assert rows.loc["R1", "source_line"] == 8  # the later copy of the repeated row
    assert list(zip(prepared.rejects["source_line"], prepared.rejects["reason_code"], strict=True)) == [
        (9 + i, code) for i, (_, code) in enumerate(bad)]
    assert set(prepared.rejects["source"]) == {"hcp_20261008.csv"}
    assert json.loads(prepared.rejects["raw"].iloc[1])["行政区划"] == "开发区"


def test_every_reason_code_has_both_languages() -> None:
    from etl.reasons import REASONS

    new_codes = {"bad_rated_at", "invalid_level", "rectified_before_rated", "invalid_number", "duplicate_town"}
    assert new_codes <= set(REASONS)
    for code, (zh, en) in REASONS.items():
        assert zh.strip() and en.strip() and zh != en, code


# -- county figures dataset --------------------------------------------------------------------------------------

def test_county_month_from_title_or_file_name(ctx: Context) -> None:
    title = ["晋中市平遥县2026年10月营商环境指标月报", "填报单位：平遥县营商环境局"]
    assert county_figures.county_month(title_lines=title, source="月报.xlsx", ctx=ctx) == ("140728", "2026-10")
    assert county_figures.county_month(title_lines=[], source="140726_太谷县_202609_更正.xlsx", ctx=ctx) == (
        "140703", "2026-09")
    assert county_figures.county_month(title_lines=title, source="140728_平遥县_202610.xlsx", ctx=ctx) == (
        "140728", "2026-10")
    with pytest.raises(FileRejected, match="the title says month 2026-10 but the file name says 2026-09"):
        county_figures.county_month(title_lines=title, source="140728_平遥县_202609.xlsx", ctx=ctx)
    with pytest.raises(FileRejected, match="cannot tell the county and month"):
        county_figures.county_month(title_lines=["营商环境指标月报"], source="report.xlsx", ctx=ctx)
    filed = ["晋中市平遥县营商环境指标月报", "填报单位：平遥县营商环境局　　填报日期：2026年11月3日"]
    assert county_figures.county_month(title_lines=filed, source="140728_平遥县_202610.xlsx", ctx=ctx) == (
        "140728", "2026-10")  # the filing date is not the report month
    split = ["2026年10月营商环境指标月报", "填报单位：灵石县营商环境局"]
    assert county_figures.county_month(title_lines=split, source="月报.xlsx", ctx=ctx) == ("140729", "2026-10")


def test_county_prepare_sums_towns_and_quarantines_bad_rows(ctx: Context) -> None:
    codes = list(county_figures.INDICATORS)
    rows = [
        ["古陶镇", "11677", "144", "60", "1", "1.89", "1.5", "1.2", "2", "1", "—"],
        ["段村镇", "７,１３８", "１０２", "-4", "—", "0.5", "/", "0.3", "1", "1", "/"],   # negative: quarantined
        ["东泉镇", "1000", "10", "5", "1", "abc", "0.1", "0.1", "0", "0", ""],           # not a number
        ["古陶镇", "11677", "144", "60", "1", "1.89", "1.5", "1.2", "2", "1", "—"],     # exact repeat: once
        ["古陶镇", "99999", "1", "1", "1", "1", "1", "1", "1", "1", ""],                 # differs: quarantined
    ]
    raw = pd.DataFrame(rows, columns=["town", *codes])
    prepared = county_figures.prepare(
        raw, source="140728_平遥县_202610.xlsx", ctx=ctx, lines=pd.Series([6, 7, 8, 9, 10]),
        title_lines=["晋中市平遥县2026年10月营商环境指标月报"], units={"investment_signed_yi": "万元"},
        total_line=12, header_line=3)
    got = dict(zip(prepared.rows["indicator_code"], prepared.rows["value"].astype(object), strict=True))
    assert got == {
        "market_entities_total": 11677 + 7138 + 1000, "market_entities_new": 144 + 102 + 10,
        "market_entities_cancelled": 60 + 5,            # the -4 cell is left out, the town's other cells count
        "projects_signed": 2, "investment_signed_yi": pytest.approx((1.89 + 0.5) / 10_000),
        "funds_planned_yi": 1.6, "funds_in_place_yi": 1.6, "projects_planned_start": 3, "projects_started": 2,
        "policy_payout_wan": pd.NA,                     # no town gave a number
    }
    assert set(prepared.rows["region_code"]) == {"140728"} and set(prepared.rows["period"]) == {"2026-10"}
    assert prepared.rows["unit"].tolist() == ["户", "户", "户", "个", "亿元", "亿元", "亿元", "个", "个", "万元"]
    assert set(prepared.rows["source_line"]) == {12}
    assert list(zip(prepared.rejects["source_line"], prepared.rejects["reason_code"], strict=True)) == [
        (7, "negative_count"), (8, "invalid_number"), (10, "duplicate_town")]


def test_county_unknown_unit_refuses_the_file(ctx: Context) -> None:
    raw = pd.DataFrame([["古陶镇", *["1"] * 10]], columns=["town", *county_figures.INDICATORS])
    with pytest.raises(FileRejected, match="column 签约金额 is in 美元, expected 亿元"):
        county_figures.prepare(raw, source="140728_平遥县_202610.xlsx", ctx=ctx,
                               units={"investment_signed_yi": "美元"})


def test_parse_float_reads_what_clerks_type() -> None:
    got = county_figures.parse_float(pd.Series(["12.5", "1,234.5", "85%", "１２．５", "—", "x", None, "-3"]))
    assert got.astype(object).tolist() == [12.5, 1234.5, 0.85, 12.5, pd.NA, pd.NA, pd.NA, -3.0]


# -- the inbox runner --------------------------------------------------------------------------------------------

def _csv(path: Path, rows: list[list[str]], *, encoding: str, title: str | None = None, newline: str = "\r\n",
         blank_after: int | None = None) -> Path:
    lines = ([title] if title else []) + [",".join(RATING_HEADER)] + [",".join(r) for r in rows]
    if blank_after is not None:
        lines.insert(blank_after, "")
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def _files_config(config: Config, *, ratings_dir: Path | None = None, county_dir: Path | None = None) -> Config:
    sources, jobs = dict(config.sources), dict(config.jobs)
    if ratings_dir is not None:
        sources["ratings_inbox"] = FilesSource(kind="files", path=str(ratings_dir), pattern="*.csv")
        jobs["ratings"] = JobSettings(source="ratings_inbox", dataset="ratings", schedule="0 * * * *")
    if county_dir is not None:
        sources["county_inbox"] = FilesSource(kind="files", path=str(county_dir), pattern="*.xlsx")
        jobs["county_figures"] = JobSettings(source="county_inbox", dataset="county_figures",
                                             schedule="0 * * * *")
    return config.model_copy(update={"sources": sources, "jobs": jobs})


def _table(wh: Warehouse, sql: str) -> list[tuple]:
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _run(wh: Warehouse, cfg: Config, name: str) -> tuple[RunSummary, list[str]]:
    said: list[str] = []
    summary = run_job(warehouse=wh, config=cfg, name=name, progress=said.append)
    assert summary.status == "success", summary.error
    return summary, said


def _ratings_inbox(inbox: Path) -> None:
    inbox.mkdir(parents=True)
    _csv(inbox / "hcp_20261008.csv", [
        _rating("R1", "140702", "2026/10/08 09:12", "非常满意"),                     # line 3 (title on line 1)
        _rating("R2", "140726", "2026-10-08 10:00:00", "满意"),                      # line 4; blank line 5
        _rating("R1", "140702", "2026/10/08 09:12", "非常满意"),                     # line 6: repeated row
        _rating("", "140702", "2026-10-08 11:00:00", "满意"),                        # line 7: missing_key
        _rating("R3", "开发区", "2026-10-08 11:00:00", "满意"),                      # line 8: unknown_region
        _rating("R4", "平遥", "2026-10-08 12:00:00", "好评"),                        # line 9: invalid_level
    ], encoding="gbk", title="晋中市政务服务“好差评”数据导出（2026年10月08日）", blank_after=4)
    _csv(inbox / "hcp_20261009.csv", [
        _rating("R5", "介休", "2026年10月9日", "满意", comment="生僻字“𠀀”"),        # line 2
        _rating("R6", "140728", "46304.375", "不满意", verified="是", status="已整改",
                rectified="2026-10-15"),                                              # line 3: Excel serial
    ], encoding="gb18030")
    _csv(inbox / "hcp_20261010.csv", [_rating("R7", "榆社县", "2026-10-10 08:00:00", "基本满意")],
         encoding="utf-8-sig", newline="\n")
    shutil.copy(inbox / "hcp_20261008.csv", inbox / "hcp_20261008(1).csv")  # the same export sent twice
    (inbox / "hcp_20261011.csv").write_bytes("导出失败\r\n无数据\r\n".encode("gbk"))  # no header: refused


def test_ratings_inbox_loads_each_file_once(warehouse: Warehouse, config: Config, tmp_path: Path) -> None:
    inbox = tmp_path / "ratings" / "inbox"
    _ratings_inbox(inbox)
    cfg = _files_config(config, ratings_dir=inbox)
    summary, said = _run(warehouse, cfg, "ratings")
    # Name order puts the copy hcp_20261008(1).csv after its original; it is recognised by its checksum.
    assert (summary.rows_read, summary.rows_inserted, summary.rows_updated, summary.rows_rejected) == (9, 5, 0, 3)
    assert summary.files_refused == 1
    assert _table(warehouse, "SELECT rating_id, region_code, level, CAST(rated_at AS TEXT), source, source_line, "
                             "verified_bad FROM fact_rating ORDER BY rating_id") == [
        ("R1", "140702", 5, "2026-10-08 09:12:00", "hcp_20261008.csv", 6, False),
        ("R2", "140703", 4, "2026-10-08 10:00:00", "hcp_20261008.csv", 4, False),
        ("R5", "140781", 4, "2026-10-09 00:00:00", "hcp_20261009.csv", 2, False),
        ("R6", "140728", 2, "2026-10-09 09:00:00", "hcp_20261009.csv", 3, True),
        ("R7", "140721", 3, "2026-10-10 08:00:00", "hcp_20261010.csv", 2, False),
    ]
    assert _table(warehouse, "SELECT comment FROM fact_rating WHERE rating_id = 'R5'") == [("生僻字“𠀀”",)]
    assert _table(warehouse, "SELECT source, source_line, reason_code, reason_zh FROM etl_rejected_row "
                             "ORDER BY source_line") == [
        ("hcp_20261008.csv", 7, "missing_key", "缺少唯一编号"),
        ("hcp_20261008.csv", 8, "unknown_region", "行政区划无法识别"),
        ("hcp_20261008.csv", 9, "invalid_level", "评价等级无效"),
    ]
    assert _table(warehouse, "SELECT filename, status, rows_loaded, rows_rejected, period FROM etl_file "
                             "ORDER BY filename") == [
        ("hcp_20261008.csv", "loaded", 2, 3, "2026-10"),
        ("hcp_20261009.csv", "loaded", 2, 0, "2026-10"),
        ("hcp_20261010.csv", "loaded", 1, 0, "2026-10"),
        ("hcp_20261011.csv", "failed", 0, 0, None),
    ]
    assert sorted(p.name for p in (tmp_path / "ratings" / "archive").iterdir()) == [
        "hcp_20261008(1).csv", "hcp_20261008.csv", "hcp_20261009.csv", "hcp_20261010.csv"]
    failed = tmp_path / "ratings" / "failed"
    assert sorted(p.name for p in failed.iterdir()) == ["hcp_20261011.csv", "hcp_20261011.csv.reason.txt"]
    reason = (failed / "hcp_20261011.csv.reason.txt").read_text(encoding="utf-8")
    assert "前20行中找不到包含 评价编号, 行政区划, 评价时间, 评价等级 的表头" in reason
    assert "no header row with 评价编号, 行政区划, 评价时间, 评价等级 in the first 20 rows" in reason
    assert list(inbox.iterdir()) == []
    assert len(said) >= 5 and "5/5 files" in said[-1] and "9 rows read" in said[-1]
    assert "5/5 files (3 loaded, 1 duplicate, 1 failed)" in said[-1]

    # Delivered again later (same bytes, same name): nothing is read or loaded, the registry keeps one row.
    shutil.copy(tmp_path / "ratings" / "archive" / "hcp_20261009.csv", inbox / "hcp_20261009.csv")
    again, said = _run(warehouse, cfg, "ratings")
    assert (again.rows_read, again.rows_inserted, again.rows_updated, again.rows_rejected) == (0, 0, 0, 0)
    assert _table(warehouse, "SELECT COUNT(*) FROM etl_file WHERE filename = 'hcp_20261009.csv'") == [(1,)]
    assert _table(warehouse, "SELECT COUNT(*) FROM fact_rating") == [(5,)]
    assert "1 duplicate" in said[-1]
    assert len(list((tmp_path / "ratings" / "archive").glob("hcp_20261009.*.csv"))) == 1


def test_the_producer_validates_new_files_and_the_loader_what_it_already_holds(
        warehouse: Warehouse, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of new files arrive validated by the producer process; a batch holding a file loaded earlier is
    validated again by the loader without it, and loads the same rows."""
    from etl import inbox as runner

    monkeypatch.setenv("BIZENV_ETL_PRODUCER", "process")
    in_loader: list[list[str]] = []
    prepare_batch = runner.prepare_batch

    def spy(dataset: object, tables: list, **kwargs: object) -> object:
        in_loader.append([name for name, _ in tables])  # the forked producer's own calls never reach this list
        return prepare_batch(dataset, tables, **kwargs)

    monkeypatch.setattr(runner, "prepare_batch", spy)
    folder = tmp_path / "ratings" / "inbox"
    folder.mkdir(parents=True)
    cfg = _files_config(config, ratings_dir=folder)
    _csv(folder / "hcp_20261008.csv", [_rating("R1", "140702", "2026-10-08", "满意")], encoding="gbk")
    _csv(folder / "hcp_20261009.csv", [_rating("R2", "140703", "2026-10-09", "不满意"),
                                       _rating("R3", "开发区", "2026-10-09", "满意")], encoding="utf-8")
    first, _ = _run(warehouse, cfg, "ratings")
    assert (first.rows_read, first.rows_inserted, first.rows_rejected, in_loader) == (3, 2, 1, [])

    shutil.copy(tmp_path / "ratings" / "archive" / "hcp_20261009.csv", folder / "hcp_20261009.csv")
    _csv(folder / "hcp_20261010.csv", [_rating("R4", "140781", "2026-10-10", "基本满意")], encoding="utf-8")
    second, said = _run(warehouse, cfg, "ratings")
    assert (second.rows_read, second.rows_inserted, second.rows_rejected) == (1, 1, 0)
    assert in_loader == [["hcp_20261010.csv"]]
    assert "2/2 files (1 loaded, 1 duplicate, 0 failed)" in said[-1]
    assert _table(warehouse, "SELECT rating_id, source, source_line FROM fact_rating ORDER BY rating_id") == [
        ("R1", "hcp_20261008.csv", 2), ("R2", "hcp_20261009.csv", 2), ("R4", "hcp_20261010.csv", 2)]
    assert _table(warehouse, "SELECT source, source_line, reason_code FROM etl_rejected_row") == [
        ("hcp_20261009.csv", 3, "unknown_region")]


COUNTY_COLUMNS = [("乡镇（街道）", "", "—"), ("实有总数", "市场主体", "户"), ("本月新登记", "市场主体", "户"),
                  ("本月注销", "市场主体", "户"), ("签约项目数", "招商引资", "个"), ("签约金额", "招商引资", "亿元"),
                  ("计划到位资金", "招商引资", "亿元"), ("实际到位资金", "招商引资", "亿元"),
                  ("计划开工项目数", "项目建设", "个"), ("已开工项目数", "项目建设", "个"),
                  ("兑现金额", "惠企政策", "万元")]
PINGYAO = [
    ["古陶镇", 11677, 144, 60, 1, 1.89, 1.5, 1.2, 2, 1, 237.57],
    ["段村镇", "７,１３８", "１０２", -4, "—", 0.5, "/", 0.3, 1, 1, "—"],
]
PINGYAO_FIXED = [
    ["古陶镇", 11677, 150, 60, 1, 2.89, 1.5, 1.2, 2, 1, 237.57],
    ["段村镇", 7138, 102, 4, "—", 0.5, "/", 0.3, 1, 1, "—"],
]
YUCI = [["锦纶街道", 7951, 102, 45, 0, 0, 0.5, 0.4, 1, 0, 100]]


def _county_xlsx(path: Path, *, title: str, towns: list[list[object]], drop: str | None = None) -> Path:
    """The county template: title, filler, merged two-level header, units row, towns, a blank row, 合计."""
    keep = [i for i, c in enumerate(COUNTY_COLUMNS) if c[0] != drop]
    cols = [COUNTY_COLUMNS[i] for i in keep]
    wb = Workbook()
    ws = wb.active
    ws.title = "月报"
    ws.cell(1, 1, title)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(cols))
    ws.cell(2, 1, "填报单位：营商环境局")
    ws.cell(3, 1, cols[0][0])
    ws.merge_cells(start_row=3, start_column=1, end_row=4, end_column=1)
    for j, (leaf, group, unit) in enumerate(cols, start=1):
        if j > 1:
            ws.cell(4, j, leaf)
            if group != cols[j - 2][1]:
                ws.cell(3, j, group)
                span = sum(1 for c in cols if c[1] == group)
                if span > 1:
                    ws.merge_cells(start_row=3, start_column=j, end_row=3, end_column=j + span - 1)
        ws.cell(5, j, unit)
    for i, town in enumerate(towns):
        for j, k in enumerate(keep, start=1):
            ws.cell(6 + i, j, town[k])
    total_row = 6 + len(towns) + 1  # one blank row before the total
    ws.cell(total_row, 1, "合计")
    wb.save(path)
    return path


def _figures(wh: Warehouse, region: str, period: str) -> dict[str, float | None]:
    rows = _table(wh, f"SELECT indicator_code, value FROM fact_county_figure WHERE region_code = '{region}' "
                      f"AND period = '{period}'")
    return {k: (None if v is None else round(v, 6)) for k, v in rows}


def test_county_inbox_correction_replaces_the_month_and_bad_workbook_is_parked(
    warehouse: Warehouse, config: Config, tmp_path: Path
) -> None:
    inbox = tmp_path / "county" / "inbox"
    inbox.mkdir(parents=True)
    _county_xlsx(inbox / "140728_平遥县_202609.xlsx", title="晋中市平遥县2026年9月营商环境指标月报", towns=PINGYAO)
    _county_xlsx(inbox / "140702_榆次区_202609.xlsx", title="晋中市榆次区2026年9月营商环境指标月报", towns=YUCI)
    _county_xlsx(inbox / "140721_榆社县_202609.xlsx", title="晋中市榆社县2026年9月营商环境指标月报", towns=YUCI,
                 drop="本月新登记")
    cfg = _files_config(config, county_dir=inbox)
    summary, said = _run(warehouse, cfg, "county_figures")
    assert (summary.rows_read, summary.rows_inserted, summary.rows_rejected) == (3, 20, 1)
    assert "3/3 files (2 loaded, 0 duplicate, 1 failed)" in said[-1]
    first = _figures(warehouse, "140728", "2026-09")
    assert first == {"market_entities_total": 18815, "market_entities_new": 246, "market_entities_cancelled": 60,
                     "projects_signed": 1, "investment_signed_yi": 2.39, "funds_planned_yi": 1.5,
                     "funds_in_place_yi": 1.5, "projects_planned_start": 3, "projects_started": 2,
                     "policy_payout_wan": 237.57}
    assert _figures(warehouse, "140702", "2026-09")["market_entities_total"] == 7951
    assert _table(warehouse, "SELECT DISTINCT unit, source, source_line FROM fact_county_figure "
                             "WHERE region_code = '140728' AND indicator_code = 'investment_signed_yi'") == [
        ("亿元", "140728_平遥县_202609.xlsx", 9)]  # the 合计 row
    assert _table(warehouse, "SELECT source, source_line, reason_code FROM etl_rejected_row") == [
        ("140728_平遥县_202609.xlsx", 7, "negative_count")]
    failed = tmp_path / "county" / "failed"
    assert sorted(p.name for p in failed.iterdir()) == ["140721_榆社县_202609.xlsx",
                                                        "140721_榆社县_202609.xlsx.reason.txt"]
    reason = (failed / "140721_榆社县_202609.xlsx.reason.txt").read_text(encoding="utf-8")
    assert "required column 本月新登记 missing (header at row 3)" in reason and "缺少必填列 本月新登记" in reason
    assert _table(warehouse, "SELECT filename, status, region_code, period, rows_loaded, rows_rejected FROM etl_file "
                             "ORDER BY filename") == [
        ("140702_榆次区_202609.xlsx", "loaded", "140702", "2026-09", 10, 0),
        ("140721_榆社县_202609.xlsx", "failed", None, None, 0, 0),
        ("140728_平遥县_202609.xlsx", "loaded", "140728", "2026-09", 10, 1),
    ]

    with warehouse.engine.begin() as conn:  # a stale indicator the correction must not leave behind
        conn.execute(text("INSERT INTO fact_county_figure (region_code, period, indicator_code, value, unit, "
                          "row_hash, etl_run_id, source, source_line) VALUES ('140728', '2026-09', 'old_code', 1, "
                          f"'个', 'x', {summary.run_id}, 'old.xlsx', 1)"))
    _county_xlsx(inbox / "140728_平遥县_202609_更正.xlsx", title="晋中市平遥县2026年9月营商环境指标月报",
                 towns=PINGYAO_FIXED)
    corrected, _ = _run(warehouse, cfg, "county_figures")
    assert (corrected.rows_inserted, corrected.rows_rejected) == (10, 0)
    assert _figures(warehouse, "140728", "2026-09") == {
        **first, "market_entities_new": 252, "market_entities_cancelled": 64, "investment_signed_yi": 3.39}
    assert _table(warehouse, "SELECT DISTINCT source FROM fact_county_figure WHERE region_code = '140728'") == [
        ("140728_平遥县_202609_更正.xlsx",)]
    assert _figures(warehouse, "140702", "2026-09")["market_entities_total"] == 7951  # other counties untouched

    # The uncorrected workbook re-sent (other bytes) after the correction is refused, not loaded over it.
    _county_xlsx(inbox / "140728_平遥县_202609.xlsx", title="晋中市平遥县2026年9月营商环境指标月报",
                 towns=PINGYAO[:1])
    late, said = _run(warehouse, cfg, "county_figures")
    assert (late.rows_inserted, late.rows_updated) == (0, 0)
    assert "1 failed" in said[-1]
    assert _figures(warehouse, "140728", "2026-09")["market_entities_new"] == 252
    assert any(p.name.endswith(".reason.txt") and "已按更正文件" in p.read_text(encoding="utf-8")
               for p in failed.iterdir())


def test_county_workbooks_arrive_read_and_validated_and_a_bad_unit_is_parked(
        warehouse: Warehouse, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The producer process reads and validates each workbook; one it refuses is parked by the loader with the
    reason, and the loader validates nothing itself."""
    from etl import inbox as runner

    monkeypatch.setenv("BIZENV_ETL_PRODUCER", "process")
    in_loader: list[str] = []
    prepare = runner._prepare

    def spy(dataset: object, table: object, **kwargs: object) -> object:
        in_loader.append(str(kwargs["source"]))  # the forked producer's own calls never reach this list
        return prepare(dataset, table, **kwargs)

    monkeypatch.setattr(runner, "_prepare", spy)
    inbox = tmp_path / "county" / "inbox"
    inbox.mkdir(parents=True)
    _county_xlsx(inbox / "140702_榆次区_202609.xlsx", title="晋中市榆次区2026年9月营商环境指标月报", towns=YUCI)
    monkeypatch.setitem(globals(), "COUNTY_COLUMNS",
                        [(n, g, "个" if n == "签约金额" else u) for n, g, u in COUNTY_COLUMNS])
    _county_xlsx(inbox / "140728_平遥县_202609.xlsx", title="晋中市平遥县2026年9月营商环境指标月报",
                 towns=PINGYAO_FIXED)
    summary, said = _run(warehouse, _files_config(config, county_dir=inbox), "county_figures")
    assert (summary.rows_inserted, summary.rows_rejected, summary.files_refused, in_loader) == (10, 0, 1, [])
    assert "2/2 files (1 loaded, 0 duplicate, 1 failed)" in said[-1]
    assert _table(warehouse, "SELECT DISTINCT region_code, period, source FROM fact_county_figure") == [
        ("140702", "2026-09", "140702_榆次区_202609.xlsx")]
    reason = (tmp_path / "county" / "failed" / "140728_平遥县_202609.xlsx.reason.txt").read_text(encoding="utf-8")
    assert "签约金额 is in 个, expected 亿元" in reason


# -- the demo's inboxes ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from etl.demo.generator import JINZHONG_UNITS, generate_sources

    out = tmp_path_factory.mktemp("demo") / "sources"
    manifest = generate_sources(out_dir=out, units=JINZHONG_UNITS, start_month="2026-08", end_month="2026-10",
                                scale=0.01)
    return out, manifest


def test_demo_inboxes_load_as_the_manifest_says(warehouse: Warehouse, config: Config, tmp_path: Path,
                                                demo_sources: tuple[Path, dict]) -> None:
    src, manifest = demo_sources
    shutil.copytree(src / "ratings", tmp_path / "ratings")
    shutil.copytree(src / "county_figures", tmp_path / "county_figures")
    cfg = _files_config(config, ratings_dir=tmp_path / "ratings" / "inbox",
                        county_dir=tmp_path / "county_figures" / "inbox")
    bad = manifest["bad_rows"]["ratings"]
    messy = manifest["messy"]["ratings"]
    rated, _ = _run(warehouse, cfg, "ratings")
    assert rated.rows_inserted == manifest["counts"]["ratings"] - sum(bad.values())
    assert rated.rows_read == manifest["counts"]["ratings"] + messy["duplicate_rows"]
    assert dict(_table(warehouse, "SELECT reason_code, COUNT(*) FROM etl_rejected_row WHERE dataset = 'ratings' "
                                  "GROUP BY reason_code")) == {
        "invalid_level": bad["invalid_level"], "bad_rated_at": bad["empty_rated_at"],
        "unknown_region": bad["unknown_region"], "missing_key": bad["missing_rating_id"]}
    assert _table(warehouse, "SELECT status, COUNT(*) FROM etl_file WHERE source = 'ratings_inbox' GROUP BY status") \
        == [("loaded", manifest["counts"]["rating_files"] - len(messy["duplicate_files"]))]

    county, _ = _run(warehouse, cfg, "county_figures")
    c_bad, c_messy = manifest["bad_rows"]["county_figures"], manifest["messy"]["county_figures"]
    months = manifest["counts"]["county_workbooks"] - c_bad["malformed_workbook"] - len(c_messy["corrected"])
    assert _table(warehouse, "SELECT COUNT(*) FROM fact_county_figure") == [(10 * months,)]
    assert dict(_table(warehouse, "SELECT reason_code, COUNT(*) FROM etl_rejected_row "
                                  "WHERE dataset = 'county_figures' GROUP BY reason_code")) == {
        "negative_count": c_bad["negative_count"]}
    assert sorted(r[0] for r in _table(warehouse, "SELECT filename FROM etl_file WHERE status = 'failed'")) == sorted(
        m["file"] for m in c_messy["malformed"])
    for fix in c_messy["corrected"]:
        assert _table(warehouse, "SELECT DISTINCT source FROM fact_county_figure WHERE source LIKE '%更正%'") == [
            (fix["file"],)]


def test_config_adds_a_header_alias(warehouse, config, tmp_path) -> None:
    """A county system that exports 'Rating No.' instead of 评价编号: config names it, nothing else changes."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "r.csv").write_text(
        "Rating No.,办件编号,行政区划,评价渠道,评价时间,评价等级,评价内容\r\n"
        "R1,C1,140702,PC端,2026-10-08 09:12:05,满意,好\r\n", encoding="utf-8")
    from models.config import FilesSource, JobSettings

    cfg = config.model_copy(update={
        "sources": {**config.sources, "ratings_inbox": FilesSource(kind="files", path=str(inbox), pattern="*.csv")},
        "jobs": {"ratings": JobSettings(source="ratings_inbox", dataset="ratings", schedule="0 * * * *",
                                        fields={"rating_id": "Rating No."})},
    })
    from etl.jobs import run_job

    summary = run_job(warehouse=warehouse, config=cfg, name="ratings")
    assert (summary.status, summary.rows_inserted, summary.rows_rejected) == ("success", 1, 0), summary.error
    with warehouse.engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT rating_id, level, region_code FROM fact_rating")).all()
    assert rows == [("R1", 4, "140702")]


def test_rating_keys_fold_like_the_text_methods_they_replace() -> None:
    """Keys folded once per distinct value equal pandas' own replace and casefold of every value (second method)."""
    values = pd.Series(["PC端", " pc 端 ", "ＰＣ端", None, "—", "移动 端", "Straße", "APP", "pc端", "满 意", ""],
                       dtype=object)
    expected = clean_text(values).astype(object).str.replace(r"\s+", "", regex=True).str.casefold()
    got = ratings._key(values)
    assert got.astype(object).where(got.notna(), None).tolist() == expected.where(expected.notna(), None).tolist()
    assert got.tolist()[:3] == ["pc端", "pc端", "pc端"] and got.isna().tolist()[3:5] == [True, True]


def test_small_files_reach_the_loader_a_batch_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        ctx: Context) -> None:
    """The producer hands over groups of about a batch of rows, validated; a refused file counts no rows, and a big
    file goes alone, for the loader to read and validate."""
    from etl import inbox

    monkeypatch.setattr(inbox, "BATCH_ROWS", 3)
    folder = tmp_path / "inbox"
    folder.mkdir()
    _csv(folder / "a.csv", [_rating("A1", "140702", "2026-10-08", "满意"),
                            _rating("A2", "140702", "2026-10-08", "满意")], encoding="utf-8")
    (folder / "b.csv").write_bytes("导出失败\r\n".encode("gbk"))  # no header: refused, no rows
    _csv(folder / "c.csv", [_rating("C1", "140702", "2026-10-08", "满意")], encoding="utf-8")
    _csv(folder / "d.csv", [_rating("D1", "140702", "2026-10-08", "满意")], encoding="utf-8")
    _csv(folder / "e.csv", [_rating(f"E{i}", "140702", "2026-10-08", "满意") for i in range(3)], encoding="utf-8")
    monkeypatch.setattr(inbox, "SMALL_FILE_BYTES", (folder / "e.csv").stat().st_size - 1)  # e.csv is "big"
    job = JobSettings(source="ratings_inbox", dataset="ratings", schedule="0 * * * *")
    source = FilesSource(kind="files", path=str(folder), pattern="*.csv")
    groups = list(inbox._read_ahead(sorted(folder.iterdir()), dataset=ratings, job=job, source=source, ctx=ctx))
    assert [[r.path.name for r in g.reads] for g in groups] == [["a.csv", "b.csv", "c.csv"], ["d.csv"], ["e.csv"]]
    assert [len(r.table.frame) if r.table is not None else None
            for g in groups for r in g.reads] == [2, None, 1, 1, None]
    assert groups[0].reads[1].error is not None and groups[2].reads[0].checksum is None  # the loader reads e.csv
    first, second = groups[0].validated, groups[1].validated
    assert first is not None and second is not None and groups[2].validated is None
    assert first.checksums == (groups[0].reads[0].checksum, groups[0].reads[2].checksum)  # not the refused b.csv
    assert first.prepared.rows[["rating_id", "source", "source_line"]].values.tolist() == [
        ["A1", "a.csv", 2], ["A2", "a.csv", 3], ["C1", "c.csv", 2]]
    assert second.prepared.rows["rating_id"].tolist() == ["D1"] and first.prepared.rejects.empty
