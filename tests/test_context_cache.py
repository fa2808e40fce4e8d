"""The dashboard's read cache: which ETL runs move its keys, and which reads may share a key across viewers.

The versions are checked with real runs of the hotline job (a SQLite source view, chunks of 2) into a warehouse
on SQLite and on PostgreSQL: a run that loads nothing must keep the facts key, a run that changes a row must
move it. The viewer checks use a real migrated warehouse and the real scope rule (`Viewer.can_see_detail`).
"""

from __future__ import annotations

import ast
import functools
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, text

from dashboard import context
from dashboard.app import create_app
from dashboard.context import FACTS, OPS
from etl import jobs
from etl.datasets import hotline
from etl.jobs import RunSummary, run_job
from etl.sqlview import run_sql_view_job
from models.alerts import kpi_alerts
from models.config import Config
from models.db import Warehouse
from models.details import department_options
from models.dims import DimRegion
from models.kpis import available_periods, county_comparison, data_as_of, read_kpi_monthly
from models.ops import bump_data_version
from models.ops_reads import composite_trend, data_versions, kpi_snapshots, submission_status
from models.ranking_reads import (
    county_ranking,
    funnel_rows,
    indicator_scores,
    kpi_comparison,
    kpi_trend,
    pillar_scores,
    rank_history,
    rank_story,
    ranking_periods,
)
from models.scope import Viewer
from tests.conftest import DEMO_END
from tests.test_etl_hotline import BAD, GOOD, config_for, write_source

REPO = Path(__file__).resolve().parent.parent
COUNTY = "140702"  # 榆次
CITY_STAFF = Viewer(role="analyst")
COUNTY_BUREAU = Viewer(role="county", region_code=COUNTY)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hotline dataset and the SQL-view runner, as tests/test_etl_hotline.py registers them."""
    monkeypatch.setitem(jobs.DATASETS, "hotline", hotline)
    monkeypatch.setitem(jobs.RUNNERS, "sql_view", functools.partial(run_sql_view_job, chunk_size=2))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "hotline_source.db"
    write_source(path, GOOD + [row for row, _ in BAD])
    return path


def _versions(wh: Warehouse):  # noqa: ANN202
    with wh.session() as s:
        return data_versions(session=s)


def _run(wh: Warehouse, cfg: Config) -> RunSummary:
    return run_job(warehouse=wh, config=cfg, name="hotline")


def _touch_source(source: Path, sql: str) -> None:
    with sqlite3.connect(source) as db:
        db.execute(sql)
    db.close()


# ---- which runs move which version ---------------------------------------------------------------------------------


def test_only_a_run_that_changed_facts_moves_the_facts_version(warehouse: Warehouse, config: Config,
                                                               registered: None, source: Path) -> None:
    cfg = config_for(config, f"sqlite:///{source}")
    assert (_versions(warehouse).facts, _versions(warehouse).ops) == (None, None)

    first = _run(warehouse, cfg)
    assert (first.status, first.rows_inserted) == ("success", 6)
    after_load = _versions(warehouse)
    assert after_load.facts is not None and after_load.ops is not None

    nothing_new = _run(warehouse, cfg)  # the cursor is at the end: nothing read
    assert (nothing_new.status, nothing_new.rows_read, nothing_new.rows_loaded) == ("success", 0, 0)
    idle = _versions(warehouse)
    assert idle.facts == after_load.facts
    assert idle.ops != after_load.ops  # the runs list, freshness and "as of" still see the run

    with warehouse.engine.begin() as conn:  # a catch-up: every row re-read, none of them different
        conn.execute(text("DELETE FROM etl_cursor"))
    reread = _run(warehouse, cfg)
    assert (reread.status, reread.rows_read, reread.rows_loaded, reread.rows_rejected) == ("success", 15, 0, 0)
    assert _versions(warehouse).facts == after_load.facts

    _touch_source(source, "UPDATE t_ticket SET status = '已办结', closed_at = '2026-10-09 15:00:00', "
                          "updated_at = '2026-10-09 15:00:00' WHERE ticket_no = 'T3'")
    changed = _run(warehouse, cfg)
    assert (changed.status, changed.rows_updated, changed.marts_refreshed > 0) == ("success", 1, True)
    after_change = _versions(warehouse)
    assert after_change.facts != after_load.facts and after_change.ops != idle.ops


def test_a_failed_run_moves_ops_only_and_an_abandoned_one_moves_both(warehouse: Warehouse, config: Config,
                                                                     registered: None, source: Path) -> None:
    _run(warehouse, config_for(config, f"sqlite:///{source}"))
    loaded = _versions(warehouse)
    failed = _run(warehouse, config_for(config, f"sqlite:///{source}", view="no_such_view"))
    assert failed.status == "failed" and failed.rows_loaded == 0
    after_failure = _versions(warehouse)
    assert after_failure.facts == loaded.facts and after_failure.ops != loaded.ops

    # A run whose process died: its committed pages are not counted anywhere, so the facts key must move.
    with warehouse.engine.begin() as conn:
        conn.execute(text("INSERT INTO etl_run (job, trigger, started_at, status, host, pid, rows_read, "
                          "rows_inserted, rows_updated, rows_rejected) VALUES ('hotline', 'cli', "
                          "'2026-11-03 08:00:00', 'running', :host, 2147483646, 0, 0, 0, 0)"),
                     {"host": socket.gethostname()})
    _run(warehouse, config_for(config, f"sqlite:///{source}"))  # reaps the dead run, then reads nothing new
    with warehouse.engine.connect() as conn:
        assert conn.scalar(text("SELECT status FROM etl_run WHERE pid = 2147483646")) == "abandoned"
    assert _versions(warehouse).facts != after_failure.facts


def test_the_bump_is_an_upsert_that_always_moves_ops(warehouse: Warehouse) -> None:
    versions = []
    for facts in (False, True, False):
        with warehouse.engine.begin() as conn:
            bump_data_version(conn=conn, facts=facts)
        versions.append(_versions(warehouse))
    assert [v.ops[0] for v in versions] == [1, 2, 3]
    assert [v.facts and v.facts[0] for v in versions] == [None, 1, 1]


# ---- the dashboard's keys follow the versions ------------------------------------------------------------------


def _fresh_request(app: Any) -> Any:
    """A new request whose version memo is forgotten (the memo keeps a version up to a second per process)."""
    app.server.config[context.CONTEXT_KEY].version_memo.read_at = float("-inf")
    return app.server.test_request_context("/")


def test_facts_reads_stay_warm_across_a_run_that_loaded_nothing(warehouse: Warehouse, config: Config,
                                                                registered: None, source: Path) -> None:
    cfg = config_for(config, f"sqlite:///{source}")
    _run(warehouse, cfg)
    app = create_app(cfg, warehouse=warehouse, login_required=False)
    calls: list[str] = []

    def tickets(*, session, status: str) -> int:  # noqa: ANN001
        calls.append(status)
        return int(session.scalar(text("SELECT COUNT(*) FROM fact_hotline_ticket WHERE status = :s"), {"s": status}))

    def read(version: str) -> int:
        with _fresh_request(app):
            return context.cached_read(f"test.tickets.{version}", tickets, default=-1, version=version,
                                       status="closed")

    assert (read(FACTS), read(OPS)) == (1, 1) and len(calls) == 2
    _run(warehouse, cfg)  # nothing new
    assert (read(FACTS), read(OPS)) == (1, 1)
    assert len(calls) == 3  # only the ops-keyed read ran again

    _touch_source(source, "UPDATE t_ticket SET status = '已办结', closed_at = '2026-10-09 15:00:00', "
                          "updated_at = '2026-10-09 15:00:00' WHERE ticket_no = 'T3'")
    _run(warehouse, cfg)
    assert (read(FACTS), read(OPS)) == (2, 2)  # both see the new closed ticket
    assert len(calls) == 5


def test_an_unknown_version_name_is_refused(config: Config, tmp_path: Path) -> None:
    from tests.conftest_dashboard import build_warehouse

    wh = build_warehouse(tmp_path / "w.db", config, with_rows=False)
    app = create_app(config, warehouse=wh, login_required=False)
    with app.server.test_request_context("/"), pytest.raises(ValueError, match="version must be"):
        context.cached_read("test.bad", lambda *, session: 1, default=0, version="fact")
    wh.dispose()


# ---- per viewer, or shared ----------------------------------------------------------------------------------------


@pytest.fixture
def viewer_app(config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """An app on a migrated warehouse with the regions, and a switch for who is reading."""
    from tests.conftest_dashboard import build_warehouse

    wh = build_warehouse(tmp_path / "w.db", config)
    app = create_app(config, warehouse=wh, login_required=False)
    reader = {"viewer": CITY_STAFF}
    monkeypatch.setattr(context, "current_viewer", lambda: reader["viewer"])
    yield app, reader
    wh.dispose()


def _visible_regions(*, session, viewer: Viewer) -> list[str]:  # noqa: ANN001
    """A scoped read: the regions whose case detail the viewer may see (the real rule)."""
    codes = session.scalars(select(DimRegion.code).order_by(DimRegion.code))
    return [c for c in codes if viewer.can_see_detail(c)]


@pytest.mark.parametrize("version", [FACTS, OPS])
def test_a_county_viewer_never_gets_a_city_viewers_cached_rows(viewer_app: tuple, version: str) -> None:
    app, reader = viewer_app
    read_count = {"n": 0}

    def scoped(s) -> list[str]:  # noqa: ANN001 - as a page writes it: the lambda reads current_viewer()
        read_count["n"] += 1
        return _visible_regions(session=s, viewer=context.current_viewer())

    def page_read() -> list[str]:
        with app.server.test_request_context("/"):
            return context.warehouse_read(scoped, default=[], version=version, cache_key=("test.drill", "2026-10"))

    reader["viewer"] = CITY_STAFF
    city = page_read()
    assert COUNTY in city and len(city) > 2 and read_count["n"] == 1
    reader["viewer"] = COUNTY_BUREAU
    assert page_read() == [COUNTY]  # its own rows, read for it: not the city's cached list
    assert read_count["n"] == 2
    reader["viewer"] = CITY_STAFF
    assert page_read() == city and read_count["n"] == 2  # each viewer's entry is its own

    # cached_read with the viewer as an argument: the same, per viewer
    with app.server.test_request_context("/"):
        reader["viewer"] = COUNTY_BUREAU
        mine = context.cached_read("test.visible", _visible_regions, default=[], version=version,
                                   viewer=COUNTY_BUREAU)
        reader["viewer"] = CITY_STAFF
        theirs = context.cached_read("test.visible", _visible_regions, default=[], version=version,
                                     viewer=CITY_STAFF)
    assert mine == [COUNTY] and theirs == city


def test_a_shared_read_is_read_once_for_every_viewer(viewer_app: tuple) -> None:
    app, reader = viewer_app
    seen: list[Viewer] = []

    def periods(*, session, viewer: Viewer) -> list[str]:  # noqa: ANN001
        seen.append(viewer)
        return available_periods(session=session, viewer=viewer)

    results = []
    for viewer in (COUNTY_BUREAU, CITY_STAFF, Viewer.city_wide()):
        reader["viewer"] = viewer
        with app.server.test_request_context("/"):
            results.append(context.cached_read("test.periods", periods, default=[], version=FACTS, shared=True,
                                               viewer=viewer))
    assert results == [["2026-09", "2026-10"]] * 3
    assert seen == [COUNTY_BUREAU]  # the first reader's call filled the one entry; it got its own viewer
    with app.server.test_request_context("/"):
        reader["viewer"] = COUNTY_BUREAU
        shared_key = context.read_cache_key("test.periods", (), version=FACTS, shared=True)
        own_key = context.read_cache_key("test.periods", (), version=FACTS)
        reader["viewer"] = CITY_STAFF
        assert context.read_cache_key("test.periods", (), version=FACTS, shared=True) == shared_key
        assert context.read_cache_key("test.periods", (), version=FACTS) != own_key


# ---- every read the pages share gives every viewer the same result --------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if is_dataclass(a) and not isinstance(a, type):
        return _same(tuple(asdict(a).values()), tuple(asdict(b).values()))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)  # NaN equals NaN here


def _profile(*, session, viewer: Viewer, config: Config, region_code: str, period: str) -> tuple:  # noqa: ANN001
    """What the county page's shared "county.profile" entry holds."""
    return (pillar_scores(session=session, viewer=viewer, config=config, period=period, region_code=region_code),
            kpi_comparison(session=session, viewer=viewer, config=config, period=period, region_code=region_code),
            rank_story(session=session, viewer=viewer, config=config, region_code=region_code, period=period))


# Each shared read of the pages (by the function, or the cache name of a warehouse_read), called as the page does.
# A county bureau on another county must get exactly what the city gets, or the read must not be shared.
SHARED_READS: dict[str, Callable[..., Any]] = {
    "available_periods": lambda s, v, c, m: available_periods(session=s, viewer=v, before=None),
    "data_as_of": lambda s, v, c, m: data_as_of(session=s),
    "kpi_snapshots": lambda s, v, c, m: kpi_snapshots(session=s, viewer=v, config=c, period=m),
    "composite_trend": lambda s, v, c, m: composite_trend(session=s, config=c, until=m),
    "kpi_alerts": lambda s, v, c, m: kpi_alerts(session=s, config=c, period=m),
    "county_comparison": lambda s, v, c, m: county_comparison(session=s, viewer=v, config=c, period=m,
                                                              kpi_code="on_time_rate"),
    "ranking_periods": lambda s, v, c, m: ranking_periods(session=s, viewer=v),
    "county_ranking": lambda s, v, c, m: county_ranking(session=s, viewer=v, config=c, period=m),
    "indicator_scores": lambda s, v, c, m: indicator_scores(session=s, viewer=v, config=c, period=m),
    "rank_history": lambda s, v, c, m: rank_history(session=s, viewer=v, config=c, period=m),
    "funnel_rows": lambda s, v, c, m: funnel_rows(session=s, viewer=v, config=c, period=m, kpi_code="on_time_rate"),
    "kpi_trend": lambda s, v, c, m: kpi_trend(session=s, viewer=v, config=c, region_code="140781",
                                              kpi_code="on_time_rate", period=m),
    "submission_status": lambda s, v, c, m: submission_status(session=s, viewer=v, config=c, period=m),
    "county.profile": lambda s, v, c, m: _profile(session=s, viewer=v, config=c, region_code="140781", period=m),
    "approvals.departments": lambda s, v, c, m: department_options(session=s, viewer=v, config=c),
    "approvals.trends": lambda s, v, c, m: read_kpi_monthly(session=s, viewer=v, periods=[m], region_codes=["140781"],
                                                            kpi_codes=["online_rate", "avg_visits"]),
}


def _shared_call_sites() -> set[str]:
    """Every `shared=True` read in dashboard/: the cached_read's function name, or the warehouse_read's cache name."""
    found = set()
    for path in sorted((REPO / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            shared = any(k.arg == "shared" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                         for k in node.keywords)
            if name not in ("cached_read", "warehouse_read", "cached") or not shared:
                continue
            if name == "cached_read":
                found.add(ast.unparse(node.args[1]))
            elif name == "cached":  # the decorator: its read is the page's own helper, named by the cache name
                found.add(ast.literal_eval(node.args[0]))
            else:
                key = next((k.value for k in node.keywords if k.arg == "cache_key"), None)
                first = key.elts[0] if isinstance(key, ast.Tuple) else key
                found.add(first.value if isinstance(first, ast.Constant) else f"{path.name}:{ast.unparse(node)}")
    return found


def test_every_shared_read_of_the_pages_is_checked_here() -> None:
    sites = _shared_call_sites()
    assert {"kpi_snapshots", "county_ranking", "county.profile"} <= sites  # the scan finds them
    assert sites <= set(SHARED_READS), f"shared reads not checked below: {sorted(sites - set(SHARED_READS))}"


def test_shared_reads_give_a_county_bureau_what_the_city_gets(demo_site: tuple[Config, Warehouse]) -> None:
    config, wh = demo_site
    elsewhere = Viewer(role="county", region_code="140702")  # 榆次, while the reads are about 介休 or the city
    with wh.session() as s:
        for name, read in SHARED_READS.items():
            city, county = read(s, Viewer.city_wide(), config, DEMO_END), read(s, elsewhere, config, DEMO_END)
            assert _same(city, county), name
            empty = (city is None or (isinstance(city, pd.DataFrame) and city.empty)
                     or (isinstance(city, (list, dict)) and not city))
            assert not empty or name == "kpi_alerts", f"{name} read nothing: the comparison would prove nothing"


# ---- Redis: one cache shared by every worker -----------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own: this test empties it


def _redis_or_skip() -> Any:
    redis = pytest.importorskip("redis", reason="the redis extra (make test installs it)")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        from tests.conftest import IN_CI

        (pytest.fail if IN_CI else pytest.skip)("no Redis on 127.0.0.1:6379 (CI starts one)")
    return client


def test_two_workers_share_reads_through_redis_and_a_county_still_gets_only_its_own(
        config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two apps (as two gunicorn workers) on one Redis: a read one computed is a hit in the other; scoped keys hold."""
    from tests.conftest_dashboard import build_warehouse

    client = _redis_or_skip()
    client.flushdb()
    monkeypatch.setenv(context.CACHE_REDIS_ENV, REDIS_URL)
    wh = build_warehouse(tmp_path / "w.db", config)
    workers = [create_app(config, warehouse=wh, login_required=False) for _ in range(2)]
    reader = {"viewer": CITY_STAFF}
    monkeypatch.setattr(context, "current_viewer", lambda: reader["viewer"])
    calls: list[Viewer] = []

    def scoped(*, session, viewer: Viewer) -> list[str]:  # noqa: ANN001
        calls.append(viewer)
        return _visible_regions(session=session, viewer=viewer)

    def read(worker: Any, viewer: Viewer) -> list[str]:
        reader["viewer"] = viewer
        with worker.server.test_request_context("/"):
            return context.cached_read("test.redis.visible", scoped, default=[], version=FACTS, viewer=viewer)

    try:
        assert type(workers[0].server.config[context.CONTEXT_KEY].cache.cache).__name__ == "RedisCache"
        city = read(workers[0], CITY_STAFF)
        assert read(workers[1], CITY_STAFF) == city and calls == [CITY_STAFF]  # the second worker hit Redis
        assert read(workers[1], COUNTY_BUREAU) == [COUNTY] and calls == [CITY_STAFF, COUNTY_BUREAU]
        assert read(workers[0], COUNTY_BUREAU) == [COUNTY] and len(calls) == 2
        assert len(client.keys("*test.redis.visible*")) == 2  # one entry per viewer, in Redis, not per process
    finally:
        client.flushdb()
        wh.dispose()
