"""The job runner for `kind: files` sources: load each delivered file once, then archive it or park it in failed/.

Files are taken in name order. A file is known by its sha256 checksum, so the same bytes under another name
(hcp_20230428(1).csv) are never loaded twice. A file's rows, quarantined rows, dirty pairs and its `etl_file` row
commit together; a big CSV commits in blocks of 100k rows (the `etl_file` row with the last block) so memory stays
flat. A dataset that `REPLACES_PERIOD` (county workbooks) has the county-month's rows deleted in the same
transaction, so a corrected re-delivery replaces the month. A file that cannot be loaded at all goes to
`<inbox>/../failed/` with `<name>.reason.txt` and a failed `etl_file` row, and the run goes on with the next file.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import Connection, delete, insert, select

from etl.datasets.base import Context, FieldMappingError, Prepared
from etl.extract.files import CHUNK_ROWS, FileRejected, RawTable, iter_table, read_table
from etl.load import mark_dirty, now_local
from etl.pipeline import prefetch
from models.config import Config, FilesSource, JobSettings
from models.db import Warehouse
from models.ops import EtlFile
from models.schema import Base

if TYPE_CHECKING:
    from etl.jobs import RunSummary

log = logging.getLogger(__name__)

ARCHIVE, FAILED = "archive", "failed"
REASON_SUFFIX = ".reason.txt"
_COPY_SUFFIX = re.compile(r"\s*[(（](\d+)[)）]$")


@dataclass
class _Tally:
    """Files handled so far in this run, for the progress line."""

    total: int
    loaded: int = 0
    duplicates: int = 0
    failed: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def done(self) -> int:
        return self.loaded + self.duplicates + self.failed


@dataclass
class _Delivery:
    """One file being loaded: where it is, its checksum, and what it has added so far."""

    path: Path
    checksum: str
    size: int
    rows_loaded: int = 0
    rows_rejected: int = 0
    pairs: set[tuple[str, str]] = field(default_factory=set)


def file_checksum(*, path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks: the identity of a delivery, whatever it is named."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _name_order(path: Path) -> tuple[str, int, str]:
    """Name order, with a browser's copy (hcp_20230428(1).csv) right after its original."""
    m = _COPY_SUFFIX.search(path.stem)
    base = path.stem[: m.start()] + path.suffix if m else path.name
    return base, int(m.group(1)) if m else 0, path.name


def inbox_files(*, folder: Path, pattern: str) -> list[Path]:
    """Files waiting in an inbox, by name; Excel lock files (~$…) and hidden files are not deliveries."""
    found = (p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(("~$", ".")))
    return sorted(found, key=_name_order)


def _move(path: Path, folder: Path, checksum: str) -> Path:
    """Move a file into a folder beside the inbox, keeping its name unless another file already has it."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / path.name
    if dest.exists():
        dest = folder / f"{path.stem}.{checksum[:12]}{path.suffix}"
    return path.replace(dest)


def _aliases(dataset: ModuleType, fields: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The dataset's header aliases, with a job's configured header for a field tried first."""
    return {canon: ((fields[canon], *names) if canon in fields else tuple(names))
            for canon, names in dataset.ALIASES.items()}


def _prepare(dataset: ModuleType, table: RawTable, *, source: str, ctx: Context) -> Prepared:
    """Validate one block; a dataset that needs the file's title or units row gets the whole RawTable."""
    by_file: Callable[..., Prepared] | None = getattr(dataset, "prepare_file", None)
    if by_file is not None:
        return by_file(table=table, source=source, ctx=ctx)
    return dataset.prepare(table.frame, source=source, ctx=ctx, lines=table.lines)


def _blocks(path: Path, dataset: ModuleType, aliases: Mapping[str, Sequence[str]], encoding: str | None
            ) -> Iterator[tuple[RawTable, bool]]:
    """The file's blocks, each with whether it is the last; a whole-period dataset reads the file in one block."""
    if getattr(dataset, "REPLACES_PERIOD", False):
        yield read_table(path, aliases=aliases, required=dataset.REQUIRED, encoding=encoding), True
        return
    blocks = iter_table(path, aliases=aliases, required=dataset.REQUIRED, encoding=encoding, chunk_rows=CHUNK_ROWS)
    current = next(blocks)
    for following in blocks:
        yield current, False
        current = following
    yield current, True


def _loaded_before(conn: Connection, source: str, checksum: str) -> bool:
    status = conn.scalar(select(EtlFile.status).where(EtlFile.source == source, EtlFile.checksum == checksum))
    return status == "loaded"


def _register(conn: Connection, *, source: str, item: _Delivery, run_id: int, status: str, tz: str,
              error: str | None = None) -> None:
    """Record the delivery in `etl_file` (replacing an earlier failed attempt with the same bytes)."""
    regions = {r for r, _ in item.pairs}
    periods = {p for _, p in item.pairs}
    conn.execute(delete(EtlFile).where(EtlFile.source == source, EtlFile.checksum == item.checksum))
    conn.execute(insert(EtlFile).values(
        source=source, checksum=item.checksum, filename=item.path.name, size_bytes=item.size, status=status,
        run_id=run_id, received_at=now_local(tz), rows_loaded=item.rows_loaded, rows_rejected=item.rows_rejected,
        region_code=regions.pop() if len(regions) == 1 else None,
        period=periods.pop() if len(periods) == 1 else None, error=error))


def _replace_pairs(conn: Connection, *, dataset: ModuleType, rows_pairs: set[tuple[str, str]], source: str,
                   filename: str) -> None:
    """Delete the county-months a file delivers, refusing an uncorrected file over a loaded correction."""
    mark = getattr(dataset, "CORRECTION_MARK", None)
    table = Base.metadata.tables[dataset.TABLE]
    period_col = table.c[dataset.PERIOD_COLUMNS[0]]
    for region, period in sorted(rows_pairs):
        if mark and mark not in filename:
            corrected = conn.scalar(select(EtlFile.filename).where(
                EtlFile.source == source, EtlFile.status == "loaded", EtlFile.region_code == region,
                EtlFile.period == period, EtlFile.filename.contains(mark)))
            if corrected:
                raise FileRejected(f"{filename}: {region} {period} already has the correction {corrected}",
                                   f"{filename}：{region} {period} 已按更正文件 {corrected} 入库，原文件不再加载")
        conn.execute(delete(table).where(table.c.region_code == region, period_col == period))
    mark_dirty(conn=conn, fact_table=dataset.TABLE, pairs=rows_pairs)


def _pairs(dataset: ModuleType, prepared: Prepared) -> set[tuple[str, str]]:
    rows = prepared.rows
    if rows.empty or not dataset.PERIOD_COLUMNS:
        return set()
    return set(zip(rows["region_code"].astype(str), rows[dataset.PERIOD_COLUMNS[0]].astype(str), strict=True))


def _pairs_by_file(dataset: ModuleType, rows: pd.DataFrame) -> dict[str, set[tuple[str, str]]]:
    """Each file's (region, month) pairs in a batch of many files, in one pass rather than a filter per file."""
    if rows.empty or not dataset.PERIOD_COLUMNS:
        return {}
    distinct = rows[["source", "region_code", dataset.PERIOD_COLUMNS[0]]].drop_duplicates().astype(str)
    out: dict[str, set[tuple[str, str]]] = {}
    for name, region, period in distinct.itertuples(index=False):
        out.setdefault(name, set()).add((region, period))
    return out


def _load_file(*, warehouse: Warehouse, config: Config, source_name: str, source: FilesSource, job: JobSettings,
               dataset: ModuleType, ctx: Context, item: _Delivery, summary: RunSummary,
               ready: tuple[RawTable, Prepared] | None = None) -> None:
    """Read, validate and load one file block by block (or as `ready`, read and validated whole by the producer);
    the registry row commits with the last block."""
    from etl.jobs import load_batch  # local: etl.jobs registers this runner

    replaces = getattr(dataset, "REPLACES_PERIOD", False)
    blocks = [(ready[0], True)] if ready else _blocks(item.path, dataset, _aliases(dataset, job.fields),
                                                      source.encoding)
    for table, last in blocks:
        prepared = ready[1] if ready else _prepare(dataset, table, source=item.path.name, ctx=ctx)
        pairs = _pairs(dataset, prepared)
        before = (summary.rows_inserted + summary.rows_updated, summary.rows_rejected)
        with warehouse.engine.begin() as conn:
            if replaces:
                _replace_pairs(conn, dataset=dataset, rows_pairs=pairs, source=source_name, filename=item.path.name)
            load_batch(conn, dataset, prepared, summary)
            item.rows_loaded += summary.rows_inserted + summary.rows_updated - before[0]
            item.rows_rejected += summary.rows_rejected - before[1]
            item.pairs |= pairs
            if last:
                _register(conn, source=source_name, item=item, run_id=summary.run_id, status="loaded",
                          tz=config.timezone)
        summary.rows_read += len(table.frame)


def _fail(*, warehouse: Warehouse, config: Config, source_name: str, item: _Delivery, run_id: int,
          reason_en: str, reason_zh: str) -> Path:
    """Park a refused file in failed/ with its reason beside it, and record the failure."""
    with warehouse.engine.begin() as conn:
        _register(conn, source=source_name, item=item, run_id=run_id, status="failed", tz=config.timezone,
                  error=f"{reason_en}\n{reason_zh}")
    dest = _move(item.path, item.path.parent.parent / FAILED, item.checksum)
    dest.with_name(dest.name + REASON_SUFFIX).write_text(
        f"{reason_zh}\n{reason_en}\n\n文件/file: {item.path.name}\nsha256: {item.checksum}\n运行/run: {run_id}\n",
        encoding="utf-8")
    return dest


def _reasons(exc: Exception, name: str) -> tuple[str, str]:
    if isinstance(exc, FileRejected):
        return exc.reason_en, exc.reason_zh
    return f"{name}: {exc}", f"{name}：字段映射失败（{exc}）"


def _refuse(*, warehouse: Warehouse, config: Config, source_name: str, item: _Delivery, exc: Exception,
            summary: RunSummary, tally: _Tally) -> str:
    """Park a file refused whole and count it; the run goes on with the next file."""
    en, zh = _reasons(exc, item.path.name)
    _fail(warehouse=warehouse, config=config, source_name=source_name, item=item, run_id=summary.run_id,
          reason_en=en, reason_zh=zh)
    tally.failed += 1
    summary.files_refused += 1
    log.warning("file refused: %s", en)
    return f"refused ({en})"


def _handle(*, warehouse: Warehouse, config: Config, source_name: str, source: FilesSource, job: JobSettings,
            dataset: ModuleType, ctx: Context, path: Path, summary: RunSummary, tally: _Tally,
            read: _Read | None = None) -> str:
    """Load, skip or refuse one file (perhaps read and validated ahead); returns what happened, for progress."""
    checksum = read.checksum if read is not None and read.checksum else file_checksum(path=path)
    item = _Delivery(path=path, checksum=checksum, size=path.stat().st_size)
    with warehouse.engine.connect() as conn:
        seen = _loaded_before(conn, source_name, item.checksum)
    if seen:
        _move(path, path.parent.parent / ARCHIVE, item.checksum)
        tally.duplicates += 1
        return "already loaded (same checksum), archived"
    ready = ((read.table, read.prepared) if read is not None and read.table is not None
             and read.prepared is not None else None)
    try:
        if read is not None and read.error is not None:
            raise read.error
        _load_file(warehouse=warehouse, config=config, source_name=source_name, source=source, job=job,
                   dataset=dataset, ctx=ctx, item=item, summary=summary, ready=ready)
    except (FileRejected, FieldMappingError) as exc:
        return _refuse(warehouse=warehouse, config=config, source_name=source_name, item=item, exc=exc,
                       summary=summary, tally=tally)
    _move(path, path.parent.parent / ARCHIVE, item.checksum)
    tally.loaded += 1
    return f"{item.rows_loaded:,} rows loaded, {item.rows_rejected:,} quarantined"


# Small files (a day's ratings) are loaded together: validating 250 rows costs nearly what 50k rows cost.
BATCH_ROWS = 50_000
BATCH_FILES = 400
SMALL_FILE_BYTES = 8 * 1024 * 1024


@dataclass
class _Batch:
    """Small files read and waiting to be loaded together in one transaction."""

    items: list[tuple[_Delivery, RawTable]] = field(default_factory=list)
    rows: int = 0

    def checksums(self) -> set[str]:
        return {item.checksum for item, _ in self.items}


def _batchable(dataset: ModuleType, path: Path) -> bool:
    return (not getattr(dataset, "REPLACES_PERIOD", False) and getattr(dataset, "prepare_file", None) is None
            and path.stat().st_size <= SMALL_FILE_BYTES)


def prepare_batch(dataset: ModuleType, tables: Sequence[tuple[str, RawTable]], *, ctx: Context) -> Prepared:
    """Validate several small files' rows as one frame, each row keeping its file's name as its source."""
    frame = pd.concat([t.frame for _, t in tables], ignore_index=True)
    lines = pd.Series(np.concatenate([np.asarray(t.lines) for _, t in tables]), index=frame.index)
    names = pd.Series(np.repeat([name for name, _ in tables], [len(t.frame) for _, t in tables]),
                      index=frame.index, dtype=object)
    return dataset.prepare(frame, source=names, ctx=ctx, lines=lines)


def _flush(*, warehouse: Warehouse, config: Config, source_name: str, dataset: ModuleType, ctx: Context,
           batch: _Batch, summary: RunSummary, tally: _Tally, ready: _Validated | None = None) -> None:
    """Load a batch of small files in one transaction, then archive them; validated here unless `ready` holds
    these very files validated by the producer."""
    from etl.jobs import load_batch  # local: etl.jobs registers this runner

    if not batch.items:
        return
    if ready is not None and ready.checksums == tuple(item.checksum for item, _ in batch.items):
        prepared = ready.prepared
    else:
        prepared = prepare_batch(dataset, [(i.path.name, t) for i, t in batch.items], ctx=ctx)
    good = prepared.rows["source"].value_counts().to_dict() if not prepared.rows.empty else {}
    bad = prepared.rejects["source"].value_counts().to_dict() if not prepared.rejects.empty else {}
    pairs_by_file = _pairs_by_file(dataset, prepared.rows)
    with warehouse.engine.begin() as conn:
        load_batch(conn, dataset, prepared, summary)
        for item, _table in batch.items:
            item.rows_loaded, item.rows_rejected = int(good.get(item.path.name, 0)), int(bad.get(item.path.name, 0))
            item.pairs = pairs_by_file.get(item.path.name, set())
            _register(conn, source=source_name, item=item, run_id=summary.run_id, status="loaded",
                      tz=config.timezone)
    summary.rows_read += sum(len(t.frame) for _, t in batch.items)
    for item, _table in batch.items:
        _move(item.path, item.path.parent.parent / ARCHIVE, item.checksum)
        tally.loaded += 1
    batch.items.clear()
    batch.rows = 0


@dataclass
class _Read:
    """A small file read ahead of the loader (by the producer process or thread): its checksum, table, or why not."""

    path: Path
    checksum: str | None = None
    table: RawTable | None = None
    error: FileRejected | FieldMappingError | None = None
    alone: bool = False  # loaded as a file of its own, not batched (a county workbook or a big file)
    prepared: Prepared | None = None  # such a file validated whole, when it was small enough to read ahead


@dataclass
class _Validated:
    """A group's readable files (the first of any identical copies), validated together by the producer."""

    checksums: tuple[str, ...]
    prepared: Prepared


@dataclass
class _Group:
    """Files read ahead and handed over together: about one batch, or a single file left to the loader."""

    reads: list[_Read]
    validated: _Validated | None = None


def _validated(reads: Sequence[_Read], *, dataset: ModuleType, ctx: Context) -> _Validated | None:
    """The group's rows validated as the loader would batch them, if they all are new; else the loader validates
    (a file already loaded or a batch the dataset refuses is then handled exactly as before)."""
    fresh: dict[str, _Read] = {}
    for read in reads:
        if read.table is not None and read.checksum is not None:
            fresh.setdefault(read.checksum, read)
    if not fresh:
        return None
    try:
        prepared = prepare_batch(dataset, [(r.path.name, r.table) for r in fresh.values() if r.table is not None],
                                 ctx=ctx)
    except FieldMappingError:
        return None
    return _Validated(checksums=tuple(fresh), prepared=prepared)


READ_AHEAD_FILES = 2  # files read at once by the producer: a workbook's reader process is mostly start-up time


def _read_file(path: Path, *, dataset: ModuleType, job: JobSettings, source: FilesSource) -> _Read:
    """A file's checksum and table, or why it cannot be read; a big file is left to the loader (`alone`), which
    reads it block by block so memory stays flat, and a county workbook is loaded `alone` too."""
    alone = not _batchable(dataset, path)
    if alone and path.stat().st_size > SMALL_FILE_BYTES:
        return _Read(path=path, alone=True)
    read = _Read(path=path, checksum=file_checksum(path=path), alone=alone)
    try:
        read.table = read_table(path, aliases=_aliases(dataset, job.fields), required=dataset.REQUIRED,
                                encoding=source.encoding)
    except (FileRejected, FieldMappingError) as exc:
        read.error = exc
    return read


def _in_order(paths: Sequence[Path], read: Callable[[Path], _Read], *, depth: int) -> Iterator[_Read]:
    """`read` of each path, in order, with up to `depth` files being read at once on threads."""
    with ThreadPoolExecutor(max_workers=depth, thread_name_prefix="inbox-read") as pool:
        pending: deque[Future[_Read]] = deque()
        for path in paths:
            pending.append(pool.submit(read, path))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _read_ahead(paths: Sequence[Path], *, dataset: ModuleType, job: JobSettings, source: FilesSource,
                ctx: Context) -> Iterator[_Group]:
    """Checksum, parse and validate the files in order: small ones handed over about a batch at a time, a file
    loaded alone (a county workbook) by itself; big files are left to the loader, block by block.

    A file at a time, the producer ran one file ahead and then waited while the loader validated and loaded a
    batch of a dozen files: the loader then waited for each of the next batch's files in turn (22 s of 57 for a
    year of ratings). A batch's worth of files per hand-over keeps the producer reading the next batch meanwhile;
    since CSVs are read by Arrow, reading is the smaller half, so the producer validates the batch too.
    """
    group: list[_Read] = []
    rows = 0
    reads = _in_order(paths, lambda path: _read_file(path, dataset=dataset, job=job, source=source),
                      depth=READ_AHEAD_FILES)
    for read in reads:
        if read.alone:
            if group:
                yield _Group(group, _validated(group, dataset=dataset, ctx=ctx))
                group, rows = [], 0
            if read.table is not None:
                try:
                    read.prepared = _prepare(dataset, read.table, source=read.path.name, ctx=ctx)
                except (FileRejected, FieldMappingError) as exc:
                    read.error = exc
            yield _Group([read])
            continue
        group.append(read)
        rows += len(read.table.frame) if read.table is not None else 0
        if rows >= BATCH_ROWS or len(group) >= BATCH_FILES:
            yield _Group(group, _validated(group, dataset=dataset, ctx=ctx))
            group, rows = [], 0
    if group:
        yield _Group(group, _validated(group, dataset=dataset, ctx=ctx))


def _queue(*, warehouse: Warehouse, config: Config, source_name: str, source: FilesSource, job: JobSettings,
           dataset: ModuleType, ctx: Context, path: Path, summary: RunSummary, tally: _Tally,
           batch: _Batch, read: _Read) -> str:
    """Put a small file's table into the batch (or skip or refuse it); the batch loads at the end of its group."""
    item = _Delivery(path=path, checksum=read.checksum or file_checksum(path=path), size=path.stat().st_size)
    with warehouse.engine.connect() as conn:
        seen = _loaded_before(conn, source_name, item.checksum)
    if seen or item.checksum in batch.checksums():
        if not seen:  # the same bytes under another name in this batch: load the first copy, then archive this
            _flush(warehouse=warehouse, config=config, source_name=source_name, dataset=dataset, ctx=ctx,
                   batch=batch, summary=summary, tally=tally)
        _move(path, path.parent.parent / ARCHIVE, item.checksum)
        tally.duplicates += 1
        return "already loaded (same checksum), archived"
    if read.error is not None:
        return _refuse(warehouse=warehouse, config=config, source_name=source_name, item=item, exc=read.error,
                       summary=summary, tally=tally)
    table = read.table
    assert table is not None
    batch.items.append((item, table))
    batch.rows += len(table.frame)
    return "read, waiting for its batch"


def run_files_job(*, warehouse: Warehouse, config: Config, name: str, job: JobSettings, summary: RunSummary,
                  progress: Callable[[str], None] | None) -> None:
    """Load every new file in a source folder: small files together, a big one per file (or 100k-row block)."""
    from etl.jobs import DATASETS, JobError, job_context  # local: etl.jobs registers this runner

    source = config.sources[job.source]
    if not isinstance(source, FilesSource):
        raise JobError(f"jobs.{name}: source {job.source!r} is not a files source")
    folder = config.resolve_path(source.path)
    if not folder.is_dir():
        raise JobError(f"sources.{job.source}.path: folder {folder} does not exist")
    dataset = DATASETS[job.dataset]
    ctx = job_context(warehouse, config, summary.run_id, dataset)
    files = inbox_files(folder=folder, pattern=source.pattern)
    tally = _Tally(total=len(files))
    batch = _Batch()
    flush = dict(warehouse=warehouse, config=config, source_name=job.source, dataset=dataset, ctx=ctx, batch=batch,
                 summary=summary, tally=tally)
    for group in prefetch(_read_ahead(files, dataset=dataset, job=job, source=source, ctx=ctx)):
        for read in group.reads:
            common = dict(warehouse=warehouse, config=config, source_name=job.source, source=source, job=job,
                          dataset=dataset, ctx=ctx, path=read.path, summary=summary, tally=tally)
            if not read.alone:
                outcome = _queue(**common, batch=batch, read=read)
            else:
                _flush(**flush)
                outcome = _handle(**common, read=read)
            if progress:
                rate = summary.rows_read / max(time.perf_counter() - tally.started, 1e-9)
                progress(f"{name}: {read.path.name}: {outcome} — {tally.done}/{tally.total} files "
                         f"({tally.loaded} loaded, {tally.duplicates} duplicate, {tally.failed} failed), "
                         f"{summary.rows_read:,} rows read ({rate:,.0f} rows/s)")
        waiting = bool(batch.items)
        _flush(**flush, ready=group.validated)
        if progress and waiting:
            progress(f"{name}: {tally.done}/{tally.total} files ({tally.loaded} loaded, {tally.duplicates} duplicate, "
                     f"{tally.failed} failed), {summary.rows_read:,} rows read")
