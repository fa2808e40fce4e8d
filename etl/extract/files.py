"""Reading one delivered CSV/XLSX/XLS file into canonical columns, as county bureaus and export jobs write them.

Handles what real deliveries carry: GBK/GB18030/UTF-8(-BOM) text with CRLF, title rows above the header, a
two-level header with merged group cells, a units row under the header, blank rows and 合计/小计/总计 rows.
Cells come back as text (Excel numbers and dates rendered as text too), so datasets parse every source alike.
A problem with the whole file raises `FileRejected` with the reason in English and Chinese; workbooks are read in
child processes, because python-calamine aborts the whole process on some damaged files (see `workbooks`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.extract import workbooks
from etl.extract.workbooks import Sheets, WorkbookUnreadable, read_workbook

HEADER_SCAN_ROWS = 20
CHUNK_ROWS = 100_000
# A CSV up to this size is parsed whole by Arrow's reader into Arrow text columns, three times faster than pandas'
# parser and without a Python string per cell (a year of 好差评 files: 2.4 µs a row against 8-12). A bigger file, or
# one with a row of another width than the header, goes through pandas block by block, as it always did.
ARROW_CSV_MAX_BYTES = 64 << 20
EXTRA_FIELDS = 16  # CSV rows may carry this many fields beyond the header before the parser gives up
CSV_FIELD_LIMIT = (1 << 31) - 1  # the csv module refuses fields over 128 KiB by default; pandas has no limit
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
WORKBOOK_MEMORY_BYTES = workbooks.MEMORY_BYTES  # address space a process reading workbooks may take
WORKBOOK_SECONDS = workbooks.SECONDS  # and the time one workbook may take
DETECT_ORDER = ("utf-8-sig", "gbk", "gb18030")  # GBK is a subset of GB18030: report the narrower one that decodes
TOTAL_MARKERS = {"合计", "小计", "总计", "全市合计", "全县合计", "全区合计", "总合计", "合计数"}
UNIT_TOKENS = {"户", "家", "个", "项", "件", "人", "人次", "次", "宗", "元", "万元", "亿元", "%", "天", "日", "亩",
               "吨", "平方米", "万平方米", "小时", "分钟", "分", "单位", "计量单位", "—", "-", "/", "——", "－"}
_BLANK_UNITS = {"—", "-", "/", "——", "－", "单位", "计量单位"}
_PAREN_UNIT = re.compile(r"^(.+?)\(([^()]{1,6})\)$")
_HEADER_NOISE = re.compile(r"[\s_\-*＊]+")


class FileRejected(Exception):
    """A delivered file that cannot be loaded at all; the reason names the file and, where known, row or column."""

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(f"{reason_en} / {reason_zh}")
        self.reason_en, self.reason_zh = reason_en, reason_zh

    def __reduce__(self) -> tuple[type[FileRejected], tuple[str, str]]:
        """Pickle with both reasons: a file read ahead by the ETL producer process reaches the loader pickled."""
        return type(self), (self.reason_en, self.reason_zh)


@dataclass
class RawTable:
    """One file (or one chunk of it) as canonical columns of raw text, with where each row came from."""

    frame: pd.DataFrame
    lines: pd.Series
    title_lines: list[str]
    encoding: str | None
    header_row: int
    units: dict[str, str] = field(default_factory=dict)
    total_lines: list[int] = field(default_factory=list)
    dropped_rows: int = 0


@dataclass(frozen=True)
class _Header:
    """Where the header is (0-based scan index), how many rows it spans, and canonical field -> column index."""

    index: int
    levels: int
    columns: dict[str, int]
    width: int
    title_lines: list[str]
    units: dict[str, str]
    skip_units_row: bool


def normalise_header(text: object) -> str:
    """A header cell as compared with aliases: NFKC-folded, case-folded, without spaces, '_', '-' or '*'."""
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", str(text or "")).casefold())


def cell_text(value: object) -> str:
    """An Excel cell as the text a CSV export would carry (integral numbers without '.0', dates ISO)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if np.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    return str(value)


# -- encodings ---------------------------------------------------------------------------------------------------

def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly, read in blocks so memory stays flat."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeError:  # also UTF-16's "stream does not start with BOM"
        return False
    return True


def _starts_with_bom(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(3) == codecs.BOM_UTF8


def detect_encoding(*, path: Path, encoding: str | None = None) -> str:
    """The text encoding of a CSV: the configured one (GBK widened to GB18030), else UTF-8(-BOM), GBK, GB18030."""
    if encoding:
        tried = [encoding, "gb18030"] if codecs.lookup(encoding).name in {"gbk", "gb2312"} else [encoding]
    else:
        tried = list(DETECT_ORDER)
    for enc in tried:
        if _decodes(path, enc):
            if enc == "utf-8-sig" and not _starts_with_bom(path):
                return "utf-8"
            return enc
    names = "/".join(e.upper() for e in tried)
    raise FileRejected(f"{path.name}: cannot decode as {names}", f"{path.name}：无法按 {names} 编码读取")


# -- header detection --------------------------------------------------------------------------------------------

def _alias_lookup(aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for canon, names in aliases.items():
        for name in (*names, canon):
            lookup.setdefault(normalise_header(name), canon)
    return lookup


def _candidates(top: str, leaf: str) -> list[tuple[str, str | None]]:
    """Names a header column may match, most specific first, each with the unit written in parentheses if any."""
    names = [f"{top}/{leaf}", leaf] if top and leaf and top != leaf else [leaf or top]
    out: list[tuple[str, str | None]] = []
    for name in names:
        norm = unicodedata.normalize("NFKC", name).strip()
        out.append((norm, None))
        m = _PAREN_UNIT.match(norm)
        if m and normalise_header(m.group(2)) in UNIT_TOKENS:
            out.append((m.group(1), m.group(2).strip()))
    return out


def _match(tops: Sequence[str], leaves: Sequence[str], lookup: Mapping[str, str]) -> tuple[dict[str, int],
                                                                                             dict[str, str]]:
    """Canonical field -> column index (first column wins), and units written in the header cells."""
    found: dict[str, int] = {}
    units: dict[str, str] = {}
    for j, (top, leaf) in enumerate(zip(tops, leaves, strict=True)):
        for name, unit in _candidates(top, leaf):
            canon = lookup.get(normalise_header(name))
            if canon and canon not in found:
                found[canon] = j
                if unit:
                    units[canon] = unit
                break
    return found, units


def _fill_merges(rows: list[list[str]], merges: Sequence[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    """Copy each merged range's value into every cell it covers (within the scanned rows)."""
    for (r1, c1), (r2, c2) in merges:
        if r1 >= len(rows):
            continue
        value = rows[r1][c1] if c1 < len(rows[r1]) else ""
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            for c in range(c1, min(c2, len(rows[r]) - 1) + 1):
                rows[r][c] = value


def _is_group_row(top: Sequence[str], leaves: Sequence[str]) -> bool:
    """A two-level header's top row: at least two distinct short group labels (a title row has one long text)."""
    labels = {t.strip() for t in top if t.strip()}
    return len(labels) >= 2 and all(len(normalise_header(t)) <= 12 for t in labels) and any(
        t.strip() and leaf.strip() and t.strip() != leaf.strip() for t, leaf in zip(top, leaves, strict=True))


def _group_row(top: Sequence[str], leaves: Sequence[str]) -> list[str]:
    """Carry a group label rightwards over blank cells that have a leaf below (merged cells without merge info)."""
    out, last = [], ""
    for t, leaf in zip(top, leaves, strict=True):
        last = t.strip() or (last if leaf.strip() else "")
        out.append(last)
    return out


def _units_row(row: Sequence[str], columns: Mapping[str, int]) -> dict[str, str] | None:
    """The units under each canonical column if the row is a units row (户, 个, 亿元, —), else None."""
    cells = [unicodedata.normalize("NFKC", c).strip() for c in row]
    filled = [c for c in cells if c]
    if not filled or not all(normalise_header(c.removeprefix("单位:").strip("()")) in UNIT_TOKENS or c in UNIT_TOKENS
                             for c in filled):
        return None
    if all(c in _BLANK_UNITS for c in filled):
        return None
    units = {}
    for canon, j in columns.items():
        unit = cells[j].removeprefix("单位:").strip("()") if j < len(cells) else ""
        if unit and unit not in _BLANK_UNITS:
            units[canon] = unit
    return units


def _title_text(row: Sequence[str]) -> str:
    parts: list[str] = []
    for c in row:
        c = c.strip()
        if c and c not in parts:
            parts.append(c)
    return " ".join(parts)


def _describe(aliases: Mapping[str, Sequence[str]], fields: Sequence[str]) -> str:
    return ", ".join(str(aliases[f][0]) if aliases.get(f) else f for f in fields)


def find_header(rows: Sequence[Sequence[str]], *, name: str, aliases: Mapping[str, Sequence[str]],
                required: Sequence[str], units_row: bool = True,
                merges: Sequence[tuple[tuple[int, int], tuple[int, int]]] = ()) -> _Header:
    """The header among the first rows: the first row (or group row + leaf row) naming every required field."""
    width = max((len(r) for r in rows), default=0)
    grid = [[str(c) for c in r] + [""] * (width - len(r)) for r in rows]
    _fill_merges(grid, merges)
    lookup = _alias_lookup(aliases)
    best: tuple[int, int, dict[str, int]] | None = None
    for i in range(min(len(grid), HEADER_SCAN_ROWS)):
        single, units = _match(grid[i], grid[i], lookup)
        levels, found = 1, single
        if i + 1 < len(grid) and _is_group_row(grid[i], grid[i + 1]):
            tops = _group_row(grid[i], grid[i + 1])
            pair, pair_units = _match(tops, grid[i + 1], lookup)
            if len(pair) > len(single):
                levels, found, units = 2, pair, pair_units
        hits = sum(f in found for f in required)
        if hits == len(required):
            return _finish(grid, i, levels, found, units, width, units_row)
        if hits and (best is None or hits > sum(f in best[2] for f in required)):
            best = (i, levels, found)
    _reject_header(name=name, aliases=aliases, required=required, best=best)
    raise AssertionError("unreachable")


def _finish(grid: list[list[str]], i: int, levels: int, found: dict[str, int], units: dict[str, str], width: int,
            units_row: bool) -> _Header:
    below = i + levels
    named = [j for r in grid[i:below] for j, c in enumerate(r) if c.strip()]
    width = max([*named, *found.values()]) + 1 if named or found else width
    row_units = _units_row(grid[below], found) if units_row and below < len(grid) else None
    titles = [t for t in (_title_text(r) for r in grid[:i]) if t]
    return _Header(index=i, levels=levels, columns=found, width=width, title_lines=titles,
                   units={**units, **(row_units or {})}, skip_units_row=row_units is not None)


def _reject_header(*, name: str, aliases: Mapping[str, Sequence[str]], required: Sequence[str],
                   best: tuple[int, int, dict[str, int]] | None) -> None:
    """Say which required columns are missing from the likeliest header row, or that no header was found."""
    if best is not None and sum(f in best[2] for f in required) * 2 >= len(required):
        missing = [f for f in required if f not in best[2]]
        what = _describe(aliases, missing)
        row = best[0] + 1
        raise FileRejected(f"{name}: required column {what} missing (header at row {row})",
                           f"{name}：表头（第{row}行）缺少必填列 {what}")
    what = _describe(aliases, required)
    raise FileRejected(f"{name}: no header row with {what} in the first {HEADER_SCAN_ROWS} rows",
                       f"{name}：前{HEADER_SCAN_ROWS}行中找不到包含 {what} 的表头")


# -- shaping rows ------------------------------------------------------------------------------------------------

TOTAL_MAX_CHARS = 12  # a first cell longer than this is never a total label


def _is_total_text(text: str) -> bool:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)) in TOTAL_MARKERS


def _is_total(first: np.ndarray) -> np.ndarray:
    """Rows whose first text cell is 合计/小计/总计 (spaces and full-width forms ignored)."""
    short = (np.flatnonzero(np.strings.str_len(first) <= TOTAL_MAX_CHARS) if first.size
             else np.zeros(0, dtype=np.int64))
    out = np.zeros(len(first), dtype=bool)
    for i in short:
        out[i] = _is_total_text(str(first[i]))
    return out


def _shape(cells: np.ndarray, lines: np.ndarray, header: _Header, aliases: Mapping[str, Sequence[str]],
           encoding: str | None, header_row: int) -> RawTable:
    """Drop blank and total rows and keep the canonical columns, for one block of data rows (a text array)."""
    n = cells.shape[0]
    stripped = np.strings.strip(cells)
    filled = stripped != ""
    blank = ~filled.any(axis=1) if cells.shape[1] else np.ones(n, dtype=bool)
    first = stripped[np.arange(n), filled.argmax(axis=1)] if cells.shape[1] else stripped[:, :0].ravel()
    total = _is_total(first) & ~blank
    keep = ~blank & ~total
    kept = cells[keep]
    m = int(keep.sum())
    frame = pd.DataFrame({canon: (kept[:, header.columns[canon]].astype(object) if canon in header.columns
                                  else np.full(m, None, dtype=object)) for canon in aliases}, index=range(m))
    return RawTable(frame=frame, lines=pd.Series(lines[keep], index=frame.index, dtype="int64"),
                    title_lines=header.title_lines, encoding=encoding, header_row=header_row,
                    units=dict(header.units), total_lines=lines[total].tolist(),
                    dropped_rows=int(blank.sum() + total.sum()))


def _text_array(raw: pd.DataFrame | list[list[str]], width: int) -> np.ndarray:
    """Cells as a 2-D variable-width string array (no fixed-width blow-up for long comments)."""
    arr = raw.to_numpy(dtype=object) if isinstance(raw, pd.DataFrame) else np.array(raw, dtype=object)
    return arr.reshape(-1, width).astype(np.dtypes.StringDType())


# -- CSV ---------------------------------------------------------------------------------------------------------

def _csv_head(path: Path, encoding: str) -> tuple[list[list[str]], list[int], list[int]]:
    """The first rows of a CSV (enough to hold the first data row below any header found), the physical line each
    starts on (1-based, and the line after the last), and the byte offset each ends at."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))  # a long comment is not a broken file
    plain, offset = _plain_codec(path, encoding)
    rows, starts, ends = [], [1], []
    try:
        with path.open("r", encoding=encoding, newline="") as fh:
            taken: list[str] = []  # the text lines handed to the csv reader, so that rows map to bytes exactly

            def lines() -> Iterator[str]:
                for text in fh:
                    taken.append(text)
                    yield text

            reader = csv.reader(lines())
            for row in islice(reader, HEADER_SCAN_ROWS + 3):
                rows.append(row)
                starts.append(reader.line_num + 1)
                offset += len("".join(taken).encode(plain))
                ends.append(offset)
                taken.clear()
    except UnicodeError as exc:
        raise FileRejected(f"{path.name}: cannot decode as {encoding.upper()}",
                           f"{path.name}：无法按 {encoding.upper()} 编码读取") from exc
    except csv.Error as exc:
        raise FileRejected(f"{path.name}: malformed CSV ({exc})", f"{path.name}：CSV 格式错误（{exc}）") from exc
    return rows, starts, ends


def _plain_codec(path: Path, encoding: str) -> tuple[str, int]:
    """A codec that reads the file from any line on (no byte-order mark expected there), and the BOM's length."""
    name = codecs.lookup(encoding).name
    if name not in ("utf-8-sig", "utf-16", "utf-32"):
        return encoding, 0
    with path.open("rb") as fh:
        head = fh.read(4)
    boms = {"utf-8-sig": [(codecs.BOM_UTF8, "utf-8")],
            "utf-16": [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
            "utf-32": [(codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")]}[name]
    return next(((plain, len(bom)) for bom, plain in boms if head.startswith(bom)), (boms[0][1], 0))


def _too_wide(path: Path, line: int, width: int) -> FileRejected:
    return FileRejected(f"{path.name}: line {line} has more fields than the header ({width})",
                        f"{path.name}：第{line}行的字段数多于表头（{width}列）")


def _csv_chunks(path: Path, *, aliases: Mapping[str, Sequence[str]], required: Sequence[str],
                encoding: str | None, units_row: bool, chunk_rows: int) -> Iterator[RawTable]:
    enc = detect_encoding(path=path, encoding=encoding)
    head, starts, ends = _csv_head(path, enc)
    header = find_header(head, name=path.name, aliases=aliases, required=required, units_row=units_row)
    data_index = header.index + header.levels + int(header.skip_units_row)
    header_line, line = starts[header.index], starts[data_index]
    # pandas silently cuts a first row longer than `names` (a ParserWarning), so data rows in the head are checked
    # here; later rows fail in pandas or in _csv_block.
    wide = next((k for k in range(data_index, len(head)) if any(head[k][header.width:])), None)
    if wide is not None:
        raise _too_wide(path, starts[wide], header.width)
    fields = len(head[data_index]) if data_index < len(head) else header.width
    parsed = _arrow_csv(path, encoding=enc, offset=ends[data_index - 1], fields=max(fields, header.width),
                        width=header.width)
    if parsed is not None:
        yield from _arrow_blocks(parsed, line=line, header=header, aliases=aliases, encoding=enc,
                                 header_line=header_line, chunk_rows=chunk_rows)
        return
    names = [f"c{j}" for j in range(header.width + EXTRA_FIELDS)]
    emitted = False
    try:
        with path.open("rb") as fh:
            # pandas starts where the csv module's head rows end, by byte offset: its own `skiprows` counts
            # records differently (a quoted line break in a title row) and would skip data rows.
            fh.seek(ends[data_index - 1])
            reader = pd.read_csv(fh, encoding=_plain_codec(path, enc)[0], header=None, names=names, index_col=False,
                                 dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                                 chunksize=chunk_rows, engine="c")
            for raw in reader:
                table, line = _csv_block(path, raw, line, header, aliases, enc, header_line)
                emitted = True
                yield table
    except pd.errors.EmptyDataError:
        pass  # nothing after the header
    except pd.errors.ParserError as exc:  # pandas counts rows from where it started reading
        first = starts[data_index]
        raise FileRejected(f"{path.name}: malformed CSV ({str(exc).strip()}; rows counted from line {first})",
                           f"{path.name}：CSV 格式错误（{str(exc).strip()}；行号自第{first}行起算）") from exc
    except UnicodeError as exc:
        raise FileRejected(f"{path.name}: cannot decode as {enc.upper()}",
                           f"{path.name}：无法按 {enc.upper()} 编码读取") from exc
    if not emitted:
        yield _empty(header, aliases, enc, header_line)


def _csv_block(path: Path, raw: pd.DataFrame, line: int, header: _Header, aliases: Mapping[str, Sequence[str]],
               enc: str, header_line: int) -> tuple[RawTable, int]:
    """Shape one pandas chunk, and the physical line the next chunk starts on (quoted line breaks counted)."""
    cells = _text_array(raw, raw.shape[1])
    long_rows = (cells[:, header.width:] != "").any(axis=1)
    breaks = np.strings.count(cells[:, : header.width], "\n").sum(axis=1).astype(np.int64)
    starts = line + np.arange(len(raw), dtype=np.int64) + np.concatenate([[0], np.cumsum(breaks)[:-1]]).astype(
        np.int64)
    if long_rows.any():
        raise _too_wide(path, int(starts[long_rows][0]), header.width)
    table = _shape(cells[:, : header.width], starts, header, aliases, enc, header_line)
    return table, line + len(raw) + int(breaks.sum())


def _arrow_csv(path: Path, *, encoding: str, offset: int, fields: int, width: int) -> pa.Table | None:
    """The data rows (from byte `offset`) as `width` Arrow text columns, or None where pandas must read the file:
    too big to parse whole, a row of another field count (short, blank or too wide), or anything Arrow refuses."""
    if fields > width + EXTRA_FIELDS or path.stat().st_size - offset > ARROW_CSV_MAX_BYTES:
        return None
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    plain = _plain_codec(path, encoding)[0]
    if codecs.lookup(plain).name != "utf-8":
        try:
            data = data.decode(plain).encode("utf-8")
        except UnicodeError:
            return None
    names = [f"c{j}" for j in range(fields)]
    odd: list[object] = []

    def note(row: object) -> str:
        odd.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                             invalid_row_handler=note),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.large_string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    extra = [table.column(j) for j in range(width, fields)]
    if odd or any(pc.any(pc.not_equal(c, "")).as_py() for c in extra):
        return None
    return table.select(names[:width])


def _arrow_blocks(table: pa.Table, *, line: int, header: _Header, aliases: Mapping[str, Sequence[str]],
                  encoding: str, header_line: int, chunk_rows: int) -> Iterator[RawTable]:
    """Arrow-parsed data rows in blocks, lines counted as `_csv_block` counts them (quoted line breaks included)."""
    n = table.num_rows
    if not n:
        yield _empty(header, aliases, encoding, header_line)
        return
    breaks = np.zeros(n, dtype=np.int64)
    for column in table.columns:
        breaks += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False).astype(np.int64)
    starts = line + np.arange(n, dtype=np.int64) + np.concatenate([[0], np.cumsum(breaks)[:-1]]).astype(np.int64)
    for at in range(0, n, chunk_rows):
        yield _shape_arrow(table.slice(at, chunk_rows), starts[at:at + chunk_rows], header, aliases, encoding,
                           header_line)


def _shape_arrow(table: pa.Table, lines: np.ndarray, header: _Header, aliases: Mapping[str, Sequence[str]],
                 encoding: str, header_row: int) -> RawTable:
    """`_shape` over Arrow text columns: the same blank and total rows dropped, the kept cells left as Arrow text."""
    n = table.num_rows
    stripped = [pc.utf8_trim_whitespace(c) for c in table.columns]  # the same characters as Python's str.strip()
    filled = [pc.not_equal(c, "") for c in stripped]
    blank = ~np.logical_or.reduce([f.to_numpy(zero_copy_only=False) for f in filled])
    first = pc.coalesce(*(pc.if_else(f, c, pa.scalar(None, pa.large_string())) for c, f in zip(stripped, filled,
                                                                                                strict=True)))
    total = np.zeros(n, dtype=bool)
    short = pc.less_equal(pc.fill_null(pc.utf8_length(first), TOTAL_MAX_CHARS + 1), TOTAL_MAX_CHARS)
    for i in np.flatnonzero(short.to_numpy(zero_copy_only=False)):
        total[i] = _is_total_text(first[int(i)].as_py())
    total &= ~blank
    keep = ~blank & ~total
    mask = pa.array(keep)
    m = int(keep.sum())
    frame = pd.DataFrame({canon: (pd.arrays.ArrowStringArray(table.column(header.columns[canon]).filter(mask))
                                  if canon in header.columns else np.full(m, None, dtype=object))
                          for canon in aliases}, index=range(m))
    return RawTable(frame=frame, lines=pd.Series(lines[keep], index=frame.index, dtype="int64"),
                    title_lines=header.title_lines, encoding=encoding, header_row=header_row,
                    units=dict(header.units), total_lines=lines[total].tolist(),
                    dropped_rows=int(blank.sum() + total.sum()))


def _empty(header: _Header, aliases: Mapping[str, Sequence[str]], encoding: str | None, header_row: int) -> RawTable:
    cells = np.zeros((0, header.width), dtype=np.dtypes.StringDType())
    return _shape(cells, np.zeros(0, dtype=np.int64), header, aliases, encoding, header_row)


# -- Excel -------------------------------------------------------------------------------------------------------

def _read_workbook(path: Path) -> Sheets:
    """Each sheet's name, merged ranges and cell values (from A1), read in a child process (see `workbooks`)."""
    try:
        return read_workbook(path, memory_bytes=WORKBOOK_MEMORY_BYTES, seconds=WORKBOOK_SECONDS)
    except WorkbookUnreadable as exc:
        if exc.kind == "timed_out":
            raise FileRejected(f"{path.name}: reading the workbook took over {WORKBOOK_SECONDS} s",
                               f"{path.name}：读取工作簿超过 {WORKBOOK_SECONDS} 秒") from None
        if exc.kind == "stopped":
            raise FileRejected(f"{path.name}: cannot open as a workbook (the reader stopped: {exc.why})",
                               f"{path.name}：无法作为 Excel 工作簿打开（文件已损坏或过大）") from None
        raise FileRejected(f"{path.name}: cannot open as a workbook ({exc.why})",
                           f"{path.name}：无法作为 Excel 工作簿打开") from None


def _sheet_rows(values: list[list[object]]) -> Iterator[list[str]]:
    """Every row of a sheet as text, indexed from cell A1 (leading empty rows and columns kept) like merges are."""
    for row in values:
        yield [cell_text(v) for v in row]


def _excel_chunks(path: Path, *, aliases: Mapping[str, Sequence[str]], required: Sequence[str],
                  units_row: bool, chunk_rows: int) -> Iterator[RawTable]:
    """The first sheet with a header (a 说明 sheet before the data is skipped), in blocks."""
    errors: list[FileRejected] = []
    for sheet_name, merges, values in _read_workbook(path):
        rows = _sheet_rows(values)
        head = list(islice(rows, HEADER_SCAN_ROWS + 2))
        try:
            header = find_header(head, name=f"{path.name} [{sheet_name}]", aliases=aliases, required=required,
                                 units_row=units_row, merges=merges)
        except FileRejected as exc:
            errors.append(exc)
            continue
        yield from _excel_blocks(head, rows, header, aliases, chunk_rows)
        return
    if not errors:
        raise FileRejected(f"{path.name}: the workbook has no sheets", f"{path.name}：工作簿没有工作表")
    raise next((e for e in errors if "required column" in e.reason_en), errors[0])


def _excel_blocks(head: list[list[str]], rows: Iterator[list[str]], header: _Header,
                  aliases: Mapping[str, Sequence[str]], chunk_rows: int) -> Iterator[RawTable]:
    """Sheet rows below the header (and units row) in blocks; lines are sheet row numbers."""
    first = header.index + header.levels + int(header.skip_units_row)  # 0-based index of the first data row
    data = chain(head[first:], rows)
    line, emitted = first + 1, False
    while block := list(islice(data, chunk_rows)):
        cells = _text_array([(r + [""] * header.width)[: header.width] for r in block], header.width)
        yield _shape(cells, np.arange(line, line + len(block), dtype=np.int64), header, aliases, None,
                     header.index + 1)
        line, emitted = line + len(block), True
    if not emitted:
        yield _empty(header, aliases, None, header.index + 1)


# -- public ------------------------------------------------------------------------------------------------------

def iter_table(path: Path, *, aliases: Mapping[str, Sequence[str]], required: Sequence[str],
               encoding: str | None = None, units_row: bool = True, chunk_rows: int = CHUNK_ROWS
               ) -> Iterator[RawTable]:
    """A file's data rows in blocks of at most `chunk_rows`, so a big export never sits in memory whole."""
    path = Path(path)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        yield from _excel_chunks(path, aliases=aliases, required=required, units_row=units_row,
                                 chunk_rows=chunk_rows)
    else:
        yield from _csv_chunks(path, aliases=aliases, required=required, encoding=encoding, units_row=units_row,
                               chunk_rows=chunk_rows)


def read_table(path: Path, *, aliases: Mapping[str, Sequence[str]], required: Sequence[str],
               encoding: str | None = None, units_row: bool = True) -> RawTable:
    """A whole file as one table of canonical columns, for files small enough to hold (and for tests)."""
    parts = list(iter_table(path, aliases=aliases, required=required, encoding=encoding, units_row=units_row))
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    return RawTable(frame=frame, lines=pd.Series(np.concatenate([p.lines.to_numpy() for p in parts]),
                                                 index=frame.index, dtype="int64"),
                    title_lines=first.title_lines, encoding=first.encoding, header_row=first.header_row,
                    units=first.units, total_lines=[ln for p in parts for ln in p.total_lines],
                    dropped_rows=sum(p.dropped_rows for p in parts))
