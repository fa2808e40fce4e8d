"""Helpers for the dashboard tests: a small real SQLite warehouse with hand-checkable KPI values.

Not a conftest (the lead owns tests/conftest.py): test modules import the fixtures from here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly.utils
import pytest
from dash import Dash
from sqlalchemy import text

from dashboard.app import create_app
from models.config import Config, load_config
from models.db import Warehouse
from models.migrate import upgrade
from models.regions import sync_regions

CITY = "140700"
LATEST, PREVIOUS = "2026-10", "2026-09"
AS_OF = dt.datetime(2026, 11, 2, 7, 45)

# City values, chosen so every card text can be checked by hand:
#   on_time_rate        2026-09 0.987 → 2026-10 0.992: "99.2%", "+0.5 个百分点", better; target 0.985 met.
#   avg_processing_days 2026-09 4.5   → 2026-10 4.3:   "4.3 个工作日", "-0.2 个工作日", better; target 2.0 missed.
CITY_VALUES = {
    (PREVIOUS, "on_time_rate"): 0.987, (LATEST, "on_time_rate"): 0.992,
    (PREVIOUS, "avg_processing_days"): 4.5, (LATEST, "avg_processing_days"): 4.3,
}
# The derived columns the KPI refresh would write for those rows (the cards read them, they do not recompute):
# MoM is this month minus last month (none for 2026-09: the warehouse starts there); no YoY (no 2025 rows);
# the status against the 2026 targets (on time ≥ 0.985: met both months; days ≤ 2.0: missed both months, by far
# more than the near margin).
CITY_DERIVED = {
    (PREVIOUS, "on_time_rate"): (None, None, "met"), (LATEST, "on_time_rate"): (0.005, None, "met"),
    (PREVIOUS, "avg_processing_days"): (None, None, "missed"), (LATEST, "avg_processing_days"): (-0.2, None, "missed"),
}
CITY_SAMPLE = {PREVIOUS: 1890, LATEST: 2034}
# County values in config order (榆次 … 介休): a spread around the city, best county not first in config order.
COUNTY_ON_TIME = {
    LATEST: [0.995, 0.981, 0.999, 0.990, 0.975, 0.993, 0.988, 0.997, 0.985, 0.996, 0.991],
    PREVIOUS: [0.990, 0.979, 0.995, 0.986, 0.970, 0.989, 0.985, 0.992, 0.980, 0.993, 0.988],
}
COUNTY_DAYS = {
    LATEST: [3.9, 4.8, 3.2, 4.1, 5.6, 4.0, 4.4, 3.5, 4.6, 3.7, 4.2],
    PREVIOUS: [4.1, 5.0, 3.4, 4.2, 5.9, 4.3, 4.6, 3.8, 4.9, 3.9, 4.5],
}
SHORT_ZH = ["榆次", "太谷", "榆社", "左权", "和顺", "昔阳", "寿阳", "祁县", "平遥", "灵石", "介休"]


def build_warehouse(path: Path, config: Config, *, with_rows: bool = True) -> Warehouse:
    """A migrated SQLite warehouse with regions and, unless told otherwise, two months of KPI mart rows."""
    warehouse = Warehouse(f"sqlite:///{path}")
    upgrade(warehouse.engine)
    with warehouse.session() as session:
        sync_regions(session=session, config=config)
        if with_rows:
            _insert_rows(session, config)
    return warehouse


def _insert_rows(session: Any, config: Config) -> None:
    insert_mart = text("INSERT INTO mart_kpi_monthly (region_code, period, kpi_code, value, numerator, denominator, "
                       "sample_size, mom_change, yoy_change, target_status) "
                       "VALUES (:region, :period, :kpi, :value, NULL, NULL, :n, :mom, :yoy, :status)")
    rows = [dict(region=CITY, period=p, kpi=k, value=v, n=CITY_SAMPLE[p], mom=CITY_DERIVED[(p, k)][0],
                 yoy=CITY_DERIVED[(p, k)][1], status=CITY_DERIVED[(p, k)][2]) for (p, k), v in CITY_VALUES.items()]
    none = dict(mom=None, yoy=None, status=None)  # county cards are not on the overview
    for period in (PREVIOUS, LATEST):
        for i, code in enumerate(config.unit_codes()):
            rows.append(dict(region=code, period=period, kpi="on_time_rate", value=COUNTY_ON_TIME[period][i],
                             n=120 + 10 * i, **none))
            rows.append(dict(region=code, period=period, kpi="avg_processing_days", value=COUNTY_DAYS[period][i],
                             n=120 + 10 * i, **none))
    session.execute(insert_mart, rows)
    session.execute(
        text("INSERT INTO etl_run (job, trigger, started_at, finished_at, status, rows_read, rows_inserted, "
             "rows_updated, rows_rejected) "
             "VALUES ('approvals', 'schedule', :started, :finished, :status, 10, 10, 0, 0)"),
        [dict(started=AS_OF - dt.timedelta(minutes=5), finished=AS_OF, status="success"),
         dict(started=AS_OF, finished=AS_OF + dt.timedelta(hours=1), status="failed")],
    )


@pytest.fixture
def dashboard_config() -> Config:
    """The repo's config.yaml (the two approval KPIs and the 11 Jinzhong units)."""
    return load_config()


@pytest.fixture
def dashboard_warehouse(tmp_path: Path, dashboard_config: Config) -> Iterator[Warehouse]:
    """The two-month warehouse above, in a temporary SQLite file."""
    warehouse = build_warehouse(tmp_path / "w.db", dashboard_config)
    yield warehouse
    warehouse.dispose()


@pytest.fixture
def dashboard_app(dashboard_config: Config, dashboard_warehouse: Warehouse) -> Dash:
    """The dashboard on the two-month warehouse."""
    return create_app(dashboard_config, warehouse=dashboard_warehouse, login_required=False)


def as_plain(node: Any) -> Any:
    """A component tree (or anything Dash returns) as plain JSON data, the way the browser receives it."""
    return json.loads(json.dumps(node, cls=plotly.utils.PlotlyJSONEncoder))


def component_ids(node: Any) -> set[str]:
    """Every component id in a tree, searching all props (not only children)."""
    found: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if "type" in item and "namespace" in item and isinstance(item.get("props"), dict):
                if isinstance(item["props"].get("id"), str):
                    found.add(item["props"]["id"])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(as_plain(node))
    return found


def pattern_ids(node: Any) -> list[dict]:
    """Every dict (pattern-matching) component id in a tree, e.g. {"type": "table-download-button", ...}."""
    found: list[dict] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if "type" in item and "namespace" in item and isinstance(item.get("props"), dict):
                if isinstance(item["props"].get("id"), dict):
                    found.append(item["props"]["id"])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(as_plain(node))
    return found


def class_count(node: Any, class_name: str) -> int:
    """How many components in a tree carry `class_name` among their classes."""
    count = 0

    def walk(item: Any) -> None:
        nonlocal count
        if isinstance(item, dict):
            props = item.get("props")
            if "namespace" in item and isinstance(props, dict) and \
                    class_name in str(props.get("className") or "").split():
                count += 1
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(as_plain(node))
    return count


def all_text(node: Any) -> str:
    """Every string in a component tree, joined by newlines: what a reader could see (and a little more)."""
    out: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key not in ("type", "namespace", "className", "id", "style"):
                    walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(as_plain(node))
    return "\n".join(out)
