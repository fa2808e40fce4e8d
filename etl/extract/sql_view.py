"""SQL-view extractor: reads a view in another database (any SQLAlchemy URL) incrementally by a cursor column.

Chunks are ordered by (cursor, key) and paged keyset-style: the next chunk starts strictly after the last
(cursor, key) pair read, so rows sharing a cursor value across a chunk boundary are neither skipped nor read
twice, and a row updated mid-run moves behind the position instead of shifting offsets. Memory stays flat: only
one chunk is held at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    column,
    create_engine,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from etl.extract.http_api import SourceError
from models.ops import EtlCursor

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 50_000
CURSOR_SEPARATOR = "|"
CURSOR_MAX_CHARS = EtlCursor.__table__.c.value.type.length or 64  # etl_cursor.value is VARCHAR(64)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a read stands: the last (cursor, key) pair delivered; key None means 'every key at this cursor'."""

    cursor: Any
    key: Any = None


@dataclass(frozen=True, slots=True)
class Batch:
    """One chunk of view rows, where it came from, and the saved-cursor text that resumes after it."""

    frame: pd.DataFrame
    source: str
    first_line: int
    cursor: str


def safe_url(url: str) -> str:
    """The URL with its password masked, fit for logs, errors and provenance."""
    return make_url(url).render_as_string(hide_password=True)


def encode_cursor(position: Position) -> str:
    """Saved-cursor text 'cursor|key', ordered like the position; too long a key degrades to re-reading its ties."""
    stamp = _text(position.cursor)
    full = f"{stamp}{CURSOR_SEPARATOR}{_text(position.key) if position.key is not None else ''}"
    return full if len(full) <= CURSOR_MAX_CHARS else f"{stamp}{CURSOR_SEPARATOR}"


def decode_cursor(value: str | None) -> Position | None:
    """The position a saved cursor stands for; a bare timestamp (no key) re-reads that timestamp's rows."""
    if not value:
        return None
    stamp, _, key = value.partition(CURSOR_SEPARATOR)
    return Position(cursor=stamp, key=key or None)


def _text(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


class SqlViewExtractor:
    """Reads one view of a source database in (cursor, key) order, chunk by chunk."""

    def __init__(self, *, url: str, view: str, cursor_column: str, key_column: str,
                 chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.url, self.view = url, view
        self.cursor_column, self.key_column = cursor_column, key_column
        self.chunk_size = chunk_size
        schema, _, name = view.rpartition(".")
        self._table = table(name, column(cursor_column), column(key_column), schema=schema or None)

    @property
    def where(self) -> str:
        """The view's address for messages and provenance: URL (password hidden) and view name."""
        return f"{safe_url(self.url)}#{self.view}"

    def batches(self, *, since: str | None) -> Iterator[Batch]:
        """Chunks of rows after the saved cursor, each with the cursor text that resumes after its last row."""
        engine = self._engine()
        try:
            with engine.connect() as conn:
                columns, samples = self._probe(conn)
                self._warn_null_cursors(conn)
                position, line = self._resume(since, samples), 1
                while True:
                    rows = self._fetch(conn, position)
                    if not rows:
                        return
                    frame = pd.DataFrame.from_records(rows, columns=columns)
                    last = rows[-1]
                    position = Position(cursor=last[columns.index(self.cursor_column)],
                                        key=last[columns.index(self.key_column)])
                    yield Batch(frame=frame, source=f"{self.where} rows {line}-{line + len(rows) - 1}",
                                first_line=line, cursor=encode_cursor(position))
                    line += len(rows)
                    if len(rows) < self.chunk_size:
                        return
        except SQLAlchemyError as exc:
            raise SourceError(f"{self.where}: reading failed: {_reason(exc)}") from exc
        finally:
            engine.dispose()

    def _engine(self) -> Engine:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database
            if not path or path == ":memory:" or not Path(path).is_file():
                raise SourceError(f"{self.where}: SQLite source file not found: {path or '(none)'}")
        try:
            return create_engine(parsed)
        except (SQLAlchemyError, ImportError) as exc:
            raise SourceError(f"{self.where}: cannot open the source database: {_reason(exc)}") from exc

    def _probe(self, conn: Connection) -> tuple[list[str], tuple[Any, Any]]:
        """The view's columns and one row's (cursor, key) values; a missing view or column is named in the error."""
        view = select(literal_column("*")).select_from(self._table)
        try:
            columns = list(conn.execute(view.limit(0)).keys())
        except SQLAlchemyError as exc:
            raise SourceError(f"{self.where}: view {self.view!r} cannot be read: {_reason(exc)}") from exc
        for role, name in (("cursor column", self.cursor_column), ("key column", self.key_column)):
            if name not in columns:
                raise SourceError(f"{self.where}: view {self.view!r} has no {role} {name!r} "
                                  f"(columns: {', '.join(columns)})")
        sample = conn.execute(view.where(self._table.c[self.cursor_column].is_not(None)).limit(1)).first()
        if sample is None:
            return columns, (None, None)
        return columns, (sample[columns.index(self.cursor_column)], sample[columns.index(self.key_column)])

    def _resume(self, since: str | None, samples: tuple[Any, Any]) -> Position | None:
        """The saved cursor as values of the columns' own types, so it binds against timestamp or integer columns."""
        position = decode_cursor(since)
        if position is None:
            return None
        try:
            return Position(cursor=_like(position.cursor, samples[0]),
                            key=None if position.key is None else _like(position.key, samples[1]))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise SourceError(f"{self.where}: saved cursor {since!r} does not fit the view's "
                              f"{self.cursor_column}/{self.key_column} columns: {exc}") from exc

    def _warn_null_cursors(self, conn: Connection) -> None:
        """Rows without a cursor value can never be read incrementally: say how many, once per run."""
        cur = self._table.c[self.cursor_column]
        n = conn.scalar(select(func.count()).select_from(self._table).where(cur.is_(None)))
        if n:
            log.warning("%s: %d rows have no %s and are not read", self.where, n, self.cursor_column)

    def _fetch(self, conn: Connection, position: Position | None) -> list[tuple]:
        cur, key = self._table.c[self.cursor_column], self._table.c[self.key_column]
        stmt = (select(literal_column("*")).select_from(self._table).where(self._after(position))
                .order_by(cur, key.nulls_first()).limit(self.chunk_size))
        return [tuple(r) for r in conn.execute(stmt)]

    def _after(self, position: Position | None) -> ColumnElement[bool]:
        """Rows strictly after a position: cursor > c, or cursor = c and key > k (written to use a cursor index)."""
        cur, key = self._table.c[self.cursor_column], self._table.c[self.key_column]
        if position is None:
            return cur.is_not(None)
        if position.key is None:  # NULL keys sort first: "after" means every non-NULL key at this cursor
            return and_(cur >= position.cursor, or_(cur > position.cursor, key.is_not(None)))
        return and_(cur >= position.cursor, or_(cur > position.cursor, key > position.key))


def _like(text: str, sample: Any) -> Any:
    """Saved-cursor text as a value of the sample's type (datetime, date, int, Decimal…); text stays text."""
    if sample is None or isinstance(sample, str):
        return text
    if isinstance(sample, dt.datetime):
        return dt.datetime.fromisoformat(text)
    if isinstance(sample, dt.date):
        return dt.date.fromisoformat(text)
    return type(sample)(text)


def _reason(exc: BaseException) -> str:
    """The driver's first message line, without SQLAlchemy's statement dump and background link."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else exc.__class__.__name__
