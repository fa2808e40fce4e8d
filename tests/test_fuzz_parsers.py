"""Fuzzing the file parsers (issue 8): real-looking 好差评 CSVs and county workbooks, mutated at random.

Whatever bytes arrive, `read_table` and the datasets' `prepare` either give rows plus quarantined rows (with known
reason codes, every data row accounted for) or refuse the file with `FileRejected` naming it; never another
exception, never a hang. Well-formed files must also read back exactly, whatever their encoding, line endings and
quoting. Each parser call runs under a hard timeout (SIGALRM, and a faulthandler watchdog that ends the process if
a C or Rust loop never returns to Python), on top of hypothesis' per-example deadline.

Runs: the default is a quick run (~30 s on 2 cores). `HYPOTHESIS_PROFILE=long` explores 20 times deeper:
    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/test_fuzz_parsers.py -q
Under CI=true every test is derandomized (and the example database unused), so CI never flakes on a new example.
"""

from __future__ import annotations

import csv
import datetime as dt
import faulthandler
import functools
import io
import os
import re
import shutil
import signal
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest
import xlwt
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError
from sqlalchemy import text

from etl.datasets import county_figures, hotline, ratings
from etl.datasets.base import Context, FieldMappingError, Prepared
from etl.demo.ratings import HEADER as RATING_HEADER
from etl.extract import files
from etl.extract.files import FileRejected, RawTable, iter_table, read_table
from etl.inbox import REASON_SUFFIX
from etl.jobs import run_job
from etl.parsing import EXCEL_EPOCH, clean_text, format_datetime, parse_datetime, parse_int
from etl.reasons import REASONS
from models.calendar import get_calendar
from models.config import FilesSource, JobSettings, load_config
from models.db import Warehouse
from models.migrate import prepare_warehouse
from models.regions import alias_map

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")

# -- settings ----------------------------------------------------------------------------------------------------

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
IN_CI = os.environ.get("CI", "").lower() == "true"
HARD_TIMEOUT_S = 20  # one parser call on a file of a few kB; a hang, not a slow machine, passes this
settings.register_profile("fuzz", deadline=dt.timedelta(seconds=8), derandomize=IN_CI,
                          database=None if IN_CI else settings.default.database, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])


def fuzz(examples: int) -> settings:
    """The module's settings with `examples` examples (20x under HYPOTHESIS_PROFILE=long)."""
    return settings(settings.get_profile("fuzz"), max_examples=examples * (20 if LONG else 1))


class Hang(BaseException):
    """A parser call that did not return in time (BaseException, so no `except Exception` in a parser hides it)."""


@contextmanager
def hard_timeout(seconds: int = HARD_TIMEOUT_S) -> Iterator[None]:
    """Raise `Hang` in the test after `seconds`; if native code never yields, dump stacks and end the process."""
    def _raise(_signum: int, _frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    faulthandler.dump_traceback_later(seconds * 3, exit=True)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


# -- fixtures ----------------------------------------------------------------------------------------------------

@functools.cache
def ctx() -> Context:
    """The validation context, built once (not a fixture: hypothesis would print its whole config)."""
    config = load_config(REPO / "config.yaml")
    return Context(config=config, aliases=alias_map(config), calendar=get_calendar(config.calendar.as_mapping()),
                   run_id=1)


@pytest.fixture(autouse=True)
def _small_workbook_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Damaged .xls files make calamine grow a sector chain until the child's memory cap: 512 MiB finds it in
    ~0.5 s where the production 2 GiB takes ~3 s (a county workbook needs a few MiB)."""
    monkeypatch.setattr(files, "WORKBOOK_MEMORY_BYTES", 512 << 20)


def _fresh(folder: Path, name: str) -> Path:
    """An empty sub-folder for one example (hypothesis runs every example of a test in the same tmp_path)."""
    sub = folder / name
    shutil.rmtree(sub, ignore_errors=True)
    sub.mkdir(parents=True)
    return sub


# -- what a rating export looks like -----------------------------------------------------------------------------

GOOD_REGIONS = ["140702", "榆次区", "平遥", "晋中市介休市", "140726", "Taigu", "祁县", " 140721 ", "１４０７２２"]
BAD_REGIONS = ["开发区", "999999", "140799"]
GOOD_LEVELS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意", "满意 ", "Very Satisfied"]
BAD_LEVELS = ["5", "一般", "好评"]
CHANNELS = ["PC端", "移动端", "窗口评价器", "短信", "二维码", "", "未知渠道"]
DATE_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d",
                "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日", "%Y%m%d"]
BAD_DATES = ["", "明天", "2026-13-01", "0000-00-00", "—", "2026-02-30 10:00", "1e400", "NaN"]
COMMENT_CHARS = "好差评办事效率高很满意窗口，。“”、,\" 'abcXYZ019１２３\t\n𠀀㙟"
TOTALS = ["合计", "合  计", "总计", "小计", "全市合计"]
FULLWIDTH = str.maketrans("0123456789-/:", "０１２３４５６７８９－／：")
ENGLISH_HEADER = ["rating_id", "case_id", "region", "item", "channel", "rated_at", "level", "comment",
                  "verified_bad", "rectify_status", "rectified_at"]
DEFECTS = [None, None, None, "missing_key", "unknown_region", "bad_rated_at", "invalid_level", "date_out_of_range"]


@st.composite
def rated_at_text(draw: st.DrawFn, *, in_range: bool = True) -> str:
    """A rating time as exports write it: any of the formats, sometimes full-width, or an Excel serial."""
    lo, hi = (dt.datetime(2024, 1, 1), dt.datetime(2026, 12, 31)) if in_range else (
        dt.datetime(1990, 1, 1), dt.datetime(2010, 12, 31))
    when = draw(st.datetimes(min_value=lo, max_value=hi)).replace(microsecond=0)
    form = draw(st.sampled_from([*DATE_FORMATS, "serial", "fullwidth"]))
    if form == "serial":
        return f"{(when - EXCEL_EPOCH.to_pydatetime()).total_seconds() / 86400:.6f}"
    if form == "fullwidth":
        return when.strftime("%Y-%m-%d %H:%M:%S").translate(FULLWIDTH)
    return when.strftime(form)


@st.composite
def rating_row(draw: st.DrawFn, n: int) -> tuple[list[str], str | None]:
    """One export row (11 fields) and the one defect it carries by design, if any."""
    defect = draw(st.sampled_from(DEFECTS))
    rid = f"HCP{n:05d}" if draw(st.booleans()) else f" ＨＣＰ{n:05d} ".translate(FULLWIDTH)
    region = draw(st.sampled_from(BAD_REGIONS if defect == "unknown_region" else GOOD_REGIONS))
    if defect == "bad_rated_at":
        rated = draw(st.sampled_from(BAD_DATES))
    else:
        rated = draw(rated_at_text(in_range=defect != "date_out_of_range"))
    level = draw(st.sampled_from(BAD_LEVELS if defect == "invalid_level" else GOOD_LEVELS))
    comment = draw(st.text(alphabet=COMMENT_CHARS, max_size=24))
    if draw(st.booleans()):
        comment = comment.replace("\n", "\r\n")
    row = [" " if defect == "missing_key" else rid, f"C{n}", region, "企业开办", draw(st.sampled_from(CHANNELS)),
           rated, level, comment, draw(st.sampled_from(["", "是", "否"])), draw(st.sampled_from(["—", "已整改"])), ""]
    return row, defect


class Doc:
    """A rendered export: its text, and what reading it must give back."""

    def __init__(self, text: str, encoding: str, header: list[str], rows: list[list[str]], lines: list[int],
                 defects: list[str | None], total_lines: list[int], blank_rows: int, header_line: int,
                 titles: list[str]) -> None:
        self.text, self.encoding, self.header, self.rows, self.lines = text, encoding, header, rows, lines
        self.defects, self.total_lines, self.blank_rows = defects, total_lines, blank_rows
        self.header_line, self.titles = header_line, titles

    def __repr__(self) -> str:
        return f"Doc(encoding={self.encoding!r}, text={self.text!r})"

    @property
    def data(self) -> bytes:
        return self.text.encode(self.encoding)


_BREAK = re.compile(r"\r\n|\r|\n")


@st.composite
def rating_export(draw: st.DrawFn) -> Doc:
    """A day's export: optional title and blank lines, header, rows with blank and 合计 rows among them, any
    line endings (also mixed), minimal or full quoting, in UTF-8, UTF-8 with BOM, GBK or GB18030."""
    english = draw(st.booleans()) and draw(st.booleans())
    header = ENGLISH_HEADER if english else RATING_HEADER
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    endings = draw(st.sampled_from(["\r\n", "\n", "\r", "mixed"]))
    kinds = draw(st.lists(st.sampled_from(["row", "row", "row", "row", "blank", "empty", "total"]), max_size=12))
    title = draw(st.one_of(st.none(), st.sampled_from(["晋中市政务服务“好差评”数据导出（2026年10月08日）",
                                                       "导出, 含逗号的标题", "标题\n第二行", "他说\"你好"])))
    records: list[tuple[str, list[str] | None]] = []  # (kind, fields); fields None renders an empty line
    if title is not None:
        records.append(("title", [title]))
        if draw(st.booleans()):
            records.append(("empty", None))
    records.append(("header", header))
    defects: list[str | None] = []
    for i, kind in enumerate(kinds):
        if kind == "row":
            row, defect = draw(rating_row(i))
            records.append(("row", row))
            defects.append(defect)
        elif kind == "blank":
            records.append(("blank", [draw(st.sampled_from(["", " ", "\t"]))] * len(header)))
        elif kind == "empty":
            records.append(("empty", None))
        else:
            records.append(("total", [draw(st.sampled_from(TOTALS)), *[""] * (len(header) - 1)]))
    parts: list[tuple[str, str, list[str] | None]] = []
    previous = "\n"
    for kind, fields in records:
        ending = draw(st.sampled_from(["\r\n", "\n", "\r"])) if endings == "mixed" else endings
        if kind == "empty" and previous == "\r":
            ending = "\r"  # "\r" then an empty "\n" line would read as one "\r\n" break
        if fields is None:
            parts.append((kind, ending, None))
        else:
            buf = io.StringIO()  # "\r\n" as the writer's terminator, so that it quotes fields with "\r" or "\n"
            csv.writer(buf, quoting=quoting, lineterminator="\r\n").writerow(fields)
            parts.append((kind, buf.getvalue()[:-2] + ending, fields))
        previous = ending
    text, line = "", 1
    rows, lines, totals, blanks, header_line = [], [], [], 0, 0
    for kind, rendered, fields in parts:
        if kind == "row":
            rows.append(fields)
            lines.append(line)
        elif kind == "total":
            totals.append(line)
        elif kind == "header":
            header_line = line
        elif kind in ("blank", "empty") and header_line:
            blanks += 1
        text += rendered
        line += len(_BREAK.findall(rendered))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030"]))
    if encoding == "gbk" and any(c in text for c in "𠀀㙟"):
        encoding = "gb18030"  # characters outside GBK: the exporter writes GB18030
    titles = [title.strip()] if title and title.strip() else []
    return Doc(text, encoding, header, rows, lines, defects, totals, blanks + len(totals), header_line, titles)


# -- mutations ---------------------------------------------------------------------------------------------------

TOKENS = [b"\x00", b'"', b",", b"\r", b"\n", b"\r\n", b'"\n"', b"\xff", b"\x80", b"\xef\xbb\xbf", b"\xfe\xff",
          b"\xa3", b"\x81\x30", b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,", "合计".encode("gbk"), "评价编号".encode(),
          b"x" * 200_000, b'"' + b"y\n" * 70_000 + b'"']
MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "token", "delete", "truncate", "duplicate", "reencode"]),
    st.integers(min_value=0, max_value=1 << 20),
    st.integers(min_value=1, max_value=255),
    st.one_of(st.binary(max_size=6), st.sampled_from(TOKENS)),
)
REENCODINGS = ["utf-16", "utf-16-le", "latin-1", "gbk", "utf-8", "cp1252"]


def mutate(data: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply byte-level mutations: flips, insertions, deletions, truncation, duplication and re-encoding."""
    buf = bytearray(data)
    for kind, where, arg, payload in ops:
        i = where % (len(buf) + 1)
        if kind == "flip" and buf:
            buf[i % len(buf)] ^= arg
        elif kind == "insert":
            buf[i:i] = payload
        elif kind == "token":
            buf[i:i] = TOKENS[arg % len(TOKENS)]
        elif kind == "delete":
            del buf[i:i + arg]
        elif kind == "truncate":
            del buf[i:]
        elif kind == "duplicate":
            buf[i:i] = buf[i:i + arg]
        elif kind == "reencode":
            text = bytes(buf).decode("gb18030", errors="replace")
            buf = bytearray(text.encode(REENCODINGS[arg % len(REENCODINGS)], errors="replace"))
    return bytes(buf)


# -- properties checked on every read ----------------------------------------------------------------------------

def guarded(call: Callable[[], T]) -> T:
    """Run a parser call under the hard timeout."""
    with hard_timeout():
        return call()


def assert_refusal_names_file(exc: Exception, name: str) -> None:
    """A refusal must say which file (in both languages) so the reason file in failed/ is actionable."""
    if isinstance(exc, FileRejected):
        assert name in exc.reason_en and name in exc.reason_zh, (exc.reason_en, exc.reason_zh)
    else:
        assert name in str(exc), str(exc)


def assert_table_sane(table: RawTable, aliases: dict[str, tuple[str, ...]]) -> None:
    """Canonical columns, one source line per row, lines increasing and below the header."""
    assert list(table.frame.columns) == list(aliases)
    assert len(table.lines) == len(table.frame)
    lines = table.lines.to_numpy()
    assert (np.diff(lines) > 0).all(), lines
    assert (lines > table.header_row).all(), (table.header_row, lines)
    assert table.dropped_rows >= len(table.total_lines) >= 0


def assert_accounted(table: RawTable, prepared: Prepared, key: str) -> None:
    """Every data row read is loaded, quarantined with a known reason, or superseded by a later copy of its key."""
    codes = set(prepared.rejects["reason_code"])
    assert codes <= set(REASONS), codes - set(REASONS)
    read = table.lines.tolist()
    loaded = prepared.rows["source_line"].astype(int).tolist()
    quarantined = prepared.rejects["source_line"].astype(int).tolist()
    assert len(loaded) + len(quarantined) <= len(read)
    assert not set(loaded) & set(quarantined)
    assert set(loaded) | set(quarantined) <= set(read)
    assert prepared.rows[key].is_unique
    keys = dict(zip(prepared.rows["source_line"].astype(int), prepared.rows[key], strict=True))
    by_line = dict(zip(read, table.frame[key], strict=True))
    for line in set(read) - set(loaded) - set(quarantined):  # dropped as an earlier copy of a loaded key
        folded = unicodedata.normalize("NFKC", str(by_line[line])).strip()
        assert any(k == folded and later > line for later, k in keys.items()), (line, by_line[line])


def read_and_prepare(path: Path, dataset: object, context: Context, *, encoding: str | None = None,
                     chunk_rows: int = 4) -> tuple[RawTable, Prepared] | None:
    """Read a file and prepare it as the inbox does; None when it is refused (and the refusal names it)."""
    aliases = dataset.ALIASES  # type: ignore[attr-defined]
    required = dataset.REQUIRED  # type: ignore[attr-defined]
    try:
        table = guarded(lambda: read_table(path, aliases=aliases, required=required, encoding=encoding))
        assert_table_sane(table, aliases)
        rows = max(chunk_rows, len(table.frame) // 16 + 1)  # blocks of a few rows, but not thousands of blocks
        chunks = guarded(lambda: list(iter_table(path, aliases=aliases, required=required, encoding=encoding,
                                                 chunk_rows=rows)))
        assert sum(len(c.frame) for c in chunks) == len(table.frame)
        assert np.concatenate([c.lines.to_numpy() for c in chunks]).tolist() == table.lines.tolist()
        whole = pd.concat([c.frame for c in chunks], ignore_index=True)
        assert whole.to_dict("records") == table.frame.to_dict("records")
        by_file = getattr(dataset, "prepare_file", None)
        if by_file is not None:
            prepared = guarded(lambda: by_file(table=table, source=path.name, ctx=context))
        else:
            prepared = guarded(lambda: dataset.prepare(table.frame, source=path.name, ctx=context,  # type: ignore
                                                       lines=table.lines))
    except (FileRejected, FieldMappingError) as exc:
        assert_refusal_names_file(exc, path.name)
        return None
    return table, prepared


# -- CSV ---------------------------------------------------------------------------------------------------------

def _canonical(header: list[str]) -> dict[str, int]:
    """Canonical rating field -> column position in a header (independently of the parser's own lookup)."""
    wanted = {name: canon for canon, names in ratings.ALIASES.items() for name in names}
    return {wanted[h]: j for j, h in enumerate(header) if h in wanted}


@fuzz(60)
@given(doc=rating_export(), chunk_rows=st.integers(1, 5))
def test_well_formed_exports_read_back_exactly(doc: Doc, chunk_rows: int, tmp_path: Path) -> None:
    path = _fresh(tmp_path, "csv") / "hcp_20261008.csv"
    path.write_bytes(doc.data)
    got = read_and_prepare(path, ratings, ctx(), chunk_rows=chunk_rows)
    assert got is not None, "a well-formed export was refused"
    table, prepared = got
    raw = doc.data
    assert raw.decode(table.encoding or "") == doc.text  # e.g. utf-8-sig only where the export has a BOM
    assert table.header_row == doc.header_line
    assert table.title_lines == doc.titles
    assert table.lines.tolist() == doc.lines
    assert table.total_lines == doc.total_lines
    assert table.dropped_rows == doc.blank_rows
    for canon, j in _canonical(doc.header).items():
        assert table.frame[canon].tolist() == [r[j] for r in doc.rows], canon
    expected = {line: d for line, d in zip(doc.lines, doc.defects, strict=True)}
    got_reasons = dict(zip(prepared.rejects["source_line"].astype(int), prepared.rejects["reason_code"],
                           strict=True))
    assert got_reasons == {line: d for line, d in expected.items() if d is not None}
    assert sorted(prepared.rows["source_line"].astype(int)) == [ln for ln, d in expected.items() if d is None]


@fuzz(150)
@given(doc=rating_export(), ops=st.lists(MUTATION, min_size=1, max_size=4),
       encoding=st.sampled_from([None, None, None, "gbk", "utf-8", "latin-1", "utf-16"]))
def test_mutated_exports_load_quarantine_or_are_refused(doc: Doc, ops: list, encoding: str | None,
                                                        tmp_path: Path) -> None:
    path = _fresh(tmp_path, "csv") / "hcp_20261009.csv"
    path.write_bytes(mutate(doc.data, ops))
    got = read_and_prepare(path, ratings, ctx(), encoding=encoding)
    if got is not None:
        assert_accounted(*got, key="rating_id")


ARROW_LIMIT = files.ARROW_CSV_MAX_BYTES  # the monkeypatch fixture outlives each hypothesis example: restore this


def _read_both_ways(path: Path, encoding: str | None, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The file read with Arrow's CSV reader allowed, then by pandas alone: each a table's content or a refusal."""
    out: list[object] = []
    for limit in (ARROW_LIMIT, -1):
        monkeypatch.setattr(files, "ARROW_CSV_MAX_BYTES", limit)
        try:
            t = guarded(lambda: read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED,
                                           encoding=encoding))
        except FileRejected as exc:
            out.append(("refused", exc.reason_en))
            continue
        out.append((t.frame.astype(object).to_dict("records"), t.lines.tolist(), t.total_lines, t.dropped_rows,
                    t.encoding, t.header_row, t.title_lines, t.units))
    return out


@fuzz(150)
@given(doc=rating_export(), ops=st.lists(MUTATION, max_size=3),
       encoding=st.sampled_from([None, None, None, "gbk", "utf-8", "latin-1", "utf-16"]))
def test_arrow_and_pandas_csv_readers_agree(doc: Doc, ops: list, encoding: str | None, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast Arrow reader is checked against pandas' reader, the second method, on good and mutated files."""
    path = _fresh(tmp_path, "csv") / "hcp_20261010.csv"
    path.write_bytes(mutate(doc.data, ops))
    with_arrow, pandas_only = _read_both_ways(path, encoding, monkeypatch)
    assert with_arrow == pandas_only


@pytest.mark.parametrize(("body", "arrow"), [
    ("HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,\"两行\r\n评价\",,—,\r\n合计,,,,,,,,,,\r\n", True),
    ("HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,好,,—,,\r\n", True),  # a trailing empty field
    ("HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意\r\n", False),  # a short row: pandas pads it
    ("HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,好,,—,\r\n\r\n", True),  # an empty line, dropped
    ("HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,好,,—,\r\nHCP2,C1,140702,企业开办,PC端,"
     "2026-10-08 09:12,满意,好,,—,,x\r\n", False),  # a row too wide: pandas refuses the file, naming line 3
])
def test_plain_exports_take_the_arrow_reader_and_odd_ones_pandas(body: str, arrow: bool, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hcp_20261011.csv"
    path.write_bytes((",".join(RATING_HEADER) + "\r\n" + body).encode("gbk"))
    with_arrow, pandas_only = _read_both_ways(path, None, monkeypatch)
    assert with_arrow == pandas_only
    monkeypatch.setattr(files, "ARROW_CSV_MAX_BYTES", ARROW_LIMIT)
    parsed: list[bool] = []
    arrow_csv = files._arrow_csv

    def spy(*args: object, **kwargs: object) -> object:
        table = arrow_csv(*args, **kwargs)
        parsed.append(table is not None)
        return table

    monkeypatch.setattr(files, "_arrow_csv", spy)
    if "x" in body:
        assert with_arrow == ("refused", "hcp_20261011.csv: line 3 has more fields than the header (11)")
        return
    read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED)
    assert parsed == [arrow]
    assert with_arrow[0][0]["rating_id"] == "HCP1"  # type: ignore[index]


SMALL_EXPORT = ("晋中市政务服务“好差评”数据导出（2026年10月08日）\r\n" + ",".join(RATING_HEADER) + "\r\n"
                'HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,非常满意,"第一行\r\n第二行",,—,\r\n'
                "\r\n"
                "HCP2,C2,平遥,企业开办,移动端,2026/10/08 10:00,不满意,慢,是,已整改,2026-10-12\r\n"
                "合计,,,,,,,,,,\r\n")


_PREPARED_CUTS: dict[tuple, Prepared] = {}


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_export_truncated_at_every_byte(encoding: str, tmp_path: Path) -> None:
    data = SMALL_EXPORT.encode(encoding)
    plain = "utf-8" if encoding == "utf-8-sig" else encoding
    header_done = data.index("评价等级".encode(plain)) + len("评价等级".encode(plain))  # the last required column
    quote_open = data.index(b'"')
    quote_close = data.index(b'"', quote_open + 1)
    rows_done = data.index("合计".encode(plain))
    loaded: dict[int, int] = {}
    prepared = _PREPARED_CUTS  # many cuts (in both encodings) read the same rows; preparing costs ~25 ms a batch
    for cut in range(len(data) + 1):
        path = tmp_path / f"cut_{cut}.csv"
        path.write_bytes(data[:cut])
        try:
            table = guarded(lambda p=path: read_table(p, aliases=ratings.ALIASES, required=ratings.REQUIRED))
        except FileRejected as exc:
            assert_refusal_names_file(exc, path.name)
            continue
        finally:
            path.unlink()
        assert_table_sane(table, ratings.ALIASES)
        seen = (tuple(table.frame.astype(object).itertuples(index=False)), tuple(table.lines))
        if seen not in prepared:
            prepared[seen] = guarded(lambda t=table: ratings.prepare(t.frame, source="cut.csv", ctx=ctx(),
                                                                    lines=t.lines))
            assert_accounted(table, prepared[seen], key="rating_id")
        loaded[cut] = len(prepared[seen].rows)
    assert not [c for c in loaded if c < header_done]  # no header yet (or cut inside a character): refused
    assert not [c for c in loaded if quote_open < c <= quote_close]  # inside the quoted comment: malformed
    assert all(loaded.get(c) == 2 for c in range(rows_done, len(data) + 1) if c in loaded)
    assert loaded[len(data)] == 2 and loaded[rows_done] == 2
    assert loaded[quote_open] == 1  # the first row without its comment


def test_rows_after_a_multi_line_title_are_read(tmp_path: Path) -> None:
    """Found by the fuzzer: pandas' skiprows counted the quoted title as one row, so the first data row was lost."""
    path = tmp_path / "hcp_title.csv"
    path.write_bytes(('"晋中市好差评\n数据导出"\r\n' + ",".join(RATING_HEADER) + "\r\n"
                      "HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,,,—,\r\n"
                      "HCP2,C2,平遥,企业开办,PC端,2026-10-08 10:00,满意,,,—,\r\n").encode("gbk"))
    table = read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED)
    assert table.frame["rating_id"].tolist() == ["HCP1", "HCP2"]
    assert table.lines.tolist() == [4, 5] and table.header_row == 3
    assert table.title_lines == ["晋中市好差评\n数据导出"]


def test_header_at_the_last_scanned_row_keeps_the_rows_below(tmp_path: Path) -> None:
    """A two-level header on rows 20-21 with a units row: the data starts beyond the rows scanned for a header."""
    header = ",".join(RATING_HEADER)
    group = ",".join(["评价信息"] * 5 + ["结果"] * 6)
    units = ",".join(["—"] * (len(RATING_HEADER) - 1) + ["天"])
    row = "HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,,,—,"
    path = tmp_path / "hcp_low.csv"
    lines = [f"说明{i}" for i in range(19)] + [group, header, units, row]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    table = read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED)
    assert table.frame["rating_id"].tolist() == ["HCP1"] and table.lines.tolist() == [23]


@pytest.mark.parametrize("data", [b"\xef", b"\xef\xbb", b"\xef\xbb\xbf"])
def test_a_file_cut_inside_its_bom_is_refused(data: bytes, tmp_path: Path) -> None:
    """Found by the fuzzer: Python's utf-8-sig decoder accepts a partial BOM, the reader then failed on it."""
    path = tmp_path / "hcp_bom.csv"
    path.write_bytes(data)
    with pytest.raises(FileRejected, match=r"hcp_bom\.csv: "):
        read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED)


def test_configured_utf16_without_bom_is_refused(tmp_path: Path) -> None:
    """Found by the fuzzer: UTF-16 raises UnicodeError (not UnicodeDecodeError) for a stream without BOM."""
    path = tmp_path / "hcp_u16.csv"
    path.write_bytes(",".join(RATING_HEADER).encode("utf-8"))
    with pytest.raises(FileRejected, match=r"hcp_u16\.csv: cannot decode as UTF-16"):
        read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED, encoding="utf-16")
    path.write_bytes((",".join(RATING_HEADER) + "\r\nHCP1,C1,140702,x,PC端,2026-10-08,满意,,,—,\r\n").encode("utf-16"))
    table = read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED, encoding="utf-16")
    assert table.frame["rating_id"].tolist() == ["HCP1"] and table.lines.tolist() == [2]


@pytest.mark.filterwarnings("ignore:Length of header or names:pandas.errors.ParserWarning")  # the empty fields
def test_first_row_wider_than_pandas_reads_is_refused(tmp_path: Path) -> None:
    """Found by the fuzzer: pandas silently cut a first data row with more than header + 16 fields."""
    row = "HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,,,—,"
    path = tmp_path / "hcp_wide.csv"
    path.write_bytes((",".join(RATING_HEADER) + "\r\n" + row + "," * 30 + "lost\r\n" + row + "\r\n").encode("gbk"))
    with pytest.raises(FileRejected, match=r"hcp_wide\.csv: line 2 has more fields than the header \(11\)"):
        read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED)
    path.write_bytes((",".join(RATING_HEADER) + "\r\n" + row + "," * 30 + "\r\n").encode("gbk"))
    assert read_table(path, aliases=ratings.ALIASES, required=ratings.REQUIRED).frame["rating_id"].tolist() == [
        "HCP1"]  # empty trailing fields lose nothing


def test_huge_field_in_the_header_rows_is_read(tmp_path: Path) -> None:
    """Found by the fuzzer: the csv module refuses fields over 128 KiB, so a long comment in the first rows made
    the read fail with csv.Error; pandas reads the same field further down."""
    comment = "很" * 150_000
    path = tmp_path / "hcp_huge.csv"
    path.write_bytes((",".join(RATING_HEADER) + "\r\n" + f"HCP1,C1,140702,企业开办,PC端,2026-10-08 09:12,满意,"
                      f"{comment},,—,\r\n").encode("gb18030"))
    got = read_and_prepare(path, ratings, ctx())
    assert got is not None
    table, prepared = got
    assert table.frame["comment"].tolist() == [comment]
    assert prepared.rows["comment"].tolist() == [comment]


# -- parsing functions -------------------------------------------------------------------------------------------

ANY_VALUE = st.one_of(
    st.none(), st.just(float("nan")), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.text(max_size=12), st.text(alphabet="0123456789０１２３４５６７８９,.-+eE年月日:/ %—", max_size=14),
    st.sampled_from(["1e400", "-inf", "Infinity", "9223372036854775808", "99999999999999999999", "0x10", "１２３",
                     "1,234", " 7 ", "２０２６-１０-０８", "46303.5", "NaT", "None", "—"]),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.decimals(allow_nan=True, allow_infinity=True).filter(lambda d: not d.is_snan()),  # no database sends sNaN
    st.dates(),
    st.builds(pd.Timestamp, st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2250, 1, 1))),
)
INT64 = (-(1 << 63), (1 << 63) - 1)


def _as_float(value: object) -> float | None:
    """What Python reads as a number from a text value (folded, without thousands separators), else None."""
    if not isinstance(value, str):
        return None
    try:
        return float(unicodedata.normalize("NFKC", value).replace(",", ""))
    except ValueError:
        return None


@fuzz(120)
@given(values=st.lists(ANY_VALUE, max_size=8))
@example(values=["1e400", "99999999999999999999", "-inf", "9223372036854775808"])  # read as int64's minimum
@example(values=[1 << 63])  # clean_text: OverflowError out of pyarrow
@example(values=[Decimal("Infinity")])  # clean_text: TypeError out of pyarrow
@example(values=[dt.datetime(2000, 1, 1), 9.223372036854776e18])
def test_parsers_take_any_value(values: list[object]) -> None:
    series = pd.Series(values, dtype=object, index=pd.RangeIndex(3, 3 + len(values)))
    with hard_timeout():
        cleaned = clean_text(series)
        ints = parse_int(series)
        floats = county_figures.parse_float(series)
        stamps = parse_datetime(series)
        text_out = format_datetime(stamps)
    for out in (cleaned, ints, floats, stamps, text_out):
        assert out.index.equals(series.index)
    assert str(ints.dtype) == "Int64"
    finite = floats.dropna().astype(float)
    assert np.isfinite(finite).all(), floats.tolist()  # an "inf" cell is not a number a county total can hold
    for value, got in zip(values, ints.astype(object), strict=True):
        if got is pd.NA:
            continue
        assert INT64[0] <= got <= INT64[1]
        number = _as_float(value)
        if number is not None and np.isfinite(number) and abs(number) < 2 ** 53:
            assert got == round(number), (value, got)
        if number is not None and (not np.isfinite(number) or abs(number) >= 2 ** 63):
            raise AssertionError(f"{value!r} read as {got}")


@fuzz(80)
@given(n=st.integers(min_value=-(10 ** 12), max_value=10 ** 12), commas=st.booleans(), wide=st.booleans(),
       pad=st.sampled_from(["", " ", "\u3000", "\t"]))
def test_parse_int_reads_integers_however_written(n: int, commas: bool, wide: bool, pad: str) -> None:
    text_value = f"{n:,}" if commas else str(n)
    if wide:
        text_value = text_value.translate(str.maketrans("0123456789-,", "０１２３４５６７８９－，"))
    got = parse_int(pd.Series([pad + text_value + pad], dtype=object))
    assert got.tolist() == [n]


@fuzz(80)
@given(when=st.datetimes(min_value=dt.datetime(1960, 1, 1), max_value=dt.datetime(2100, 12, 31)),
       form=st.sampled_from([*DATE_FORMATS, "%Y年%m月%d日 %H:%M", "serial", "fullwidth", "timestamp"]))
def test_parse_datetime_reads_every_form(when: dt.datetime, form: str) -> None:
    when = when.replace(microsecond=0)
    if form == "serial":
        value: object = (when - EXCEL_EPOCH.to_pydatetime()).total_seconds() / 86400
        expected = when
    elif form == "fullwidth":
        value, expected = when.strftime("%Y-%m-%d %H:%M:%S").translate(FULLWIDTH), when
    elif form == "timestamp":
        value, expected = pd.Timestamp(when), when
    else:
        value = when.strftime(form)
        expected = dt.datetime.strptime(value, form)  # the precision the form keeps
    got = parse_datetime(pd.Series([value], dtype=object)).iloc[0]
    if form == "serial" and not 20000 <= value <= 80000:  # type: ignore[operator]
        assert pd.isna(got)  # outside 1954..2119 a number is not taken for a date
        return
    assert abs(got.to_pydatetime() - expected) <= dt.timedelta(seconds=1), (value, got)


@fuzz(25)
@given(cells=st.lists(st.lists(ANY_VALUE, min_size=6, max_size=6), max_size=6))
def test_hotline_prepare_takes_any_cells(cells: list[list[object]]) -> None:
    """Rows as a database view returns them (any types): loaded or quarantined with known reasons, never a crash."""
    names = ["ticket_no", "region", "status", "received_at", "updated_at", "reopen_count"]
    raw = pd.DataFrame(cells, columns=names, dtype=object)
    raw["ticket_no"] = [f"T{i}" for i in range(len(raw))]
    with hard_timeout():
        prepared = hotline.prepare(raw, source="hotline", ctx=ctx())
    assert set(prepared.rejects["reason_code"]) <= set(REASONS)
    assert len(prepared.rows) + len(prepared.rejects) == len(raw)
    assert (prepared.rows["reopen_count"].dropna() >= 0).all()


# -- county workbooks --------------------------------------------------------------------------------------------

COUNTY_COLUMNS = [("乡镇（街道）", "", "—"), ("实有总数", "市场主体", "户"), ("本月新登记", "市场主体", "户"),
                  ("本月注销", "市场主体", "户"), ("签约项目数", "招商引资", "个"), ("签约金额", "招商引资", "亿元"),
                  ("计划到位资金", "招商引资", "亿元"), ("实际到位资金", "招商引资", "亿元"),
                  ("计划开工项目数", "项目建设", "个"), ("已开工项目数", "项目建设", "个"),
                  ("兑现金额", "惠企政策", "万元")]
TOWNS = [["古陶镇", 11677, 144, 60, 1, 1.89, 1.5, 1.2, 2, 1, 237.57],
         ["段村镇", "７,１３８", "１０２", -4, "—", 0.5, "/", 0.3, 1, 1, "—"],
         ["东泉镇", 1000, 10, 5, 1, "abc", 0.1, 0.1, 0, 0, ""]]
CELL_VALUES = st.one_of(
    st.none(), st.integers(-(10 ** 18), 10 ** 18), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.text(max_size=10), st.sampled_from(["=B6+C6", "=1/0", "=SUM(B6:B8)", "—", "/", "１２．５", "85%", "合计",
                                           "1e400", "inf", "户", "亿元", "万元", "美元", "乡镇（街道）", "实有总数"]),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)), st.times(),
)
SHEET_OP = st.one_of(
    st.tuples(st.just("cell"), st.integers(1, 12), st.integers(1, 13), CELL_VALUES),
    st.tuples(st.just("merge"), st.integers(1, 12), st.integers(1, 12), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("unmerge")),
    st.tuples(st.just("sheet_before"), st.sampled_from(["", "说明", "empty"])),
    st.tuples(st.just("delete_rows"), st.integers(1, 10), st.integers(1, 3)),
    st.tuples(st.just("insert_rows"), st.integers(1, 10), st.integers(1, 3)),
    st.tuples(st.just("delete_cols"), st.integers(1, 11), st.integers(1, 2)),
    st.tuples(st.just("clear")),
    st.tuples(st.just("title"), st.sampled_from(["晋中市平遥县2026年10月营商环境指标月报", "晋中市榆次区2026年9月月报",
                                                 "营商环境指标月报", "2026年13月", ""])),
)


def county_workbook(ops: list[tuple]) -> Workbook:
    """The county template (title, merged two-level header, units row, towns, 合计), then the cell operations."""
    wb = Workbook()
    ws = wb.active
    ws.title = "月报"
    ws.cell(1, 1, "晋中市平遥县2026年9月营商环境指标月报")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COUNTY_COLUMNS))
    ws.cell(2, 1, "填报单位：平遥县营商环境局　　填报日期：2026年10月3日")
    ws.cell(3, 1, COUNTY_COLUMNS[0][0])
    ws.merge_cells(start_row=3, start_column=1, end_row=4, end_column=1)
    for j, (leaf, group, unit) in enumerate(COUNTY_COLUMNS, start=1):
        if j > 1:
            ws.cell(4, j, leaf)
            if group != COUNTY_COLUMNS[j - 2][1]:
                ws.cell(3, j, group)
                span = sum(1 for c in COUNTY_COLUMNS if c[1] == group)
                if span > 1:
                    ws.merge_cells(start_row=3, start_column=j, end_row=3, end_column=j + span - 1)
        ws.cell(5, j, unit)
    for i, town in enumerate(TOWNS):
        for j, value in enumerate(town, start=1):
            ws.cell(6 + i, j, value)
    ws.cell(6 + len(TOWNS) + 1, 1, "合计")
    for op in ops:
        try:
            _sheet_op(wb, wb["月报"], op)
        except (KeyError, ValueError, AttributeError, IllegalCharacterError):
            pass  # what openpyxl cannot write (control characters, overlapped merges, a covered cell)
    return wb


def _sheet_op(wb: Workbook, ws: object, op: tuple) -> None:  # noqa: C901 - one branch per operation
    kind = op[0]
    if kind == "cell":
        _, r, c, value = op
        covered = any(m.min_row <= r <= m.max_row and m.min_col <= c <= m.max_col and (r, c) != (m.min_row, m.min_col)
                      for m in ws.merged_cells.ranges)  # type: ignore[attr-defined]
        if covered:
            return  # openpyxl keeps no value in a merged range's covered cells
        ws.cell(r, c, value)  # type: ignore[attr-defined]
    elif kind == "merge":
        _, r, c, dr, dc = op
        try:
            ws.merge_cells(start_row=r, start_column=c, end_row=r + dr, end_column=c + dc)  # type: ignore
        except ValueError:
            pass
    elif kind == "unmerge":
        for rng in list(ws.merged_cells.ranges):  # type: ignore[attr-defined]
            ws.unmerge_cells(str(rng))  # type: ignore[attr-defined]
    elif kind == "sheet_before":
        sheet = wb.create_sheet(op[1] or "Sheet", 0)
        if op[1] == "说明":
            sheet.cell(1, 1, "填表说明：数值请填写阿拉伯数字")
    elif kind == "delete_rows":
        ws.delete_rows(op[1], op[2])  # type: ignore[attr-defined]
    elif kind == "insert_rows":
        ws.insert_rows(op[1], op[2])  # type: ignore[attr-defined]
    elif kind == "delete_cols":
        ws.delete_cols(op[1], op[2])  # type: ignore[attr-defined]
    elif kind == "clear":
        wb.remove(ws)
        wb.create_sheet("月报")
    elif kind == "title":
        ws["A1"] = op[1]  # type: ignore[index]


def _xlsx_bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def assert_county_prepared(table: RawTable, prepared: Prepared) -> None:
    """One row per indicator for one county-month; quarantined town rows have known reasons."""
    assert_table_sane(table, county_figures.ALIASES)
    rows, rejects = prepared.rows, prepared.rejects
    assert rows["indicator_code"].tolist() == list(county_figures.INDICATORS)
    assert rows["region_code"].nunique() == 1 and rows["period"].nunique() == 1
    assert re.fullmatch(r"(19|20)\d\d-(0[1-9]|1[0-2])", rows["period"].iloc[0])
    values = rows["value"].dropna().astype(float)
    assert np.isfinite(values).all() and (values >= 0).all(), values.tolist()
    assert set(rejects["reason_code"]) <= set(REASONS)
    assert len(rejects) <= len(table.frame)
    assert set(rejects["source_line"].astype(int)) <= set(table.lines.tolist())


@fuzz(40)
@given(ops=st.lists(SHEET_OP, max_size=6), corrupt=st.lists(MUTATION, max_size=2))
@example(ops=[], corrupt=[])
def test_mutated_county_workbooks_load_or_are_refused(ops: list[tuple], corrupt: list, tmp_path: Path) -> None:
    data = _xlsx_bytes(county_workbook(ops))
    path = _fresh(tmp_path, "xlsx") / "140728_平遥县_202609.xlsx"
    path.write_bytes(mutate(data, corrupt))
    got = read_and_prepare(path, county_figures, ctx())
    if not ops and not corrupt:  # the template itself loads: 3 towns, 2 quarantined (negative, not a number)
        assert got is not None
        assert got[1].rejects["reason_code"].tolist() == ["negative_count", "invalid_number"]
    if got is not None:
        assert_county_prepared(*got)


def _xls_bytes(rows: list[list[object]]) -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("月报")
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                sheet.write(i, j, value)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


XLS_TEMPLATE = [["晋中市平遥县2026年9月营商环境指标月报"], [c[0] for c in COUNTY_COLUMNS],
                [c[2] for c in COUNTY_COLUMNS], *TOWNS]


@fuzz(30)
@given(corrupt=st.lists(MUTATION, max_size=3),
       suffix=st.sampled_from([".xls", ".xls", ".xlsx", ".xlsb", ".ods"]))
def test_corrupt_xls_and_other_workbook_bytes_are_refused_or_read(corrupt: list, suffix: str, tmp_path: Path) -> None:
    path = _fresh(tmp_path, "xls") / f"140728_平遥县_202609{suffix}"
    path.write_bytes(mutate(_xls_bytes(XLS_TEMPLATE), corrupt))
    got = read_and_prepare(path, county_figures, ctx())
    if got is not None:
        assert_county_prepared(*got)


def _far_cell_workbook() -> bytes:
    """The template with one stray value in XFD1048576: calamine then allocates a 1M x 16k grid (~550 GB)."""
    wb = county_workbook([])
    wb["月报"].cell(1_048_576, 16_384, "x")
    return _xlsx_bytes(wb)


def test_workbook_that_aborts_the_reader_is_refused(tmp_path: Path) -> None:
    """Found by the fuzzer: calamine aborts the whole process (no exception) when an allocation fails, on a stray
    far cell or a damaged .xls sector chain; read in a child process, the file is refused and the run goes on."""
    far = tmp_path / "140728_平遥县_202609.xlsx"
    far.write_bytes(_far_cell_workbook())
    damaged = tmp_path / "140728_平遥县_202610.xls"
    damaged.write_bytes(mutate(_xls_bytes(XLS_TEMPLATE), [("duplicate", 3234, 44, b"")]))
    for path in (far, damaged):
        with pytest.raises(FileRejected, match=rf"{path.name}: cannot open as a workbook \(the reader stopped: "
                                               r"memory allocation of \d+ bytes failed\)") as err:
            guarded(lambda p=path: read_table(p, aliases=county_figures.ALIASES, required=county_figures.REQUIRED))
        assert "文件已损坏或过大" in err.value.reason_zh


def test_workbook_truncated_at_many_offsets_is_refused(tmp_path: Path) -> None:
    data = _xlsx_bytes(county_workbook([]))
    cuts = sorted({*range(0, 8), *range(8, len(data), len(data) // 30), len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"140728_平遥县_202609_{cut}.xlsx"
        path.write_bytes(data[:cut])
        assert read_and_prepare(path, county_figures, ctx()) is None, cut  # a cut zip loses its central directory
        path.unlink()


# -- end to end through the inbox runner -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite warehouse file, copied for each example (migrating takes seconds, copying does not)."""
    path = tmp_path_factory.mktemp("fuzz-wh") / "template.db"
    wh = Warehouse(f"sqlite:///{path}")
    prepare_warehouse(warehouse=wh, config=ctx().config)
    wh.dispose()
    return path


def _good_export(day: int, ids: list[str]) -> bytes:
    rows = [f"{rid},C-{rid},140702,企业开办,PC端,2026-10-{day:02d} 09:00:00,满意,,,—," for rid in ids]
    return ("\r\n".join([",".join(RATING_HEADER), *rows]) + "\r\n").encode("gbk")


@settings(fuzz(4), deadline=dt.timedelta(seconds=30))  # a whole job run per example
@given(doc=rating_export(), ops=st.lists(MUTATION, min_size=1, max_size=3))
def test_inbox_parks_a_bad_file_and_loads_the_good_ones(doc: Doc, ops: list, tmp_path: Path,
                                                        warehouse_template: Path) -> None:
    config = ctx().config
    root = _fresh(tmp_path, "e2e")
    db = root / "warehouse.db"
    shutil.copy(warehouse_template, db)
    inbox = root / "ratings" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "hcp_20261001.csv").write_bytes(_good_export(1, ["G1", "G2"]))
    (inbox / "hcp_20261002.csv").write_bytes(mutate(doc.data, ops))
    (inbox / "hcp_20261003.csv").write_bytes("导出失败\r\n".encode("gbk") + b"\xff\xfe\x00")
    (inbox / "hcp_20261004.csv").write_bytes(_good_export(4, ["G3"]))
    (inbox / "hcp_20261005.xlsx").write_bytes(_xlsx_bytes(county_workbook([]))[:-100])  # a truncated workbook
    (inbox / "hcp_20261006.xlsx").write_bytes(_far_cell_workbook())  # aborts the reader
    try:
        verdict = read_table(inbox / "hcp_20261002.csv", aliases=ratings.ALIASES, required=ratings.REQUIRED)
        mutated_refused = False
        mutated_ids = {unicodedata.normalize("NFKC", str(v)).strip() for v in verdict.frame["rating_id"]}
    except FileRejected:
        mutated_refused, mutated_ids = True, set()
    sources = {**config.sources, "fuzz_inbox": FilesSource(kind="files", path=str(inbox), pattern="*.*")}
    jobs = {**config.jobs, "fuzz_ratings": JobSettings(source="fuzz_inbox", dataset="ratings", schedule="0 * * * *")}
    cfg = config.model_copy(update={"sources": sources, "jobs": jobs})
    wh = Warehouse(f"sqlite:///{db}")
    try:
        said: list[str] = []
        with hard_timeout(60):
            summary = run_job(warehouse=wh, config=cfg, name="fuzz_ratings", progress=said.append)
        assert summary.status == "success", summary.error
        with wh.engine.connect() as conn:
            loaded = {r[0] for r in conn.execute(text("SELECT rating_id FROM fact_rating"))}
            registry = dict(conn.execute(text("SELECT filename, status FROM etl_file")).all())
    finally:
        wh.dispose()
    assert {"G1", "G2", "G3"} <= loaded
    assert loaded - {"G1", "G2", "G3"} <= mutated_ids
    refused = {"hcp_20261003.csv", "hcp_20261005.xlsx", "hcp_20261006.xlsx"} | (
        {"hcp_20261002.csv"} if mutated_refused else set())
    failed = root / "ratings" / "failed"
    assert {p.name for p in failed.iterdir()} == refused | {n + REASON_SUFFIX for n in refused}
    for name in refused:
        reason = (failed / (name + REASON_SUFFIX)).read_text(encoding="utf-8")
        assert name in reason and "sha256" in reason
        assert registry[name] == "failed"
    archived = {p.name for p in (root / "ratings" / "archive").iterdir()}
    assert archived == {f"hcp_2026100{d}.csv" for d in (1, 2, 4)} - refused
    assert all(registry[n] == "loaded" for n in archived)
    assert summary.files_refused == len(refused)
    assert {n for n in refused if any(line.startswith(f"fuzz_ratings: {n}: refused (") for line in said)} == refused


def test_parse_int_refuses_what_is_not_a_decimal_integer() -> None:
    # Arrow's own cast would read '0x10' as 16; a count written in hex is a typo, not sixteen cases.
    got = parse_int(pd.Series(["0x10", "0b11", "12", "-7", "１２", None], dtype=object))
    assert got.tolist() == [pd.NA, pd.NA, 12, -7, 12, pd.NA]


@fuzz(60)  # from 1992: China kept summer time until 1991, so Asia/Shanghai was not always UTC+8
@given(when=st.datetimes(min_value=dt.datetime(1992, 1, 2), max_value=dt.datetime(2100, 12, 30)),
       offset_minutes=st.sampled_from([0, 480, -300, 345]), zulu=st.booleans())
def test_parse_datetime_reads_iso_8601_as_the_city_wall_clock(when: dt.datetime, offset_minutes: int,
                                                               zulu: bool) -> None:
    when = when.replace(microsecond=0)
    naive = parse_datetime(pd.Series([when.strftime("%Y-%m-%dT%H:%M:%S")], dtype=object)).iloc[0]
    assert naive.to_pydatetime() == when  # no offset: already the city's wall clock
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    text_value = when.replace(tzinfo=zone).isoformat()
    if zulu and offset_minutes == 0:
        text_value = text_value.replace("+00:00", "Z")
    expected = (when - dt.timedelta(minutes=offset_minutes) + dt.timedelta(hours=8))  # Asia/Shanghai is UTC+8
    got = parse_datetime(pd.Series([text_value], dtype=object)).iloc[0]
    assert got.to_pydatetime() == expected, (text_value, got)
