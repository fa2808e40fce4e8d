"""Exports cannot carry a formula into Excel or WPS, and keep numbers as numbers."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd

from bizenv.exports import csv_bytes, safe_text, xlsx_bytes

HOSTILE = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "＝1+1", "plain 文本"]


def test_text_that_starts_a_formula_is_quoted() -> None:
    assert [safe_text(v) for v in HOSTILE] == ["'" + v for v in HOSTILE[:-1]] + ["plain 文本"]
    assert safe_text(-5) == -5 and safe_text(None) is None


def test_csv_has_a_bom_and_no_live_formula() -> None:
    data = csv_bytes(pd.DataFrame({"内容": HOSTILE, "n": range(len(HOSTILE))}))
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[1].startswith('"\'=HYPERLINK') and lines[-1] == "plain 文本,6"


def test_xlsx_cells_are_values_not_formulas() -> None:
    frame = pd.DataFrame({"内容": HOSTILE, "rate": [0.5] * len(HOSTILE)})
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"表/1": frame}, number_formats={"rate": "0.0%"})))
    sheet = book["表_1"]
    cells = [sheet.cell(row=i + 2, column=1) for i in range(len(HOSTILE))]
    assert all(c.data_type == "s" for c in cells)  # strings, none is an 'f' formula
    assert cells[0].value == "'" + HOSTILE[0]
    assert sheet.cell(row=2, column=2).value == 0.5 and sheet.cell(row=2, column=2).number_format == "0.0%"
    assert sheet.freeze_panes == "A2"
