"""The hotline slice end to end: a real source database with a view, read incrementally into a real warehouse.

The source is a separate SQLite file (and, in one test, a separate PostgreSQL database with real timestamp
columns); the warehouse runs on both engines. Every expected row below is written out by hand from the fixture.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from etl import jobs
from etl.datasets import hotline
from etl.demo.generator import JINZHONG_UNITS, generate_sources
from etl.extract.http_api import SourceError
from etl.extract.sql_view import Position, SqlViewExtractor, decode_cursor, encode_cursor, safe_url
from etl.jobs import RunSummary, run_job
from etl.sqlview import run_sql_view_job
from models.config import Config, JobSettings, SqlViewSource
from models.db import Warehouse

VIEW_COLS = ["ticket_no", "received_at", "region", "category", "is_business_env", "content", "status", "due_at",
             "closed_at", "callback_at", "resolved", "satisfaction", "reopen_count", "updated_at"]
TIE = "2026-10-07 09:00:00"  # six rows share this updated_at, so chunks of 2 split inside the tie


def _t(no, region, status, received, *, closed=None, cb=None, resolved=None, sat=None, reopen=0, updated=TIE,
       category="城市管理", biz=0, content="反映路灯不亮"):
    return (no, received, region, category, biz, content, status, "2026-10-20 23:59:59", closed, cb, resolved, sat,
            reopen, updated)


GOOD = [
    _t("T1", "140702", "已回访", "2026-10-01 09:00:00", closed="2026-10-05 10:00:00", cb="2026-10-06 11:00:00",
       resolved="已解决", sat="满意", category="营商环境-审批服务", biz=1, content="  反映营业执照办理慢！１２３ ",
       updated="2026-10-06 11:30:00"),
    _t("T2", "太谷", "已办结", "2026-10-02 10:00:00", closed="2026-10-03 16:00:00"),
    _t("T3", "140726", "办理中", "2026-09-30 22:00:00"),
    _t("T4", "平遥县", "待办理", "2026-10-07 08:55:00"),
    _t("T5", "介休", "重办中", "2026-10-01 12:00:00", cb="2026-10-04 10:00:00", resolved="未解决", sat="不满意",
       reopen=1),
    _t("T6", "Yuci", "已回访", "2026-10-02 12:00:00", closed="2026-10-03 12:00:00", cb="2026-10-04 12:00:00",
       resolved="已解决", sat="基本满意", updated="2026-10-04 12:30:00"),
]
BAD = [
    (_t(None, "140702", "办理中", "2026-10-01 09:00:00"), "missing_key"),
    (_t("—", "140702", "办理中", "2026-10-01 09:00:00"), "missing_key"),
    (_t("B2", "阳泉市", "办理中", "2026-10-01 09:00:00"), "unknown_region"),
    (_t("B3", "140702", "办理中", "2026-13-45 25:61:00"), "bad_received_at"),
    (_t("B4", "140702", "已办结", "2026-10-05 09:00:00", closed="2026-10-04 09:00:00"), "closed_before_received"),
    (_t("B5", "140702", "办理中", "2026-10-01 09:00:00", reopen=-1, updated="2026-10-08 10:00:00"), "negative_count"),
    (_t("B6", "140702", "作废", "2026-10-01 09:00:00", updated="2026-10-08 10:00:00"), "unknown_ticket_status"),
    (_t("B7", "140702", "已办结", "2026-10-01 09:00:00", closed="昨天", updated="2026-10-08 10:00:00"),
     "bad_ticket_time"),
    (_t("B8", "140702", "已回访", "2026-10-01 09:00:00", closed="2026-10-02 09:00:00", cb="2026-10-03 09:00:00",
        resolved="已解决", sat="一般", updated="2026-10-08 10:00:00"), "bad_callback_result"),
]
# ticket -> region, status, received_period, closed_at, called_back_at, resolved, satisfaction, reopens, business
EXPECTED = {
    "T1": ("140702", "called_back", "2026-10", "2026-10-05 10:00:00", "2026-10-06 11:00:00", True, "satisfied", 0,
           True),
    "T2": ("140703", "closed", "2026-10", "2026-10-03 16:00:00", None, None, None, 0, False),
    "T3": ("140703", "in_progress", "2026-09", None, None, None, None, 0, False),
    "T4": ("140728", "pending", "2026-10", None, None, None, None, 0, False),
    "T5": ("140781", "reopened", "2026-10", None, "2026-10-04 10:00:00", False, "dissatisfied", 1, False),
    "T6": ("140702", "called_back", "2026-10", "2026-10-03 12:00:00", "2026-10-04 12:00:00", True,
           "basically_satisfied", 0, False),
}
FACT_SQL = ("SELECT ticket_id, region_code, status, received_period, closed_at, called_back_at, resolved, "
            "satisfaction, reopen_count, is_business_env FROM fact_hotline_ticket ORDER BY ticket_id")


def write_source(path: Path, rows: list[tuple]) -> None:
    """A hotline system database: its own table and the view the platform reads."""
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE t_ticket ({', '.join(VIEW_COLS)})")
        db.execute(f"CREATE VIEW v_bizenv_ticket AS SELECT {', '.join(VIEW_COLS)} FROM t_ticket")
        db.executemany(f"INSERT INTO t_ticket VALUES ({', '.join('?' * len(VIEW_COLS))})", rows)
    db.close()


def config_for(config: Config, url: str, view: str = "v_bizenv_ticket") -> Config:
    """The repo config with the hotline source pointed at a test database, and a hotline job."""
    src = SqlViewSource(kind="sql_view", url=url, view=view)
    job = JobSettings(source="hotline_db", dataset="hotline", schedule="*/10 * * * *")
    return config.model_copy(update={"sources": {**config.sources, "hotline_db": src},
                                     "jobs": {**config.jobs, "hotline": job}})


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hotline dataset and the SQL-view runner (chunks of 2, so ties straddle chunk boundaries)."""
    monkeypatch.setitem(jobs.DATASETS, "hotline", hotline)
    monkeypatch.setitem(jobs.RUNNERS, "sql_view", functools.partial(run_sql_view_job, chunk_size=2))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "hotline_source.db"
    write_source(path, GOOD + [row for row, _ in BAD])
    return path


def _rows(wh: Warehouse, sql: str) -> list[tuple]:
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _facts(wh: Warehouse) -> dict[str, tuple]:
    """Fact rows normalised across engines (SQLite 0/1 and text, PostgreSQL booleans and datetimes)."""
    out = {}
    for tid, region, status, period, closed, cb, resolved, sat, reopen, biz in _rows(wh, FACT_SQL):
        out[tid] = (region, status, period, None if closed is None else str(closed), None if cb is None else str(cb),
                    None if resolved is None else bool(resolved), sat, reopen, bool(biz))
    return out


def _run(wh: Warehouse, cfg: Config) -> RunSummary:
    summary = run_job(warehouse=wh, config=cfg, name="hotline")
    assert summary.status == "success", summary.error
    return summary


def test_tickets_load_with_canonical_codes_and_quarantine(
    warehouse: Warehouse, config: Config, registered: None, source: Path
) -> None:
    summary = _run(warehouse, config_for(config, f"sqlite:///{source}"))
    assert (summary.rows_read, summary.rows_inserted, summary.rows_updated, summary.rows_rejected) == (15, 6, 0, 9)
    assert _facts(warehouse) == EXPECTED
    content = _rows(warehouse, "SELECT content FROM fact_hotline_ticket WHERE ticket_id = 'T1'")[0][0]
    assert content == "  反映营业执照办理慢！１２３ "  # the caller's words are kept exactly

    rejects = _rows(warehouse, "SELECT reason_code, reason_zh, reason_en, source, raw FROM etl_rejected_row "
                               "WHERE dataset = 'hotline'")
    assert sorted(r[0] for r in rejects) == sorted(code for _, code in BAD)
    b4 = next(r for r in rejects if r[0] == "closed_before_received")
    assert b4[1:3] == ("办结时间早于来电时间", "closed before received")
    assert f"{source}#v_bizenv_ticket rows " in b4[3] and '"B4"' in b4[4]
    cursor = _rows(warehouse, "SELECT source, stream, value FROM etl_cursor")
    assert cursor == [("hotline_db", "v_bizenv_ticket", "2026-10-08 10:00:00|B8")]


def test_state_changes_update_in_place_and_reruns_change_nothing(
    warehouse: Warehouse, config: Config, registered: None, source: Path
) -> None:
    cfg = config_for(config, f"sqlite:///{source}")
    first = _run(warehouse, cfg)
    with sqlite3.connect(source) as db:
        db.execute("UPDATE t_ticket SET status = '已办结', closed_at = '2026-10-09 15:00:00', "
                   "updated_at = '2026-10-09 15:00:00' WHERE ticket_no = 'T3'")
        db.execute("UPDATE t_ticket SET status = '已回访', closed_at = '2026-10-09 10:00:00', "
                   "callback_at = '2026-10-10 09:00:00', resolved = '已解决', satisfaction = '满意', "
                   "updated_at = '2026-10-10 09:00:00' WHERE ticket_no = 'T4'")
        db.execute("UPDATE t_ticket SET status = '重办中', reopen_count = 1, closed_at = NULL, "
                   "updated_at = '2026-10-10 09:00:00' WHERE ticket_no = 'T2'")
        db.execute("UPDATE t_ticket SET updated_at = '2026-10-10 09:00:00' WHERE ticket_no = 'T6'")  # touched only
    db.close()
    second = _run(warehouse, cfg)
    assert (second.rows_read, second.rows_inserted, second.rows_updated, second.rows_rejected) == (4, 0, 3, 0)
    expected = dict(EXPECTED)
    expected["T3"] = ("140703", "closed", "2026-09", "2026-10-09 15:00:00", None, None, None, 0, False)
    expected["T4"] = ("140728", "called_back", "2026-10", "2026-10-09 10:00:00", "2026-10-10 09:00:00", True,
                      "satisfied", 0, False)
    expected["T2"] = ("140703", "reopened", "2026-10", None, None, None, None, 1, False)
    assert _facts(warehouse) == expected
    runs = dict(_rows(warehouse, "SELECT ticket_id, etl_run_id FROM fact_hotline_ticket"))
    assert {t for t, r in runs.items() if r == second.run_id} == {"T2", "T3", "T4"}  # T6's content did not change
    assert runs["T1"] == first.run_id

    snapshot = _rows(warehouse, "SELECT * FROM fact_hotline_ticket ORDER BY ticket_id")
    third = _run(warehouse, cfg)
    assert (third.rows_read, third.rows_loaded) == (0, 0)
    with warehouse.engine.begin() as conn:  # forget the cursor: everything is re-read, nothing is rewritten
        conn.execute(text("DELETE FROM etl_cursor"))
    fourth = _run(warehouse, cfg)
    assert (fourth.rows_read, fourth.rows_loaded) == (15, 0)
    assert _rows(warehouse, "SELECT * FROM fact_hotline_ticket ORDER BY ticket_id") == snapshot


@pytest.mark.parametrize("chunk", [1, 2, 3, 50_000])
def test_ties_across_chunks_are_neither_skipped_nor_repeated(source: Path, chunk: int) -> None:
    def extractor() -> SqlViewExtractor:
        return SqlViewExtractor(url=f"sqlite:///{source}", view="v_bizenv_ticket", cursor_column="updated_at",
                                key_column="ticket_no", chunk_size=chunk)

    with sqlite3.connect(source) as db:
        expected = [r[0] for r in db.execute("SELECT ticket_no FROM t_ticket WHERE updated_at IS NOT NULL "
                                             "ORDER BY updated_at, ticket_no NULLS FIRST")]
    db.close()
    batches = list(extractor().batches(since=None))
    keys = [None if pd.isna(k) else k for b in batches for k in b.frame["ticket_no"].tolist()]
    assert keys == expected and len(keys) == 15
    assert all(len(b.frame) <= chunk for b in batches)
    # Resume after each chunk's saved cursor: exactly the rest follows, whatever the boundary.
    seen = 0
    for b in batches[:-1]:
        seen += len(b.frame)
        rest = [None if pd.isna(k) else k
                for nb in extractor().batches(since=b.cursor) for k in nb.frame["ticket_no"].tolist()]
        assert rest == expected[seen:], b.cursor


def test_integer_keys_resume_by_value_not_by_text(tmp_path: Path) -> None:
    path = tmp_path / "int_keys.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER, updated_at TEXT)")
        db.execute("CREATE VIEW v AS SELECT id, updated_at FROM t")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(i, TIE) for i in range(1, 13)])
    db.close()
    ex = SqlViewExtractor(url=f"sqlite:///{path}", view="v", cursor_column="updated_at", key_column="id",
                          chunk_size=5)
    first = next(iter(ex.batches(since=None)))
    assert first.cursor == f"{TIE}|5"
    rest = [k for b in ex.batches(since=first.cursor) for k in b.frame["id"].tolist()]
    assert rest == list(range(6, 13))  # 6..12: '10' as text would sort before '5' and skip them


def test_cursor_text_round_trips_and_never_overflows() -> None:
    pos = Position(cursor="2026-10-07 09:00:00", key="JZ1234520261007000001")
    assert decode_cursor(encode_cursor(pos)) == pos
    long_key = Position(cursor="2026-10-07 09:00:00", key="K" * 80)
    assert encode_cursor(long_key) == "2026-10-07 09:00:00|"  # re-reads that second's ties: safe, never skips
    assert decode_cursor("2026-10-07 09:00:00|") == Position(cursor="2026-10-07 09:00:00", key=None)
    assert "secret" not in safe_url("postgresql+psycopg://etl:secret@db.example/hotline")


@pytest.mark.parametrize(("view", "cursor", "expect"), [
    ("v_missing", "updated_at", "view 'v_missing' cannot be read"),
    ("v_bizenv_ticket", "gxsj", "no cursor column 'gxsj'"),
])
def test_missing_view_or_column_names_url_view_and_column(source: Path, view: str, cursor: str, expect: str) -> None:
    ex = SqlViewExtractor(url=f"sqlite:///{source}", view=view, cursor_column=cursor, key_column="ticket_no")
    with pytest.raises(SourceError) as err:
        list(ex.batches(since=None))
    assert f"sqlite:///{source}#{view}" in str(err.value) and expect in str(err.value)
    missing = SqlViewExtractor(url=f"sqlite:///{source}.nope", view=view, cursor_column=cursor,
                               key_column="ticket_no")
    with pytest.raises(SourceError, match="SQLite source file not found"):
        list(missing.batches(since=None))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "sources"
    manifest = generate_sources(out_dir=out, units=JINZHONG_UNITS, start_month="2026-08", end_month="2026-10",
                                scale=0.01)
    return out / manifest["paths"]["hotline_db"], manifest


def test_demo_hotline_loads_with_rejects_equal_to_manifest(
    warehouse: Warehouse, config: Config, monkeypatch: pytest.MonkeyPatch, demo: tuple[Path, dict]
) -> None:
    db, manifest = demo
    monkeypatch.setitem(jobs.DATASETS, "hotline", hotline)
    monkeypatch.setitem(jobs.RUNNERS, "sql_view", functools.partial(run_sql_view_job, chunk_size=300))
    summary = _run(warehouse, config_for(config, f"sqlite:///{db}"))
    bad = manifest["bad_rows"]["hotline"]
    total = manifest["counts"]["hotline_tickets"]
    assert sum(bad.values()) > 0
    assert (summary.rows_read, summary.rows_rejected) == (total, sum(bad.values()))
    assert summary.rows_inserted == total - sum(bad.values())
    by_reason = dict(_rows(warehouse, "SELECT reason_code, COUNT(*) FROM etl_rejected_row GROUP BY reason_code"))
    assert by_reason == {k: v for k, v in {"closed_before_received": bad["closed_before_received"],
                                           "unknown_region": bad["unknown_region"],
                                           "negative_count": bad["negative_reopen_count"]}.items() if v}
    retired = _rows(warehouse, "SELECT COUNT(*) FROM fact_hotline_ticket WHERE region_code = '140726'")
    assert retired == [(0,)]


@pytest.fixture
def pg_source(postgres_admin_url: str) -> Iterator[str]:
    """A hotline database on PostgreSQL, with real timestamp and integer columns behind the view."""
    from tests.conftest import create_pg_database, drop_pg_database

    name, url = create_pg_database(postgres_admin_url)
    engine = create_engine(url)
    types = {"received_at": "timestamp", "due_at": "timestamp", "closed_at": "timestamp",
             "callback_at": "timestamp", "updated_at": "timestamp", "is_business_env": "integer",
             "reopen_count": "integer"}
    cols = ", ".join(f"{c} {types.get(c, 'text')}" for c in VIEW_COLS)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE t_ticket ({cols})"))
        conn.execute(text("CREATE SCHEMA hotline"))
        conn.execute(text(f"CREATE VIEW hotline.v_bizenv_ticket AS SELECT {', '.join(VIEW_COLS)} FROM t_ticket"))
        conn.execute(text(f"INSERT INTO t_ticket VALUES ({', '.join(':' + c for c in VIEW_COLS)})"),
                     [dict(zip(VIEW_COLS, r, strict=True)) for r in GOOD])
    engine.dispose()
    try:
        yield url
    finally:
        drop_pg_database(postgres_admin_url, name)


def test_postgresql_source_view_with_timestamp_columns(
    warehouse: Warehouse, config: Config, registered: None, pg_source: str
) -> None:
    cfg = config_for(config, pg_source, view="hotline.v_bizenv_ticket")
    summary = _run(warehouse, cfg)
    assert (summary.rows_read, summary.rows_inserted, summary.rows_rejected) == (6, 6, 0)
    assert _facts(warehouse) == EXPECTED
    again = _run(warehouse, cfg)  # the saved text cursor binds against the timestamp column
    assert (again.rows_read, again.rows_loaded) == (0, 0)
