"""The approvals slice end to end on a hand-made platform: real HTTP on loopback, real warehouse on both engines.

Every expected number below is worked out by hand from the fixture rows, over the 2026 Spring Festival
(15-23 Feb off, Saturdays 14 and 28 Feb worked).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from etl.demo.approval_api import serve_in_thread
from etl.jobs import run_job
from models.config import Config
from models.db import Warehouse

ITEM_COLS = ["SXBM", "SXMC", "SSBMBM", "SSBMMC", "FDSX", "CNSX", "SFJBJ", "GXSJ"]
CASE_COLS = ["SBLSH", "SXBM", "SXMC", "XZQHDM", "SLBMBM", "SLBMMC", "SBQD", "SBSJ", "SLSJ", "BJSJ", "BJZT", "ZTTS",
             "CNSX", "FDSX", "PDCS", "SFQCWB", "GXSJ"]
ITEMS = [
    ("I1", "企业设立登记", "SCJGJ", "市场监督管理局", 3, 1, "0", "2026-01-01 08:00:00"),
    ("I2", "食品经营许可", "SCJGJ", "市场监督管理局", 20, 5, "0", "2026-01-01 08:00:00"),
    ("I3", "居民身份证换领", "GAJ", "公安局", 0, 0, "1", "2026-01-02 08:00:00"),
    ("I4", "错误时限事项", "GAJ", "公安局", 5, 10, "0", "2026-01-03 08:00:00"),  # promised > statutory
]


def _case(cid, item, region, accepted, completed, status="已办结", ztts=0, cnsx=5, fdsx=20, pdcs=1, updated=None):
    return (cid, item, "事项", region, "SCJGJ", "市场监督管理局", "窗口办理", accepted, accepted, completed, status,
            ztts, cnsx, fdsx, pdcs, "0", updated)


GOOD = [
    # id, item, region, accepted, completed -> working days (hand count), on time?
    _case("C1", "I2", "140702", "2026-02-13 09:00:00", "2026-02-24 10:00:00", updated="2026-03-05 10:00:00"),  # 2, yes
    _case("C2", "I2", "140702", "2026-02-13 09:00:00", "2026-03-02 10:00:00", updated="2026-03-05 10:00:01"),  # 7, no
    _case("C3", "I1", "140726", "2026-02-24 09:00:00", "2026-02-26 16:00:00", cnsx=1, fdsx=3,
          updated="2026-03-05 10:00:01"),  # retired code -> 140703; 2 > 1, late
    _case("C4", "I3", "平遥县", "2026-02-27 09:00:00", "2026-02-27 09:30:00", cnsx=0, fdsx=0,
          updated="2026-03-05 10:00:02"),  # name -> 140728; 0 <= 0
    _case("C5", "I2", "140728", "2026-02-10 09:00:00", "2026-03-03 11:00:00", ztts=3,
          updated="2026-03-05 10:00:03"),  # 11 - 3 suspended = 8 > 5
    _case("C6", "I2", "140702", "2026-03-02 09:00:00", None, status="在办", updated="2026-03-05 10:00:04"),
    _case("C7", "X999", "介休", "2026-02-02 09:00:00", "2026-02-04 09:00:00", cnsx=3,
          updated="2026-03-05 10:00:05"),  # unknown item, short name -> 140781; 2 <= 3
]
BAD = [
    (_case("B1", "I2", "140702", "2026-02-10 09:00:00", "2026-02-09 09:00:00", updated="2026-03-05 10:00:06"),
     "completed_before_accepted"),
    (_case("B2", "I2", "140799", "2026-02-10 09:00:00", "2026-02-11 09:00:00", updated="2026-03-05 10:00:06"),
     "unknown_region"),
    (_case("B3", "I2", "140702", "2026-13-45 25:61:00", "2026-02-11 09:00:00", updated="2026-03-05 10:00:07"),
     "bad_accepted_at"),
    (_case("B4", "I2", "140702", "2026-02-10 09:00:00", "2026-02-11 09:00:00", pdcs=-1, updated="2026-03-05 10:00:08"),
     "negative_count"),
    (_case("", "I2", "140702", "2026-02-10 09:00:00", "2026-02-11 09:00:00", updated="2026-03-05 10:00:09"),
     "missing_key"),
    (_case("B6", "I2", "140702", "2026-02-10 09:00:00", None, updated="2026-03-05 10:00:10"),
     "completed_without_time"),
]
TAIL = [_case("C8", "I1", "140702", "2026-03-04 09:00:00", None, status="补正中", cnsx=1, fdsx=3,
              updated="2026-03-06 09:00:00")]

EXPECTED_WORKING_DAYS = {"C1": 2, "C2": 7, "C3": 2, "C4": 0, "C5": 8, "C6": None, "C7": 2, "C8": None}
EXPECTED_REGION = {"C1": "140702", "C2": "140702", "C3": "140703", "C4": "140728", "C5": "140728", "C6": "140702",
                   "C7": "140781", "C8": "140702"}
# (region, period) -> (avg working days, on-time rate, n)
EXPECTED_MARTS = {
    ("140702", "2026-02"): (2.0, 1.0, 1), ("140703", "2026-02"): (2.0, 0.0, 1),
    ("140728", "2026-02"): (0.0, 1.0, 1), ("140781", "2026-02"): (2.0, 1.0, 1),
    ("140700", "2026-02"): (1.5, 0.75, 4),
    ("140702", "2026-03"): (7.0, 0.0, 1), ("140728", "2026-03"): (8.0, 0.0, 1),
    ("140700", "2026-03"): (7.5, 0.0, 2),
}


def _write_platform(path: Path, cases: list[tuple]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE items ({', '.join(ITEM_COLS)})")
        db.execute(f"CREATE TABLE cases ({', '.join(CASE_COLS)})")
        db.executemany(f"INSERT INTO items VALUES ({', '.join('?' * len(ITEM_COLS))})", ITEMS)
        db.executemany(f"INSERT INTO cases VALUES ({', '.join('?' * len(CASE_COLS))})", cases)


@pytest.fixture
def platform(tmp_path: Path) -> Path:
    path = tmp_path / "platform.db"
    _write_platform(path, GOOD + [row for row, _ in BAD] + TAIL)
    return path


@pytest.fixture
def api(platform: Path) -> Iterator[str]:
    server, url = serve_in_thread(db_path=platform)
    try:
        yield url
    finally:
        server.shutdown()


def _config_for(config: Config, url: str, page_size: int = 3) -> Config:
    src = config.sources["approval_api"].model_copy(update={"base_url": url, "page_size": page_size,
                                                            "max_retries": 2})
    return config.model_copy(update={"sources": {**config.sources, "approval_api": src}})


def _table(wh: Warehouse, sql: str) -> list[tuple]:
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _run_both(wh: Warehouse, cfg: Config) -> tuple:
    return (run_job(warehouse=wh, config=cfg, name="catalogue"), run_job(warehouse=wh, config=cfg, name="approvals"))


def test_cases_load_with_working_days_regions_and_quarantine(warehouse: Warehouse, config: Config, api: str) -> None:
    cfg = _config_for(config, api)
    catalogue, approvals = _run_both(warehouse, cfg)
    assert (catalogue.status, catalogue.rows_inserted, catalogue.rows_rejected) == ("success", 3, 1)
    assert approvals.status == "success", approvals.error
    assert (approvals.rows_read, approvals.rows_inserted, approvals.rows_rejected) == (14, 8, 6)

    rows = _table(warehouse, "SELECT case_id, region_code, working_days, item_known, completed_period, status "
                             "FROM fact_approval_case ORDER BY case_id")
    assert {r[0]: r[2] for r in rows} == EXPECTED_WORKING_DAYS
    assert {r[0]: r[1] for r in rows} == EXPECTED_REGION
    assert {r[0] for r in rows if not r[3]} == {"C7"}
    assert {r[0]: r[5] for r in rows}["C8"] == "suspended"

    rejects = _table(warehouse, "SELECT reason_code, reason_zh, source, source_line, raw FROM etl_rejected_row "
                                "WHERE dataset = 'approvals'")
    assert sorted(r[0] for r in rejects) == sorted(code for _, code in BAD)
    b1 = next(r for r in rejects if r[0] == "completed_before_accepted")
    assert b1[1] == "办结时间早于受理时间" and "/api/v1/cases" in b1[2] and b1[3] >= 1 and '"B1"' in b1[4]
    item_reject = _table(warehouse, "SELECT reason_code, raw FROM etl_rejected_row WHERE dataset = 'service_items'")
    assert item_reject[0][0] == "bad_limit" and '"I4"' in item_reject[0][1]

    provenance = _table(warehouse, "SELECT DISTINCT etl_run_id FROM fact_approval_case")
    assert provenance == [(approvals.run_id,)]


def test_marts_equal_hand_computed_values(warehouse: Warehouse, config: Config, api: str) -> None:
    _run_both(warehouse, _config_for(config, api))
    marts = _table(warehouse, "SELECT region_code, period, kpi_code, value, sample_size FROM mart_kpi_monthly")
    got: dict[tuple[str, str], dict[str, tuple[float, int]]] = {}
    for region, period, kpi, value, n in marts:
        got.setdefault((region, period), {})[kpi] = (value, n)
    assert set(got) == set(EXPECTED_MARTS)
    for pair, (avg, rate, n) in EXPECTED_MARTS.items():
        assert got[pair]["avg_processing_days"] == (pytest.approx(avg), n), pair
        assert got[pair]["on_time_rate"] == (pytest.approx(rate), n), pair


def test_second_run_changes_nothing(warehouse: Warehouse, config: Config, api: str) -> None:
    cfg = _config_for(config, api)
    _run_both(warehouse, cfg)
    snapshot = {t: _table(warehouse, f"SELECT * FROM {t} ORDER BY 1, 2, 3")
                for t in ("fact_approval_case", "dim_service_item", "dim_department", "mart_kpi_monthly",
                          "dim_region", "dim_calendar")}
    catalogue, approvals = _run_both(warehouse, cfg)
    assert approvals.status == "success"
    assert (approvals.rows_inserted, approvals.rows_updated) == (0, 0)
    assert (catalogue.rows_inserted, catalogue.rows_updated) == (0, 0)
    for table, before in snapshot.items():
        assert _table(warehouse, f"SELECT * FROM {table} ORDER BY 1, 2, 3") == before, table


def test_updated_case_is_replaced_and_only_its_month_refreshed(
    warehouse: Warehouse, config: Config, platform: Path, api: str
) -> None:
    cfg = _config_for(config, api)
    _run_both(warehouse, cfg)
    feb_before = _table(warehouse, "SELECT * FROM mart_kpi_monthly WHERE period = '2026-02' ORDER BY 1, 2, 3")
    with sqlite3.connect(platform) as db:  # C6 is completed on Thu 5 Mar: 3 working days (3, 4, 5 Mar) <= 5
        db.execute("UPDATE cases SET BJZT = '已办结', BJSJ = '2026-03-05 15:00:00', GXSJ = '2026-03-06 10:00:00' "
                   "WHERE SBLSH = 'C6'")
    summary = run_job(warehouse=warehouse, config=cfg, name="approvals")
    assert (summary.rows_inserted, summary.rows_updated) == (0, 1)
    assert _table(warehouse, "SELECT working_days, status FROM fact_approval_case WHERE case_id = 'C6'") == [
        (3, "completed")]
    mar = dict(((r[0], r[1]), r[2]) for r in _table(
        warehouse, "SELECT region_code, kpi_code, value FROM mart_kpi_monthly WHERE period = '2026-03'"))
    assert mar[("140702", "avg_processing_days")] == pytest.approx((7 + 3) / 2)
    assert mar[("140702", "on_time_rate")] == pytest.approx(0.5)
    assert mar[("140700", "on_time_rate")] == pytest.approx(1 / 3)
    assert _table(warehouse, "SELECT * FROM mart_kpi_monthly WHERE period = '2026-02' ORDER BY 1, 2, 3") == feb_before


def test_open_overdue_case_refreshes_every_month_it_is_overdue_in_and_equals_a_rebuild(
    warehouse: Warehouse, config: Config, platform: Path, api: str
) -> None:
    from models.kpis import rebuild_kpi_marts

    cfg = _config_for(config, api)
    _run_both(warehouse, cfg)
    assert not _table(warehouse, "SELECT 1 FROM mart_kpi_monthly WHERE region_code = '140703' AND period = '2026-03'")
    with sqlite3.connect(platform) as db:  # accepted Tue 24 Feb, 1 working day promised: due Wed 25 Feb, still open
        db.execute(f"INSERT INTO cases VALUES ({', '.join('?' * len(CASE_COLS))})",
                   _case("C9", "I1", "140703", "2026-02-24 09:00:00", None, status="在办", cnsx=1, fdsx=3,
                         updated="2026-03-07 09:00:00"))
    summary = run_job(warehouse=warehouse, config=cfg, name="approvals")
    assert (summary.rows_inserted, summary.rows_updated) == (1, 0)
    overdue = dict(((r[0], r[1]), (r[2], r[3])) for r in _table(
        warehouse, "SELECT region_code, period, value, sample_size FROM mart_kpi_monthly "
                   "WHERE kpi_code = 'overdue_rate' AND region_code = '140703'"))
    # Feb: C3 completed late plus C9 open past due at the month end, of 2 cases due; Mar: C9 alone, still open.
    assert overdue == {("140703", "2026-02"): (pytest.approx(1.0), 2), ("140703", "2026-03"): (pytest.approx(1.0), 1)}
    incremental = _table(warehouse, "SELECT region_code, period, kpi_code, value, sample_size FROM mart_kpi_monthly "
                                    "ORDER BY 1, 2, 3")
    with warehouse.engine.begin() as conn:
        rebuild_kpi_marts(conn=conn, config=cfg)
    rebuilt = _table(warehouse, "SELECT region_code, period, kpi_code, value, sample_size FROM mart_kpi_monthly "
                                "ORDER BY 1, 2, 3")
    assert [r[:3] for r in incremental] == [r[:3] for r in rebuilt]
    for a, b in zip(incremental, rebuilt, strict=True):
        assert a[3] == pytest.approx(b[3], abs=1e-12) and a[4] == b[4], (a, b)


def test_unreachable_api_fails_the_run_with_its_url_and_loads_nothing(warehouse: Warehouse, config: Config) -> None:
    from tests.conftest import free_port

    cfg = _config_for(config, f"http://127.0.0.1:{free_port()}")
    src = cfg.sources["approval_api"].model_copy(update={"max_retries": 1, "timeout_seconds": 2})
    cfg = cfg.model_copy(update={"sources": {**cfg.sources, "approval_api": src}})
    summary = run_job(warehouse=warehouse, config=cfg, name="approvals")
    assert summary.status == "failed"
    assert "/api/v1/cases" in summary.error and "still failing after 1 retries" in summary.error
    assert _table(warehouse, "SELECT status, error IS NOT NULL FROM etl_run") == [("failed", True)]
    assert _table(warehouse, "SELECT COUNT(*) FROM fact_approval_case") == [(0,)]


def test_page_that_fails_twice_is_retried_and_nothing_is_skipped(
    warehouse: Warehouse, config: Config, platform: Path
) -> None:
    server, url = serve_in_thread(db_path=platform, failures={("cases", 1): 2})
    try:
        cfg = _config_for(config, url)
        src = cfg.sources["approval_api"].model_copy(update={"max_retries": 3})
        cfg = cfg.model_copy(update={"sources": {**cfg.sources, "approval_api": src}})
        run_job(warehouse=warehouse, config=cfg, name="catalogue")
        summary = run_job(warehouse=warehouse, config=cfg, name="approvals")
    finally:
        server.shutdown()
    assert summary.status == "success", summary.error
    assert (summary.rows_read, summary.rows_inserted, summary.rows_rejected) == (14, 8, 6)


def test_outage_mid_run_keeps_committed_pages_and_the_next_run_finishes(
    warehouse: Warehouse, config: Config, platform: Path, tmp_path: Path
) -> None:
    # The API answers 2 case requests (pages of 3), then goes down for good: the run fails after 2 pages.
    server, url = serve_in_thread(db_path=platform, outage_after={"cases": 2})
    try:
        cfg = _config_for(config, url)
        run_job(warehouse=warehouse, config=cfg, name="catalogue")
        failed = run_job(warehouse=warehouse, config=cfg, name="approvals")
    finally:
        server.shutdown()
    assert failed.status == "failed" and "503" in failed.error and "/api/v1/cases" in failed.error
    assert _table(warehouse, "SELECT case_id FROM fact_approval_case ORDER BY case_id") == [
        ("C1",), ("C2",), ("C3",), ("C4",)]  # pages 1-2 committed whole, nothing of page 3
    assert _table(warehouse, "SELECT value FROM etl_cursor WHERE stream = 'cases'") == [("2026-03-05 10:00:02",)]
    # The run failed before its mart refresh, so the pairs it committed stay marked dirty for the next run.
    assert _table(warehouse, "SELECT COUNT(*) FROM etl_dirty_period") != [(0,)]

    server, url = serve_in_thread(db_path=platform)
    try:
        resumed = run_job(warehouse=warehouse, config=_config_for(config, url), name="approvals")
    finally:
        server.shutdown()
    assert resumed.status == "success"
    assert _table(warehouse, "SELECT COUNT(*) FROM etl_dirty_period") == [(0,)]

    # The same totals as an uninterrupted run into a fresh warehouse.
    fresh = Warehouse(f"sqlite:///{tmp_path / 'fresh.db'}")
    from models.migrate import prepare_warehouse

    prepare_warehouse(warehouse=fresh, config=config)
    server, url = serve_in_thread(db_path=platform)
    try:
        _run_both(fresh, _config_for(config, url))
    finally:
        server.shutdown()
    cols = "case_id, region_code, working_days, status, completed_period, row_hash"
    assert _table(warehouse, f"SELECT {cols} FROM fact_approval_case ORDER BY case_id") == _table(
        fresh, f"SELECT {cols} FROM fact_approval_case ORDER BY case_id")
    marts = "SELECT region_code, period, kpi_code, value, sample_size FROM mart_kpi_monthly ORDER BY 1, 2, 3"
    assert _table(warehouse, marts) == _table(fresh, marts)
    assert _table(warehouse, "SELECT COUNT(*) FROM etl_rejected_row WHERE dataset = 'approvals'") == [(6,)]
    fresh.dispose()
