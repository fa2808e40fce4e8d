"""The loader's PostgreSQL paths on the real server: what goes in by COPY comes back exactly, and the changed-rows
read finds a batch's keys."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from etl import load
from tests.conftest import create_pg_database, drop_pg_database

# Text a source may hold: CSV's own quote, separator and line break, an empty string (not NULL), backslashes
# (COPY's text format escape), CJK beyond the BMP, and the word NULL.
TEXTS = ['plain', 'say "hi"', "a,b", "two\nlines", "", None, "C:\\dir\\n", "生僻字𠀀", "NULL", " padded "]


@pytest.fixture
def engine(postgres_admin_url: str) -> Iterator[Engine]:
    name, url = create_pg_database(postgres_admin_url)
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY, s TEXT, n BIGINT, b BOOLEAN, x DOUBLE PRECISION)"))
    try:
        yield eng
    finally:
        eng.dispose()
        drop_pg_database(postgres_admin_url, name)


def _frame() -> pd.DataFrame:
    n = len(TEXTS)
    return pd.DataFrame({
        "k": pd.array([f"k{i}" for i in range(n)], dtype="string[pyarrow]"),
        "s": pd.array(TEXTS, dtype="string[pyarrow]"),
        "n": pd.array([None if i == 3 else i * 10**12 - 7 for i in range(n)], dtype="Int64"),
        "b": [i % 2 for i in range(n)],  # booleans arrive as 0/1, as the datasets shape them
        "x": pd.array([None if i == 4 else i / 3 for i in range(n)], dtype="Float64"),
    })


def _expected() -> list[tuple]:
    n = len(TEXTS)
    return [(f"k{i}", TEXTS[i], None if i == 3 else i * 10**12 - 7, bool(i % 2), None if i == 4 else i / 3)
            for i in range(n)]


def test_copy_round_trips_every_value(engine: Engine) -> None:
    with engine.begin() as conn:
        load._copy_postgres(conn, "t", _frame(), ["k", "s", "n", "b", "x"])
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(text("SELECT k, s, n, b, x FROM t ORDER BY length(k), k"))]
    assert got == _expected()


def test_current_rows_reads_the_batch_keys_from_json(engine: Engine) -> None:
    """The changed-rows read passes the batch's keys as one JSON text; keys with quotes and CJK come back."""
    with engine.begin() as conn:
        load._copy_postgres(conn, "t", _frame(), ["k", "s", "n", "b", "x"])
        conn.execute(text("ALTER TABLE t ADD COLUMN row_hash TEXT"))
        conn.execute(text("UPDATE t SET row_hash = 'h' || k, k = CASE k WHEN 'k1' THEN 'k1 \"引号\"' ELSE k END"))
        keys = pd.Series(['k1 "引号"', "k2", "missing", "k9"])
        got = load._current_rows(conn, "t", "k", keys, ["n"])
    assert sorted(map(tuple, got.itertuples(index=False))) == [
        ('k1 "引号"', 'hk1', 10**12 - 7), ("k2", "hk2", 2 * 10**12 - 7), ("k9", "hk9", 9 * 10**12 - 7)]


def test_overdue_spans_end_at_the_latest_month_any_row_shows(tmp_path) -> None:  # noqa: ANN001 - pytest's path
    """An open case due next month is overdue in no month yet: the latest month loaded is the one the batch's
    completed cases show, even when they were completed on time (by hand: only the late and open ones count)."""
    eng = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE f (k TEXT, due_period TEXT, completed_period TEXT)"))
        frame = pd.DataFrame({
            "region_code": ["A", "A", "B", "B"],
            "due_period": ["2026-11", "2026-12", "2026-09", "2026-10"],
            "completed_period": ["2026-11", None, "2026-10", None],  # on time; open, not due; late; open, overdue
        }, dtype="string[pyarrow]")
        got = load._span_pairs(conn, "f", frame, [("due_period", "completed_period")])
        # Beside only the case completed on time in 2026-11, the open case due 2026-12 counts nowhere: the data
        # reaches 2026-11, and no month after it is stale.
        alone = load._span_pairs(conn, "f", frame.iloc[[0, 1]], [("due_period", "completed_period")])
    assert got == {("B", "2026-09"), ("B", "2026-10"), ("B", "2026-11")}
    assert alone == set()
