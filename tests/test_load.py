"""The loader: what goes in by COPY comes back exactly, the changed-rows read finds a batch's keys, overdue spans
end where the data does, and a batch pointing at no region or run is refused whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from etl import load
from etl.datasets import ratings
from etl.datasets.base import Prepared
from etl.jobs import RunSummary, load_batch
from models.db import Warehouse
from models.ops import EtlRun
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


@pytest.mark.parametrize("way", ["arrow csv", "row by row"])
def test_copy_round_trips_every_value(engine: Engine, monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    if way == "arrow csv":
        monkeypatch.setattr(load, "COPY_SLICE_ROWS", 3)  # several slices, one of them short
        assert load._arrow_rows(_frame(), ["k", "s", "n", "b", "x"]) is not None
    else:
        monkeypatch.setattr(load, "_arrow_rows", lambda frame, columns: None)
    with engine.begin() as conn:
        load._copy_postgres(conn, "t", _frame(), ["k", "s", "n", "b", "x"])
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(text("SELECT k, s, n, b, x FROM t ORDER BY length(k), k"))]
    assert got == _expected()


def test_a_column_of_mixed_python_values_goes_row_by_row(engine: Engine) -> None:
    frame = pd.DataFrame({"k": ["a", "b"], "s": ["x", "y"], "n": [1, "2"]})  # "2" as text beside a number
    assert load._arrow_rows(frame, ["k", "s", "n"]) is None
    with engine.begin() as conn:
        load._copy_postgres(conn, "t", frame, ["k", "s", "n"])
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(text("SELECT k, s, n FROM t ORDER BY k"))]
    assert got == [("a", "x", 1), ("b", "y", 2)]


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


def _ratings(run_id: int, regions: list[str]) -> pd.DataFrame:
    n = len(regions)
    return pd.DataFrame({
        "rating_id": [f"r{i}" for i in range(n)], "case_id": None, "region_code": regions, "channel": "pc",
        "rated_at": "2026-10-08 09:12:00", "rated_period": "2026-10", "level": 5, "comment": None, "verified_bad": 0,
        "rectify_status": None, "rectified_at": None, "rectify_working_days": None,
        "row_hash": [f"h{i}" for i in range(n)], "etl_run_id": run_id, "source": "hcp.csv",
        "source_line": range(2, n + 2)})


def test_a_batch_pointing_at_no_region_or_run_is_refused_whole(warehouse: Warehouse) -> None:
    """Fact tables have no foreign keys: the loader's own check refuses a batch whose region or run points at nothing,
    inside the batch's transaction, so none of its rows is written; a batch of good codes loads."""
    with warehouse.engine.begin() as conn:
        run_id = conn.execute(EtlRun.__table__.insert().values(
            job="ratings", trigger="test", started_at=dt.datetime(2026, 10, 9), status="running", rows_read=0,
            rows_inserted=0, rows_updated=0, rows_rejected=0)).inserted_primary_key[0]
    summary = RunSummary(run_id=run_id, job="ratings", status="running")
    bad = [(_ratings(run_id, ["140702", "149999", "140702", "X1"]),
            r"region_code: 2 value\(s\) not in dim_region.code: 149999, X1"),
           (_ratings(run_id + 1000, ["140702"]), rf"etl_run_id: 1 value\(s\) not in etl_run.id: {run_id + 1000}$")]
    for frame, message in bad:
        with pytest.raises(load.DanglingReference, match=message), warehouse.engine.begin() as conn:
            load_batch(conn, ratings, Prepared(rows=frame, rejects=pd.DataFrame()), summary)
        with warehouse.engine.connect() as conn:
            assert conn.scalar(text("SELECT COUNT(*) FROM fact_rating")) == 0
    with warehouse.engine.begin() as conn:
        load_batch(conn, ratings, Prepared(rows=_ratings(run_id, ["140702", "140781"]), rejects=pd.DataFrame()),
                   summary)
    with warehouse.engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(text("SELECT rating_id, region_code FROM fact_rating ORDER BY 1"))]
    assert got == [("r0", "140702"), ("r1", "140781")]
    assert summary.rows_inserted == 2
