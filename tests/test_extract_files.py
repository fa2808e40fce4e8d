"""Reading delivered files: encodings, title rows, merged two-level headers, units rows, blank and 合计 rows.

Every fixture file is written here by hand, with the quirks real deliveries carry; expected values are exact.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from etl.extract.files import FileRejected, iter_table, normalise_header, read_table

HEADER = ["评价编号", "办件编号", "行政区划", "评价时间", "评价等级", "评价内容"]
ALIASES = {
    "rating_id": ("评价编号", "rating_id"),
    "case_id": ("办件编号",),
    "region": ("行政区划",),
    "rated_at": ("评价时间",),
    "level": ("评价等级",),
    "comment": ("评价内容",),
    "missing_optional": ("不存在的列",),
}
REQUIRED = ["rating_id", "region", "rated_at", "level"]


def _csv(path: Path, lines: list[str], *, encoding: str, newline: str = "\r\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def _read(path: Path, **kw: object):  # noqa: ANN202 - RawTable
    return read_table(path, aliases=ALIASES, required=REQUIRED, **kw)


def test_gbk_crlf_with_title_blank_duplicate_and_total_rows(tmp_path: Path) -> None:
    path = _csv(tmp_path / "hcp_20261008.csv", [
        "晋中市政务服务“好差评”数据导出（2026年10月08日）",   # line 1: title
        ",".join(HEADER),                                        # line 2
        "HCP1,C1,140702,2026/10/08 09:12,非常满意,很好",          # line 3
        "",                                                      # line 4: blank
        "ＨＣＰ２,C2,平遥,2026-10-08,满意,１２３",                 # line 5: full-width
        ",,,,,",                                                 # line 6: blank (commas only)
        "HCP1,C1,140702,2026/10/08 09:12,非常满意,很好",          # line 7: duplicate row (kept; the dataset dedupes)
        "合  计,,,,,",                                           # line 8: total row
    ], encoding="gbk")
    table = _read(path)
    assert table.encoding == "gbk"
    assert table.title_lines == ["晋中市政务服务“好差评”数据导出（2026年10月08日）"]
    assert table.header_row == 2
    assert table.lines.tolist() == [3, 5, 7]
    assert table.total_lines == [8]
    assert table.dropped_rows == 3
    assert list(table.frame.columns) == list(ALIASES)
    assert table.frame["rating_id"].tolist() == ["HCP1", "ＨＣＰ２", "HCP1"]
    assert table.frame["comment"].tolist() == ["很好", "１２３", "很好"]
    assert table.frame["missing_optional"].isna().all()


def test_gb18030_only_character_is_read(tmp_path: Path) -> None:
    path = _csv(tmp_path / "a.csv", [",".join(HEADER), "HCP1,C1,140702,2026-10-08 09:00:00,满意,生僻字“𠀀”很满意"],
                encoding="gb18030")
    table = _read(path)
    assert table.encoding == "gb18030"
    assert table.frame["comment"].tolist() == ["生僻字“𠀀”很满意"]


def test_utf8_with_bom_and_plain_utf8(tmp_path: Path) -> None:
    rows = [",".join(HEADER), "HCP1,C1,介休,2026年10月8日,基本满意,"]
    bom = _read(_csv(tmp_path / "bom.csv", rows, encoding="utf-8-sig", newline="\n"))
    plain = _read(_csv(tmp_path / "plain.csv", rows, encoding="utf-8", newline="\n"))
    assert (bom.encoding, plain.encoding) == ("utf-8-sig", "utf-8")
    assert bom.frame["rating_id"].tolist() == plain.frame["rating_id"].tolist() == ["HCP1"]
    assert bom.frame["rated_at"].tolist() == ["2026年10月8日"]


def test_configured_encoding_is_used_and_gbk_widens_to_gb18030(tmp_path: Path) -> None:
    path = _csv(tmp_path / "a.csv", [",".join(HEADER), "HCP1,C1,140702,2026-10-08,满意,𠀀"], encoding="gb18030")
    assert _read(path, encoding="gbk").encoding == "gb18030"
    with pytest.raises(FileRejected, match=r"a\.csv: cannot decode as UTF-8") as err:
        _read(path, encoding="utf-8")
    assert "无法按 UTF-8 编码读取" in err.value.reason_zh


def test_undecodable_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(",".join(HEADER).encode("utf-8") + b"\r\n\xff\xff\x80,1,2\r\n")
    with pytest.raises(FileRejected, match=r"bad\.csv: cannot decode as UTF-8-SIG/GBK/GB18030"):
        _read(path)


def test_missing_header_names_the_required_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path / "x.csv", ["a,b,c", "1,2,3"], encoding="gbk")
    with pytest.raises(FileRejected) as err:
        _read(path)
    assert err.value.reason_en == (
        "x.csv: no header row with 评价编号, 行政区划, 评价时间, 评价等级 in the first 20 rows")


def test_header_missing_one_required_column_names_it(tmp_path: Path) -> None:
    path = _csv(tmp_path / "x.csv", ["评价编号,行政区划,评价时间,评价内容", "HCP1,140702,2026-10-08,ok"],
                encoding="gbk")
    with pytest.raises(FileRejected, match=r"x\.csv: required column 评价等级 missing \(header at row 1\)"):
        _read(path)


def test_quoted_line_breaks_keep_line_numbers_right(tmp_path: Path) -> None:
    path = _csv(tmp_path / "q.csv", [",".join(HEADER), 'HCP1,C1,140702,2026-10-08,满意,"第一行\r\n第二行"',
                                     "HCP2,C2,140702,2026-10-08,满意,"], encoding="gbk")
    table = _read(path)
    assert table.lines.tolist() == [2, 4]
    assert table.frame["comment"].tolist()[0] == "第一行\r\n第二行"


def test_row_with_more_fields_than_the_header_rejects_the_file(tmp_path: Path) -> None:
    path = _csv(tmp_path / "w.csv", [",".join(HEADER), "HCP1,C1,140702,2026-10-08,满意,a",
                                     "HCP2,C2,140702,2026-10-08,满意,a,b,c"], encoding="gbk")
    with pytest.raises(FileRejected, match=r"w\.csv: line 3 has more fields than the header \(6\)"):
        _read(path)


def test_chunks_continue_line_numbers(tmp_path: Path) -> None:
    rows = [f"HCP{i},C{i},140702,2026-10-08,满意," for i in range(7)]
    path = _csv(tmp_path / "c.csv", ["标题", ",".join(HEADER), *rows[:3], "", *rows[3:]], encoding="gbk")
    chunks = list(iter_table(path, aliases=ALIASES, required=REQUIRED, chunk_rows=3))
    assert [c.lines.tolist() for c in chunks] == [[3, 4, 5], [7, 8], [9, 10]]
    assert [c.title_lines for c in chunks] == [["标题"]] * 3
    assert _read(path).frame["rating_id"].tolist() == [f"HCP{i}" for i in range(7)]


def test_header_only_file_gives_an_empty_table(tmp_path: Path) -> None:
    table = _read(_csv(tmp_path / "e.csv", [",".join(HEADER)], encoding="gbk"))
    assert table.frame.empty and list(table.frame.columns) == list(ALIASES)


# -- Excel -------------------------------------------------------------------------------------------------------

COUNTY_ALIASES = {
    "town": ("乡镇（街道）",),
    "entities_total": ("实有总数",),
    "entities_new": ("本月新登记", "新登记"),
    "signed_amount": ("签约金额",),
    "filed_on": ("填报日期",),
}
COUNTY_REQUIRED = ["town", "entities_total", "entities_new", "signed_amount"]


def _county_workbook(path: Path, *, merged: bool = True, drop: str | None = None, offset: int = 0) -> Path:
    """Title, filler, two-level header (merged group cells), units row, towns, a blank row, 合计."""
    cols = [("乡镇（街道）", "", "—"), ("实有总数", "市场主体", "户"), ("本月新登记", "市场主体", "户"),
            ("签约金额", "招商引资", "亿元"), ("填报日期", "", "")]
    cols = [c for c in cols if c[0] != drop]
    wb = Workbook()
    ws = wb.active
    r, c = 1 + offset, 1 + offset
    ws.cell(r, c, "晋中市平遥县2026年10月营商环境指标月报")
    ws.cell(r + 1, c, "填报单位：平遥县营商环境局")
    if merged:
        ws.merge_cells(start_row=r, start_column=c, end_row=r, end_column=c + len(cols) - 1)
    groups: dict[str, list[int]] = {}
    for j, (leaf, group, unit) in enumerate(cols):
        col = c + j
        if group:
            groups.setdefault(group, []).append(col)
            ws.cell(r + 3, col, leaf)
        else:
            ws.cell(r + 2, col, leaf)
            if merged:
                ws.merge_cells(start_row=r + 2, start_column=col, end_row=r + 3, end_column=col)
        ws.cell(r + 4, col, unit or None)
    for group, span in groups.items():
        ws.cell(r + 2, span[0], group)
        if merged and len(span) > 1:
            ws.merge_cells(start_row=r + 2, start_column=span[0], end_row=r + 2, end_column=span[-1])
    leaves = ["乡镇（街道）", "实有总数", "本月新登记", "签约金额", "填报日期"]
    data = [
        ["古陶镇", 11677, "1,234", 1.89, dt.datetime(2026, 11, 3, 9, 30)],
        ["段村镇", "７１３８", 102.0, "—", 46329],            # full-width digits, a dash, an Excel serial date
        [None, None, None, None, None],                         # blank row
        ["合计", 18815, 1336, 1.89, None],
    ]
    for i, row in enumerate(data):
        values = dict(zip(leaves, row, strict=True))
        for j, (leaf, _g, _u) in enumerate(cols):
            ws.cell(r + 5 + i, c + j, values[leaf])
    wb.save(path)
    return path


def test_xlsx_merged_two_level_header_units_row_and_total(tmp_path: Path) -> None:
    only_grouped = {**COUNTY_ALIASES, "entities_total": ("市场主体/实有总数",)}  # matched as group/leaf
    table = read_table(_county_workbook(tmp_path / "140728_平遥县_202610.xlsx"), aliases=only_grouped,
                       required=COUNTY_REQUIRED)
    assert table.title_lines == ["晋中市平遥县2026年10月营商环境指标月报", "填报单位：平遥县营商环境局"]
    assert table.header_row == 3
    assert table.units == {"entities_total": "户", "entities_new": "户", "signed_amount": "亿元"}
    assert table.lines.tolist() == [6, 7]
    assert table.total_lines == [9]
    assert table.encoding is None
    assert table.frame.to_dict("list") == {
        "town": ["古陶镇", "段村镇"],
        "entities_total": ["11677", "７１３８"],
        "entities_new": ["1,234", "102"],
        "signed_amount": ["1.89", "—"],
        "filed_on": ["2026-11-03 09:30:00", "46329"],
    }


def test_xlsx_two_level_header_without_merge_information(tmp_path: Path) -> None:
    table = read_table(_county_workbook(tmp_path / "a.xlsx", merged=False), aliases=COUNTY_ALIASES,
                       required=COUNTY_REQUIRED)
    assert table.header_row == 3
    assert table.frame["entities_new"].tolist() == ["1,234", "102"]


def test_xlsx_with_leading_empty_rows_and_columns_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    table = read_table(_county_workbook(tmp_path / "a.xlsx", offset=2), aliases=COUNTY_ALIASES,
                       required=COUNTY_REQUIRED)
    assert table.header_row == 5
    assert table.lines.tolist() == [8, 9]
    assert table.total_lines == [11]


def test_xlsx_missing_required_leaf_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as err:
        read_table(_county_workbook(tmp_path / "m.xlsx", drop="本月新登记"), aliases=COUNTY_ALIASES,
                   required=COUNTY_REQUIRED)
    assert err.value.reason_en == "m.xlsx [Sheet]: required column 本月新登记 missing (header at row 3)"
    assert err.value.reason_zh == "m.xlsx [Sheet]：表头（第3行）缺少必填列 本月新登记"


def test_xlsx_unit_in_header_parentheses(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["乡镇（街道）", "实有总数（户）", "本月新登记", "签约金额（万元）"])
    ws.append(["古陶镇", 5, 1, 12.5])
    wb.save(tmp_path / "p.xlsx")
    table = read_table(tmp_path / "p.xlsx", aliases=COUNTY_ALIASES, required=COUNTY_REQUIRED, units_row=False)
    assert table.units == {"entities_total": "户", "signed_amount": "万元"}
    assert table.frame["signed_amount"].tolist() == ["12.5"]


def test_not_a_workbook_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(FileRejected, match=r"broken\.xlsx: cannot open as a workbook"):
        read_table(path, aliases=COUNTY_ALIASES, required=COUNTY_REQUIRED)


def test_xls_workbook_is_read(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("月报")
    for j, value in enumerate(["乡镇（街道）", "实有总数", "本月新登记", "签约金额"]):
        sheet.write(1, j, value)
    sheet.write(0, 0, "晋中市祁县2026年9月营商环境指标月报")
    for j, value in enumerate(["昭馀镇", 1200, 15, 0.5]):
        sheet.write(2, j, value)
    book.save(str(tmp_path / "140727_祁县_202609.xls"))
    table = read_table(tmp_path / "140727_祁县_202609.xls", aliases=COUNTY_ALIASES, required=COUNTY_REQUIRED)
    assert table.title_lines == ["晋中市祁县2026年9月营商环境指标月报"]
    assert table.frame[["town", "entities_total", "entities_new", "signed_amount"]].values.tolist() == [
        ["昭馀镇", "1200", "15", "0.5"]]
    assert table.lines.tolist() == [3]


def test_normalise_header_folds_width_case_and_spacing() -> None:
    assert normalise_header("乡镇（街道）") == normalise_header("乡镇(街道)")
    assert normalise_header(" Rating_ID* ") == normalise_header("rating id") == "ratingid"
