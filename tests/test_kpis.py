"""The KPI reads the dashboard and bulletin share, on hand-made mart rows, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from models.config import Config
from models.db import Warehouse
from models.kpis import (
    available_periods,
    county_comparison,
    current_period,
    kpi_cards,
    previous_period,
    refresh_kpi_marts,
)
from models.marts import MartKpiMonthly
from models.scope import Viewer

VIEWER = Viewer.city_wide()


def _mart(region: str, period: str, kpi: str, value: float | None, n: int) -> dict:
    return dict(region_code=region, period=period, kpi_code=kpi, value=value, numerator=None, denominator=None,
                sample_size=n)


@pytest.fixture
def marts(warehouse: Warehouse) -> Warehouse:
    rows = [
        _mart("140700", "2026-09", "on_time_rate", 0.980, 500), _mart("140700", "2026-10", "on_time_rate", 0.990, 520),
        _mart("140700", "2026-09", "avg_processing_days", 2.5, 500),
        _mart("140700", "2026-10", "avg_processing_days", 2.5, 520),
        _mart("140702", "2026-10", "on_time_rate", 0.95, 100), _mart("140728", "2026-10", "on_time_rate", 1.0, 40),
        _mart("140781", "2026-10", "on_time_rate", 0.97, 60),
        _mart("140702", "2026-10", "avg_processing_days", 3.0, 100),
        _mart("140728", "2026-10", "avg_processing_days", 1.5, 40),
        _mart("140700", "2026-11", "on_time_rate", 0.5, 3),  # a month still running
    ]
    with warehouse.session() as s:
        s.execute(insert(MartKpiMonthly), rows)
    return warehouse


def test_periods_leave_out_the_running_month(marts: Warehouse) -> None:
    with marts.session() as s:
        assert available_periods(session=s, viewer=VIEWER) == ["2026-09", "2026-10", "2026-11"]
        assert available_periods(session=s, viewer=VIEWER, before="2026-11") == ["2026-09", "2026-10"]
    assert current_period("Asia/Shanghai", dt.date(2026, 11, 25)) == "2026-11"
    assert previous_period("2026-01") == "2025-12" and previous_period("2026-10") == "2026-09"


def test_cards_compare_with_last_month_in_the_good_direction(marts: Warehouse, config: Config) -> None:
    with marts.session() as s:
        cards = {c.kpi_code: c for c in kpi_cards(session=s, viewer=VIEWER, config=config, period="2026-10")}
    rate = cards["on_time_rate"]
    assert (rate.value, rate.previous_value, rate.sample_size) == (0.99, 0.98, 520)
    assert rate.change == pytest.approx(0.01) and rate.improved is True
    assert rate.target == config.kpi_by_code["on_time_rate"].target_for("2026-10")
    assert rate.target_met is (0.99 >= rate.target)
    days = cards["avg_processing_days"]
    assert days.change == 0 and days.improved is None


def test_county_comparison_puts_the_best_first_by_direction(marts: Warehouse, config: Config) -> None:
    with marts.session() as s:
        rate = county_comparison(session=s, viewer=VIEWER, config=config, period="2026-10", kpi_code="on_time_rate")
        days = county_comparison(session=s, viewer=VIEWER, config=config, period="2026-10",
                                 kpi_code="avg_processing_days")
    assert list(rate["region_code"][:3]) == ["140728", "140781", "140702"]  # higher is better
    assert list(days["region_code"][:2]) == ["140728", "140702"]  # lower is better
    assert len(rate) == 11 and rate["value"].isna().sum() == 8  # counties without data stay, last
    assert rate["city_value"].iloc[0] == pytest.approx(0.99)
    assert set(rate.columns) >= {"name_zh", "name_en", "short_zh", "short_en", "sample_size"}


def _run_id(conn) -> int:  # noqa: ANN001
    from sqlalchemy import text

    conn.execute(text("INSERT INTO etl_run (job, trigger, started_at, status, rows_read, rows_inserted, "
                      "rows_updated, rows_rejected) VALUES ('t', 'cli', '2026-03-31 00:00:00', 'success', 0, 0, 0, 0)"))
    return conn.execute(text("SELECT MAX(id) FROM etl_run")).scalar()


def _insert(conn, table: str, rows: list[dict]) -> None:  # noqa: ANN001
    from sqlalchemy import text

    cols = list(rows[0])
    conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"), rows)


def test_approval_rating_and_hotline_rates_by_hand(warehouse: Warehouse, config: Config) -> None:
    """Each KPI worked out by hand on a tiny month in 榆次 (140702), March 2026."""
    from sqlalchemy import text

    with warehouse.engine.begin() as conn:
        run = _run_id(conn)
        prov = dict(row_hash="h", etl_run_id=run, source="t")
        case = dict(region_code="140702", item_code="I1", item_known=True, channel="window",
                    accepted_at="2026-03-02 09:00:00", completed_at="2026-03-04 09:00:00", status="completed",
                    promised_days=5, suspended_days=0, working_days=2, accepted_period="2026-03",
                    completed_period="2026-03", **prov)
        _insert(conn, "fact_approval_case", [
            dict(case, case_id="A", visits=0, fully_online=True),
            dict(case, case_id="B", visits=2, fully_online=False),
            dict(case, case_id="C", visits=1, fully_online=False),
            dict(case, case_id="D", visits=0, fully_online=True, status="in_progress", completed_at=None,
                 completed_period=None, working_days=None),  # open: not in the completed population
        ])
        rating = dict(region_code="140702", rated_at="2026-03-05 10:00:00", rated_period="2026-03",
                      verified_bad=False, **prov)
        _insert(conn, "fact_rating", [dict(rating, rating_id=f"R{i}", level=lvl) for i, lvl in
                                      enumerate([5, 4, 3, 2])])  # 非常满意, 满意, 基本满意, 不满意
        ticket = dict(region_code="140702", category="营商环境-审批服务", is_business_env=True, status="called_back",
                      received_at="2026-03-03 09:00:00", received_period="2026-03", **prov)
        _insert(conn, "fact_hotline_ticket", [
            dict(ticket, ticket_id="T1", closed_at="2026-03-05 09:00:00", resolved=True, satisfaction="satisfied",
                 reopen_count=0),
            dict(ticket, ticket_id="T2", closed_at="2026-03-05 09:00:00", resolved=True,
                 satisfaction="basically_satisfied", reopen_count=1),
            dict(ticket, ticket_id="T3", closed_at="2026-03-06 09:00:00", resolved=False,
                 satisfaction="dissatisfied", reopen_count=0),
            dict(ticket, ticket_id="T4", status="in_progress", closed_at=None, resolved=None, satisfaction=None,
                 reopen_count=0),  # no outcome yet: outside every hotline population
        ])
        pairs = {("140702", "2026-03")}
        refresh_kpi_marts(conn=conn, config=config, pairs=pairs)
        got = {r[0]: (r[1], r[2]) for r in conn.execute(text(
            "SELECT kpi_code, value, sample_size FROM mart_kpi_monthly WHERE region_code = '140702'"))}
        strict = config.model_copy(update={"kpis": [
            k.model_copy(update={"params": {"count_basic_satisfied": False}}) for k in config.kpis
            if k.code == "positive_rate"]})
        refresh_kpi_marts(conn=conn, config=strict, pairs=pairs)
        strict_rate = conn.execute(text("SELECT value FROM mart_kpi_monthly WHERE region_code = '140702' "
                                        "AND kpi_code = 'positive_rate'")).scalar()
    assert got["online_rate"] == (pytest.approx(1 / 3), 3)        # A of A, B, C
    assert got["avg_visits"] == (pytest.approx(3 / 3), 3)         # (0 + 2 + 1) / 3
    assert got["zero_visit_share"] == (pytest.approx(1 / 3), 3)
    assert got["positive_rate"] == (pytest.approx(3 / 4), 4)       # 5, 4, 3 of 5, 4, 3, 2
    assert strict_rate == pytest.approx(2 / 4)                     # 基本满意 not counted
    assert got["hotline_resolution_rate"] == (pytest.approx(2 / 3), 3)
    assert got["hotline_satisfaction_rate"] == (pytest.approx(2 / 3), 3)
    assert got["hotline_reopen_rate"] == (pytest.approx(1 / 3), 3)
