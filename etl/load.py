"""The loader: the only code that writes facts and dimensions.

Each batch is staged in a temporary table (raw `executemany` on SQLite, COPY on PostgreSQL), then merged into the
target with one `INSERT .. SELECT .. ON CONFLICT (key) DO UPDATE .. WHERE row_hash differs`. An unchanged row is
therefore never rewritten, and loading the same data twice changes nothing. The (region, month) pairs whose facts
changed are recorded in `etl_dirty_period` in the same transaction, for the mart refresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, delete, insert, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from etl.reasons import reason_text
from models.ops import EtlCursor, EtlDirtyPeriod, EtlRejectedRow

Pair = tuple[str, str]


@dataclass
class UpsertResult:
    """What a merge changed: rows inserted, rows updated, and the (region, month) pairs they touch."""

    inserted: int = 0
    updated: int = 0
    touched: set[Pair] = field(default_factory=set)


def _python_rows(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple]:
    """Rows as tuples of plain Python values (None for missing), which every DB-API driver binds."""
    arrays = [frame[c].to_numpy(dtype=object, na_value=None) for c in columns]
    return zip(*arrays, strict=True)


def _stage_sqlite(conn: Connection, table: str, stage: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    raw = conn.connection.driver_connection
    cols = ", ".join(columns)
    raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols} FROM main.{table} WHERE 0")
    raw.execute(f"DELETE FROM {stage}")
    marks = ", ".join("?" for _ in columns)
    raw.executemany(f"INSERT INTO {stage} ({cols}) VALUES ({marks})", _python_rows(frame, columns))


def _stage_postgres(conn: Connection, table: str, stage: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    raw = conn.connection.driver_connection
    cols = ", ".join(columns)
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
                    f"SELECT {cols} FROM {table} WITH NO DATA")
        cur.execute(f"TRUNCATE {stage}")
        with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in _python_rows(frame, columns):
                copy.write_row(row)


def _stage(conn: Connection, table: str, frame: pd.DataFrame, columns: Sequence[str]) -> str:
    stage = f"stage_{table}"
    if conn.dialect.name == "sqlite":
        _stage_sqlite(conn, table, stage, frame, columns)
    else:
        _stage_postgres(conn, table, stage, frame, columns)
    return stage


def _changes(conn: Connection, table: str, stage: str, key: Sequence[str],
             period_columns: Sequence[str]) -> UpsertResult:
    """Count new and changed rows, and collect the (region, month) pairs they touch before and after the change."""
    on = " AND ".join(f"t.{k} = s.{k}" for k in key)
    changed = f"t.{key[0]} IS NULL OR t.row_hash <> s.row_hash"
    is_new = f"SUM(CASE WHEN t.{key[0]} IS NULL THEN 1 ELSE 0 END)"
    result = UpsertResult()
    counted = False
    for pcol in period_columns or [None]:
        pairs = f"s.region_code, s.{pcol}, t.region_code, t.{pcol}" if pcol else "NULL, NULL, NULL, NULL"
        group = " GROUP BY 1, 2, 3, 4" if pcol else ""
        sql = f"SELECT {pairs}, {is_new}, COUNT(*) FROM {stage} s LEFT JOIN {table} t ON {on} WHERE {changed}{group}"
        for s_region, s_period, t_region, t_period, n_new, n in conn.execute(text(sql)):
            if not counted:
                result.inserted += int(n_new or 0)
                result.updated += int(n or 0) - int(n_new or 0)
            result.touched |= {(r, p) for r, p in ((s_region, s_period), (t_region, t_period)) if r and p}
        counted = True
    return result


def _merge(conn: Connection, table: str, stage: str, key: Sequence[str], columns: Sequence[str]) -> None:
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    conn.execute(text(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} WHERE true "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} WHERE {table}.row_hash <> excluded.row_hash"
    ))


def upsert_frame(
    *, conn: Connection, table: str, frame: pd.DataFrame, key: Sequence[str], columns: Sequence[str],
    period_columns: Sequence[str] = (),
) -> UpsertResult:
    """Merge a batch on its natural key; unchanged rows (same row_hash) are left untouched."""
    if frame.empty:
        return UpsertResult()
    stage = _stage(conn, table, frame, columns)
    result = _changes(conn, table, stage, key, period_columns)
    if result.inserted or result.updated:
        _merge(conn, table, stage, key, columns)
    if result.touched:
        mark_dirty(conn=conn, fact_table=table, pairs=result.touched)
    if conn.dialect.name == "sqlite":  # PostgreSQL drops it at commit; SQLite would keep an old column set
        conn.execute(text(f"DROP TABLE IF EXISTS temp.{stage}"))
    return result


def _insert_ignore(conn: Connection, model, rows: list[dict]) -> None:  # noqa: ANN001 - a mapped class
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(model).on_conflict_do_nothing(), rows)


def mark_dirty(*, conn: Connection, fact_table: str, pairs: Iterable[Pair]) -> None:
    """Remember that these pairs' marts are stale, in the caller's transaction."""
    rows = [dict(fact_table=fact_table, region_code=r, period=p) for r, p in sorted(pairs)]
    if rows:
        _insert_ignore(conn, EtlDirtyPeriod, rows)


def dirty_pairs(*, conn: Connection) -> dict[str, set[Pair]]:
    """Stale pairs by fact table."""
    out: dict[str, set[Pair]] = {}
    for row in conn.execute(select(EtlDirtyPeriod.fact_table, EtlDirtyPeriod.region_code, EtlDirtyPeriod.period)):
        out.setdefault(row.fact_table, set()).add((row.region_code, row.period))
    return out


def clear_dirty(*, conn: Connection, pending: dict[str, set[Pair]]) -> None:
    """Forget exactly the pairs that were refreshed; a pair marked meanwhile by another run stays pending."""
    key = tuple_(EtlDirtyPeriod.fact_table, EtlDirtyPeriod.region_code, EtlDirtyPeriod.period)
    rows = sorted((table, region, period) for table, pairs in pending.items() for region, period in pairs)
    for i in range(0, len(rows), 500):
        conn.execute(delete(EtlDirtyPeriod).where(key.in_(rows[i:i + 500])))


def _already_quarantined(conn: Connection, dataset: str, raws: list[str]) -> set[tuple[str, str]]:
    """(reason, raw) pairs of this dataset already in quarantine, among the given raw records."""
    r = EtlRejectedRow
    found: set[tuple[str, str]] = set()
    for i in range(0, len(raws), 500):
        stmt = select(r.reason_code, r.raw).where(r.dataset == dataset, r.raw.in_(raws[i:i + 500]))
        found |= {(row.reason_code, row.raw) for row in conn.execute(stmt)}
    return found


def quarantine(*, conn: Connection, run_id: int, dataset: str, rejects: pd.DataFrame) -> int:
    """Store refused rows with their source, line, raw values and reason in both languages.

    A record already in quarantine for the same reason (re-read at a cursor boundary, or delivered again) is not
    stored twice, and the count returned is of the rows newly quarantined, so a rerun reports nothing new.
    """
    if rejects.empty:
        return 0
    known = _already_quarantined(conn, dataset, sorted(set(rejects["raw"])))
    rows = []
    for r in rejects.itertuples(index=False):
        if (r.reason_code, r.raw) in known:
            continue
        known.add((r.reason_code, r.raw))
        zh, en = reason_text(r.reason_code)
        rows.append(dict(run_id=run_id, dataset=dataset, source=r.source, source_line=_int_or_none(r.source_line),
                         reason_code=r.reason_code, reason_zh=zh, reason_en=en, raw=r.raw))
    if rows:
        conn.execute(insert(EtlRejectedRow), rows)
    return len(rows)


def _int_or_none(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def read_cursor(*, conn: Connection, source: str, stream: str) -> str | None:
    """The saved incremental position of a source stream."""
    return conn.scalar(select(EtlCursor.value).where(EtlCursor.source == source, EtlCursor.stream == stream))


def save_cursor(*, conn: Connection, source: str, stream: str, value: str, run_id: int) -> None:
    """Advance a stream's cursor, in the same transaction as the rows it covers."""
    current = read_cursor(conn=conn, source=source, stream=stream)
    if current is None:
        conn.execute(insert(EtlCursor).values(source=source, stream=stream, value=value, run_id=run_id))
    elif value > current:
        conn.execute(EtlCursor.__table__.update()
                     .where(EtlCursor.source == source, EtlCursor.stream == stream)
                     .values(value=value, run_id=run_id))


def now_local(tz: str = "Asia/Shanghai") -> dt.datetime:
    """Wall-clock time in the city's timezone, the warehouse's time convention."""
    return dt.datetime.now(ZoneInfo(tz)).replace(tzinfo=None, microsecond=0)
