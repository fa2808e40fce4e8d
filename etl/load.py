"""The loader: the only code that writes facts and dimensions.

A batch keyed by one column (every fact table) is compared with what the warehouse holds by one indexed read of
its keys' current row hashes and months, and only new and changed rows are written. When all of them are new they
go straight into the table: on SQLite by one raw `executemany`, on PostgreSQL by COPY. Otherwise they are staged in
a temporary table the same way and merged with `INSERT .. SELECT .. ON CONFLICT (key) DO UPDATE`. Batches with a
composite key (small dimension-like tables) are staged and merged in SQL. Either way an unchanged row is never
rewritten, and loading the same data twice changes nothing. The (region, month) pairs whose facts changed, before
and after the change, are recorded in `etl_dirty_period` in the same transaction, for the mart refresh.

Fact tables have no foreign keys (see `models.facts`): `check_references` refuses a batch whose region codes or run
id point at nothing, by one query per reference.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, delete, insert, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from etl.parsing import plain_arrow_type
from etl.reasons import reason_text
from models.kpis import span_months
from models.ops import EtlCursor, EtlDirtyPeriod, EtlRejectedRow
from models.schema import Base

Pair = tuple[str, str]


@dataclass
class UpsertResult:
    """What a merge changed: rows inserted, rows updated, and the (region, month) pairs they touch."""

    inserted: int = 0
    updated: int = 0
    touched: set[Pair] = field(default_factory=set)


class DanglingReference(Exception):
    """A batch's code points at no row of the table it refers to: validation let it through, so it is a bug."""


def check_references(*, conn: Connection, frame: pd.DataFrame, references: Mapping[str, tuple[str, str]]) -> None:
    """Refuse a batch whose codes point at nothing: the integrity check of tables written without foreign keys."""
    for column, (parent, key) in references.items():
        if frame.empty or column not in frame.columns:
            continue
        wanted = set(frame[column].dropna().unique().tolist())
        target = Base.metadata.tables[parent].c[key]
        missing = wanted - set(conn.scalars(select(target).where(target.in_(wanted))))
        if missing:
            shown = ", ".join(sorted(map(str, missing))[:5])
            raise DanglingReference(f"{column}: {len(missing)} value(s) not in {parent}.{key}: {shown}")


def _python_rows(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple]:
    """Rows as tuples of plain Python values (None for missing), which every DB-API driver binds."""
    arrays = [frame[c].to_numpy(dtype=object, na_value=None) for c in columns]
    return zip(*arrays, strict=True)


def _insert_sqlite(conn: Connection, table: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """One raw `executemany` of plain inserts: the fastest way into SQLite from Python."""
    marks = ", ".join("?" for _ in columns)
    conn.connection.driver_connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", _python_rows(frame, columns))


def _stage_sqlite(conn: Connection, table: str, stage: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    raw = conn.connection.driver_connection
    raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {', '.join(columns)} FROM main.{table} WHERE 0")
    raw.execute(f"DELETE FROM {stage}")
    _insert_sqlite(conn, stage, frame, columns)


def _stage_postgres(conn: Connection, table: str, stage: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    raw = conn.connection.driver_connection
    cols = ", ".join(columns)
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
                    f"SELECT {cols} FROM {table} WITH NO DATA")
        cur.execute(f"TRUNCATE {stage}")
    _copy_postgres(conn, stage, frame, columns)


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
    period_columns: Sequence[str] = (), period_spans: Sequence[tuple[str, str]] = (),
) -> UpsertResult:
    """Merge a batch on its natural key; unchanged rows (same row_hash) are left untouched.

    `period_spans` names (from, until) period columns of facts that count in every month from one to the month
    before the other, or to the latest month loaded while it is empty (an open case, overdue until completed).
    """
    if frame.empty:
        return UpsertResult()
    if len(key) == 1:
        return _upsert_by_key(conn=conn, table=table, frame=frame, key=key[0], columns=columns,
                              period_columns=period_columns, period_spans=period_spans)
    stage = _stage(conn, table, frame, columns)
    result = _changes(conn, table, stage, key, period_columns)
    if result.inserted or result.updated:
        _merge(conn, table, stage, key, columns)
    if result.touched:
        mark_dirty(conn=conn, fact_table=table, pairs=result.touched)
    _drop_stage(conn, stage)
    return result


def _drop_stage(conn: Connection, stage: str) -> None:
    if conn.dialect.name == "sqlite":  # PostgreSQL drops it at commit; SQLite would keep an old column set
        conn.execute(text(f"DROP TABLE IF EXISTS temp.{stage}"))


def _current_rows(conn: Connection, table: str, key: str, keys: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    """The warehouse's row hash and month columns for the batch's keys, by one indexed read."""
    cols = ", ".join([key, "row_hash", *columns])
    raw = conn.connection.driver_connection
    values = keys.astype(str).tolist()
    if conn.dialect.name == "sqlite":
        sql = f"SELECT {cols} FROM {table} WHERE {key} IN (SELECT value FROM json_each(?))"
        rows = raw.execute(sql, (orjson.dumps(values).decode(),)).fetchall()
    else:  # the keys as one JSON text: psycopg dumped a 10,000-key array in Python (4 s for 1.44M keys)
        with raw.cursor() as cur:
            cur.execute(f"SELECT {cols} FROM {table} WHERE {key} IN (SELECT json_array_elements_text(%s::json))",
                        (orjson.dumps(values).decode(),))
            rows = cur.fetchall()
    return pd.DataFrame.from_records(rows, columns=[key, "row_hash", *columns])


def _pairs_of(frame: pd.DataFrame, period_columns: Sequence[str]) -> set[Pair]:
    out: set[Pair] = set()
    for pcol in period_columns:
        both = frame[["region_code", pcol]].dropna().drop_duplicates()
        out |= set(zip(both["region_code"].astype(str), both[pcol].astype(str), strict=True))
    return out


def _span_pairs(conn: Connection, table: str, frame: pd.DataFrame, spans: Sequence[tuple[str, str]]) -> set[Pair]:
    """(region, month) pairs in which each row counts, from its `from` month to before its `until` month."""
    out: set[Pair] = set()
    if frame.empty:
        return out
    for start, until in spans:
        rows = frame.loc[frame[start].notna(), ["region_code", start, until]]
        if rows.empty:
            continue
        # The latest month loaded, from every row (a case completed on time still says how far the data goes).
        known = [conn.scalar(text(f"SELECT MAX({until}) FROM {table}")), rows[until].dropna().max()]
        latest = max([str(v) for v in known if isinstance(v, str)] or [str(rows[start].max())])
        # Then only rows whose span is not empty count anywhere (a case completed by its due month is never overdue).
        rows = rows.loc[rows[until].isna() | (rows[until] > rows[start]).fillna(False)].drop_duplicates()
        for region, first, end in rows.itertuples(index=False):
            out |= {(str(region), m) for m in span_months(str(first), None if pd.isna(end) else str(end), latest)}
    return out


def _upsert_by_key(*, conn: Connection, table: str, frame: pd.DataFrame, key: str, columns: Sequence[str],
                   period_columns: Sequence[str], period_spans: Sequence[tuple[str, str]]) -> UpsertResult:
    """Write only the batch's new and changed rows, after one indexed read of what the warehouse holds for its keys."""
    months = list(dict.fromkeys([*period_columns, *(c for span in period_spans for c in span)]))
    tracked = ["region_code", *months] if months else []
    current = _current_rows(conn, table, key, frame[key], tracked).set_index(key)
    old_hash = current["row_hash"].reindex(frame[key].astype(str)).to_numpy(dtype=object)
    is_new = pd.isna(old_hash)
    todo_mask = is_new | (old_hash != frame["row_hash"].to_numpy(dtype=object))
    todo = frame.loc[todo_mask]
    result = UpsertResult(inserted=int(is_new.sum()), updated=int(todo_mask.sum() - is_new.sum()))
    if todo.empty:
        return result
    before = current.loc[current.index.isin(todo[key].astype(str))].reset_index()
    if months:
        result.touched = _pairs_of(todo, period_columns) | _pairs_of(before, period_columns)
        result.touched |= _span_pairs(conn, table, todo, period_spans) | _span_pairs(conn, table, before, period_spans)
    if not result.updated:  # every row is new: nothing to merge, so straight into the table
        if conn.dialect.name == "postgresql":
            _copy_postgres(conn, table, todo, columns)
        else:  # binds each value once: 1.44M approval cases took 31 s so, 36 s staged and merged (under cProfile)
            _insert_sqlite(conn, table, todo, columns)
    else:  # staging then one INSERT .. SELECT beats an executemany of upserts on SQLite, whose indexes dominate
        stage = _stage(conn, table, todo, columns)
        _merge(conn, table, stage, [key], columns)
        _drop_stage(conn, stage)
    if result.touched:
        mark_dirty(conn=conn, fact_table=table, pairs=result.touched)
    return result


# COPY gets CSV that Arrow writes this many rows at a time, so the server parses one slice while the next is written.
COPY_SLICE_ROWS = 5_000


def _copy_postgres(conn: Connection, table: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """COPY the rows in as CSV written by Arrow in C, a slice at a time, so the server works meanwhile.

    A row at a time through psycopg, the job took 47-49 s of client CPU for 1.44M approval cases, 42-43 s so; one
    CSV block per batch had left the server idle until it arrived. A frame Arrow cannot take as it is (a column of
    mixed Python types, dates or times, anything nested) goes row by row.
    """
    data = _arrow_rows(frame, columns)
    with conn.connection.driver_connection.cursor() as cur:
        if data is None:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in _python_rows(frame, columns):
                    copy.write_row(row)
            return
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
            for start in range(0, data.num_rows, COPY_SLICE_ROWS):
                sink = io.BytesIO()
                pacsv.write_csv(data.slice(start, COPY_SLICE_ROWS), sink, _CSV_FOR_COPY)
                copy.write(sink.getvalue())


# Every value quoted and NULL left empty: what COPY's CSV format reads as a value, an empty string and NULL.
_CSV_FOR_COPY = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")


def _arrow_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pa.Table | None:
    """The columns as Arrow text, numbers and booleans, which CSV renders as COPY reads them; else None."""
    try:
        data = pa.Table.from_pandas(frame[list(columns)], preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    return data if all(plain_arrow_type(t) for t in data.schema.types) else None


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
