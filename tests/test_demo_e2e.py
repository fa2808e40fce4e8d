"""The whole path on both engines: generated sources -> API process -> ETL -> marts, checked by a second method."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from etl.demo_build import build_demo, month_span
from models.config import Config, load_config
from models.db import Warehouse
from tests.conftest import REPO, empty_warehouse_url, free_port

END = "2026-10"


def _demo_config(config: Config, tmp_path: Path, database_url: str) -> Config:
    api = config.sources["approval_api"].model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}"})
    return config.model_copy(update={
        "sources": {**config.sources, "approval_api": api},
        "demo": config.demo.model_copy(update={"sources_dir": str(tmp_path / "sources")}),
        "warehouse": config.warehouse.model_copy(update={"url": database_url}),
    })


def _frame(wh: Warehouse, sql: str) -> pd.DataFrame:
    with wh.engine.connect() as conn:
        return pd.read_sql_query(text(sql), conn)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One demo build per engine, shared by this module's tests (none of them changes the warehouse)."""
    tmp_path = tmp_path_factory.mktemp(f"demo-{request.param}")
    saved = os.environ.pop("BIZENV_DATABASE_URL", None)
    with empty_warehouse_url(request.param, request=request, folder=tmp_path) as url:
        cfg = _demo_config(load_config(REPO / "config.yaml"), tmp_path, url)
        result = build_demo(config=cfg, scale=0.01, months=6, end_month=END, echo=lambda _m: None)
        wh = Warehouse(cfg.database_url())
        yield cfg, result, wh
        wh.dispose()
    if saved is not None:
        os.environ["BIZENV_DATABASE_URL"] = saved

def test_month_span() -> None:
    assert month_span("2026-10", 6) == ("2026-05", "2026-10")
    assert month_span("2026-02", 3) == ("2025-12", "2026-02")
    assert month_span("2026-10", None) == ("2023-01", "2026-10")


def test_demo_loads_every_county_and_marts_match_the_facts(demo) -> None:
    cfg, result, wh = demo
    assert not result.failed, [r.error for r in result.runs]
    counts = _frame(wh, "SELECT region_code, COUNT(*) AS n FROM fact_approval_case GROUP BY region_code")
    assert set(counts["region_code"]) == set(cfg.unit_codes())
    assert (counts["n"] > 0).all()

    # Second method: recompute both KPIs from the facts with pandas, for every county-month and for the city.
    facts = _frame(wh, "SELECT region_code, completed_period, working_days, promised_days FROM fact_approval_case "
                       "WHERE status = 'completed'")
    judged = facts["promised_days"].notna()
    facts["on_time"] = (facts["working_days"] <= facts["promised_days"]).astype(float).where(judged)
    city = facts.assign(region_code=cfg.city.code)
    expected = (pd.concat([facts, city]).groupby(["region_code", "completed_period"])
                .agg(avg=("working_days", "mean"), rate=("on_time", "mean"), n=("on_time", "count")).reset_index())
    marts = _frame(wh, "SELECT region_code, period, kpi_code, value, sample_size FROM mart_kpi_monthly")
    wide = marts.pivot_table(index=["region_code", "period"], columns="kpi_code", values="value").reset_index()
    merged = expected.merge(wide, left_on=["region_code", "completed_period"], right_on=["region_code", "period"],
                            how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    assert len(merged) == 12 * merged["period"].nunique()  # 11 counties + the city, every month
    assert merged["avg"].to_numpy() == pytest.approx(merged["avg_processing_days"].to_numpy(), abs=1e-9)
    assert merged["rate"].to_numpy() == pytest.approx(merged["on_time_rate"].to_numpy(), abs=1e-9)
    sizes = marts[marts["kpi_code"] == "on_time_rate"].merge(
        expected, left_on=["region_code", "period"], right_on=["region_code", "completed_period"])
    assert (sizes["sample_size"] == sizes["n"]).all()


def test_demo_bad_rows_are_quarantined_with_reasons(demo) -> None:
    cfg, _result, wh = demo
    manifest = json.loads((cfg.resolve_path(cfg.demo.sources_dir) / "manifest.json").read_text(encoding="utf-8"))
    rejects = _frame(wh, "SELECT reason_code, reason_zh, reason_en, source FROM etl_rejected_row "
                         "WHERE dataset = 'approvals'")
    assert len(rejects) > 0
    assert rejects["reason_zh"].str.len().gt(0).all() and rejects["reason_en"].str.len().gt(0).all()
    assert rejects["source"].str.contains("/api/v1/cases").all()
    expected_bad = sum(manifest["bad_rows"]["approval_cases"].values())
    assert len(rejects) == expected_bad


FACT_QUERIES = {
    "fact_approval_case": "SELECT * FROM fact_approval_case ORDER BY case_id",
    "fact_rating": "SELECT * FROM fact_rating ORDER BY rating_id",
    "fact_hotline_ticket": "SELECT * FROM fact_hotline_ticket ORDER BY ticket_id",
    "fact_county_figure": "SELECT * FROM fact_county_figure ORDER BY region_code, period, indicator_code",
    "mart_kpi_monthly": "SELECT * FROM mart_kpi_monthly ORDER BY region_code, period, kpi_code",
    "dim_service_item": "SELECT * FROM dim_service_item ORDER BY item_code",
}


def test_demo_rerun_loads_nothing_and_changes_no_fact(demo) -> None:
    cfg, _result, wh = demo
    before = {table: _frame(wh, sql) for table, sql in FACT_QUERIES.items()}
    again = build_demo(config=cfg, scale=0.01, months=6, end_month=END, echo=lambda _m: None)
    assert not again.generated
    for run in again.runs:
        assert (run.job, run.status, run.rows_inserted, run.rows_updated) == (run.job, "success", 0, 0)
    for table, sql in FACT_QUERIES.items():
        pd.testing.assert_frame_equal(_frame(wh, sql), before[table], obj=table)


def test_demo_hotline_view_loads_with_its_bad_rows_quarantined(demo) -> None:
    cfg, result, wh = demo
    hotline = next(r for r in result.runs if r.job == "hotline")
    assert hotline.status == "success", hotline.error
    manifest = json.loads((cfg.resolve_path(cfg.demo.sources_dir) / "manifest.json").read_text(encoding="utf-8"))
    tickets = _frame(wh, "SELECT region_code, COUNT(*) AS n FROM fact_hotline_ticket GROUP BY region_code")
    assert set(tickets["region_code"]) == set(cfg.unit_codes())
    assert int(tickets["n"].sum()) + hotline.rows_rejected == manifest["counts"]["hotline_tickets"]
    assert hotline.rows_rejected == sum(manifest["bad_rows"]["hotline"].values())


def test_demo_inboxes_load_ratings_and_county_figures(demo) -> None:
    cfg, result, wh = demo
    runs = {r.job: r for r in result.runs}
    assert runs["ratings"].status == "success" and runs["county_figures"].status == "success"
    manifest = json.loads((cfg.resolve_path(cfg.demo.sources_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert runs["ratings"].rows_rejected == sum(manifest["bad_rows"]["ratings"].values())
    ratings = _frame(wh, "SELECT COUNT(DISTINCT region_code) AS units, COUNT(*) AS n FROM fact_rating")
    assert ratings["units"].iloc[0] == 11 and ratings["n"].iloc[0] > 0
    figures = _frame(wh, "SELECT region_code, period, COUNT(*) AS n FROM fact_county_figure GROUP BY 1, 2")
    assert (figures["n"] == 10).all()  # ten indicators per county-month
    failed = _frame(wh, "SELECT filename, error FROM etl_file WHERE status = 'failed'")
    malformed = manifest["messy"]["county_figures"]["malformed"]
    assert sorted(failed["filename"]) == sorted(m["file"] for m in malformed)
    assert all("本月新登记" in e for e in failed["error"])


def test_full_rebuild_equals_the_incremental_marts(demo) -> None:
    """Marts refreshed page by page during the loads equal a rebuild from all facts (second method)."""
    from models.kpis import rebuild_kpi_marts

    cfg, _result, wh = demo
    queries = [FACT_QUERIES["mart_kpi_monthly"], ITEM_MART_SQL, DAYS_MART_SQL]
    incremental = [_frame(wh, sql) for sql in queries]
    with wh.engine.begin() as conn:
        rebuild_kpi_marts(conn=conn, config=cfg)
    for sql, before in zip(queries, incremental, strict=True):
        pd.testing.assert_frame_equal(_frame(wh, sql), before)


def test_a_parallel_refresh_writes_what_a_serial_one_writes(demo) -> None:
    """A big refresh reads the facts on extra connections at once; its marts equal the one-connection refresh's."""
    from models.kpis import refresh_kpi_marts

    cfg, _result, wh = demo
    queries = [FACT_QUERIES["mart_kpi_monthly"], ITEM_MART_SQL, DAYS_MART_SQL]
    before = [_frame(wh, sql) for sql in queries]
    pairs = {tuple(r) for r in _frame(wh, "SELECT DISTINCT region_code, completed_period FROM fact_approval_case "
                                          "WHERE completed_period IS NOT NULL").itertuples(index=False)}
    assert len(pairs) > 20
    for parallel in (True, False):
        with wh.engine.begin() as conn:
            conn.execute(text("DELETE FROM mart_approval_item_monthly"))  # what the refresh must write back
            conn.execute(text("UPDATE mart_kpi_monthly SET value = -1 WHERE kpi_code = 'on_time_rate'"))
            refresh_kpi_marts(conn=conn, config=cfg, pairs=pairs, tables=["fact_approval_case"], parallel=parallel)
        for sql, expected in zip(queries, before, strict=True):
            pd.testing.assert_frame_equal(_frame(wh, sql), expected)


def test_rating_level_mart_equals_a_count_of_the_ratings(demo) -> None:
    """The level mart kept up to date by the loads holds, per county-month and level, the ratings the facts hold."""
    _cfg, _result, wh = demo
    mart = _frame(wh, "SELECT region_code, period, level, ratings FROM mart_rating_level_monthly "
                      "ORDER BY region_code, period, level")
    facts = _frame(wh, "SELECT region_code, rated_period, level FROM fact_rating")
    counted = (facts.groupby(["region_code", "rated_period", "level"]).size().rename("ratings").reset_index()
               .rename(columns={"rated_period": "period"}).sort_values(["region_code", "period", "level"]))
    assert len(mart) > 100
    pd.testing.assert_frame_equal(mart.astype({"level": int, "ratings": int}).reset_index(drop=True),
                                  counted.astype({"level": int, "ratings": int}).reset_index(drop=True))


ITEM_MART_SQL = ("SELECT region_code, period, item_code, dept_code, channel, cases, days_sum, days_max, late_cases, "
                 "promised_max, statutory_max, limited_promised_sum, limited_statutory_sum "
                 "FROM mart_approval_item_monthly ORDER BY region_code, period, item_code, dept_code, channel")
DAYS_MART_SQL = ("SELECT region_code, period, dept_code, channel, working_days, cases, within_cases, beyond_cases "
                 "FROM mart_approval_days_monthly ORDER BY region_code, period, dept_code, channel, working_days")


def _counted_cases(wh) -> pd.DataFrame:  # noqa: ANN001
    """The completed cases with working days, as pandas sees them, with the marts' key columns."""
    cases = _frame(wh, "SELECT region_code, completed_period, item_code, dept_code, channel, status, working_days, "
                       "promised_days, statutory_days FROM fact_approval_case")
    cases = cases[(cases["status"] == "completed") & cases["working_days"].notna() & cases["completed_period"].notna()]
    cases = cases.assign(period=cases["completed_period"], dept_code=cases["dept_code"].fillna(""),
                         working_days=cases["working_days"].astype(int))
    promised = cases["promised_days"].astype(float)
    limited = (cases["statutory_days"].astype(float) > 0) & promised.notna()
    return cases.assign(late=(promised.notna() & (cases["working_days"] > promised)).astype(int),
                        within=(promised.notna() & (cases["working_days"] <= promised)).astype(int),
                        lim_p=promised.where(limited), lim_s=cases["statutory_days"].astype(float).where(limited))


def _as_float(frame: pd.DataFrame, key_count: int) -> pd.DataFrame:
    """Key columns as they are, every measure as float (NULL as NaN), so engines' integer types compare equal."""
    return frame.astype({c: float for c in frame.columns[key_count:]}).reset_index(drop=True)


def test_approval_marts_equal_a_pandas_grouping_of_the_cases(demo) -> None:
    """The item and working-days marts kept up by the loads hold the sums pandas computes from the facts."""
    _cfg, _result, wh = demo
    cases = _counted_cases(wh)
    keys = ["region_code", "period", "item_code", "dept_code", "channel"]
    items = (cases.groupby(keys).agg(cases=("working_days", "size"), days_sum=("working_days", "sum"),
                                     days_max=("working_days", "max"), late_cases=("late", "sum"),
                                     promised_max=("promised_days", "max"), statutory_max=("statutory_days", "max"),
                                     limited_promised_sum=("lim_p", lambda v: v.sum(min_count=1)),
                                     limited_statutory_sum=("lim_s", lambda v: v.sum(min_count=1)))
             .reset_index().sort_values(keys))
    mart = _frame(wh, ITEM_MART_SQL)
    assert len(mart) > 1000
    pd.testing.assert_frame_equal(_as_float(mart, 5), _as_float(items, 5))
    keys = ["region_code", "period", "dept_code", "channel", "working_days"]
    days = (cases.groupby(keys).agg(cases=("late", "size"), within_cases=("within", "sum"),
                                    beyond_cases=("late", "sum")).reset_index().sort_values(keys))
    pd.testing.assert_frame_equal(_as_float(_frame(wh, DAYS_MART_SQL), 5), _as_float(days, 5))


_MARTS_BY_ENGINE: dict[str, dict[str, pd.DataFrame]] = {}
MART_QUERIES = {
    "mart_kpi_monthly": "SELECT * FROM mart_kpi_monthly ORDER BY region_code, period, kpi_code",
    "mart_county_ranking": "SELECT * FROM mart_county_ranking ORDER BY region_code, period",
    "mart_county_indicator_score": "SELECT * FROM mart_county_indicator_score ORDER BY region_code, period, kpi_code",
    "mart_rating_level_monthly": "SELECT * FROM mart_rating_level_monthly ORDER BY region_code, period, level",
    "mart_approval_item_monthly": ITEM_MART_SQL,
    "mart_approval_days_monthly": DAYS_MART_SQL,
}


def test_marts_agree_across_engines_to_1e_9(demo) -> None:
    """The same sources give the same marts on SQLite and PostgreSQL (the sqlite instance of this test runs first)."""
    cfg, _result, wh = demo
    engine = wh.engine.dialect.name
    _MARTS_BY_ENGINE[engine] = {name: _frame(wh, sql) for name, sql in MART_QUERIES.items()}
    if engine == "sqlite":
        assert len(_MARTS_BY_ENGINE["sqlite"]["mart_kpi_monthly"]) > 1000
        return
    if "sqlite" not in _MARTS_BY_ENGINE:
        pytest.skip("the sqlite instance of this test did not run in this session")
    for name in MART_QUERIES:
        lite, pg = _MARTS_BY_ENGINE["sqlite"][name], _MARTS_BY_ENGINE["postgresql"][name]
        assert list(lite.columns) == list(pg.columns) and len(lite) == len(pg), name
        for col in lite.columns:
            if pd.api.types.is_numeric_dtype(lite[col]) or pd.api.types.is_numeric_dtype(pg[col]):
                a, b = lite[col].astype(float).to_numpy(), pg[col].astype(float).to_numpy()
                assert ((a == b) | (abs(a - b) <= 1e-9 * abs(b).clip(min=1)) | (pd.isna(a) & pd.isna(b))).all(), \
                    (name, col)
            else:
                assert lite[col].fillna("").astype(str).tolist() == pg[col].fillna("").astype(str).tolist(), (name, col)
