"""The KPI reads the dashboard and bulletin share, on hand-made mart rows, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from models.config import Config
from models.db import Warehouse
from models.kpis import available_periods, county_comparison, current_period, kpi_cards, previous_period
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
