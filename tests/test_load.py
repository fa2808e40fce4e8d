"""The loader's bulk paths on the real PostgreSQL server: what goes in by COPY comes back exactly."""

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


@pytest.mark.parametrize("path", ["arrow csv", "row by row"])
def test_copy_round_trips_every_value(engine: Engine, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if path == "row by row":
        monkeypatch.setattr(load, "_csv_bytes", lambda frame, columns: None)
    else:
        assert load._csv_bytes(_frame(), ["k", "s", "n", "b", "x"]) is not None  # the fast path is the one taken
    with engine.begin() as conn:
        load._copy_postgres(conn, "t", _frame(), ["k", "s", "n", "b", "x"])
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(text("SELECT k, s, n, b, x FROM t ORDER BY length(k), k"))]
    assert got == _expected()


def test_a_column_arrow_cannot_write_takes_the_row_path() -> None:
    frame = _frame().assign(s=pd.Series([pd.Timestamp("2026-10-08 09:12:05")] * len(TEXTS), dtype=object))
    assert load._csv_bytes(frame, ["k", "s"]) is None
