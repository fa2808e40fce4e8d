"""Dashboard: every page's callbacks through the real Flask app, and one KPI answered three ways.

The callbacks are timed by `bizenv.bench_dashboard` (cold: the read cache off; warm: after one untimed request).
The KPI comparison answers the approvals' on-time rate and mean processing days for the city and every county in
one month: from the marts through `models.kpis.read_kpi_monthly` (what the dashboard reads), by DuckDB scanning
`fact_approval_case` live, and by pandas from a frame of it. DuckDB gets the facts (the columns the KPI reads) from
a pandas frame before the clock starts (its SQLite reader is an extension it would download), so only its query
is timed.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import text

from bizenv.bench.workspace import Site
from models.db import Warehouse

KPI_CODES = ("on_time_rate", "avg_processing_days")
FACT_TABLE = "fact_approval_case"
# The columns the KPI reads: DuckDB scans only these anyway, and a frame of all 26 takes several GB at scale 1.0.
KPI_COLUMNS = ("region_code", "status", "completed_period", "promised_days", "working_days")
JUDGEABLE = "promised_days IS NOT NULL AND working_days IS NOT NULL"
DUCKDB_SQL = f"""
SELECT region_code,
       SUM(CASE WHEN {JUDGEABLE} AND working_days <= promised_days THEN 1 ELSE 0 END) AS on_time,
       SUM(CASE WHEN {JUDGEABLE} THEN 1 ELSE 0 END) AS judgeable,
       SUM(working_days) AS days,
       COUNT(*) AS completed
FROM {FACT_TABLE}
WHERE status = 'completed' AND completed_period = ?
GROUP BY ROLLUP (region_code)
"""

Answer = dict[str, dict[str, float | None]]  # region -> kpi -> value


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """Median and interpolated p95 of millisecond samples."""
    if len(samples) < 2:
        only = samples[0] if samples else math.nan
        return {"median_ms": only, "p95_ms": only}
    return {"median_ms": statistics.median(samples),
            "p95_ms": statistics.quantiles(samples, n=20, method="inclusive")[-1]}


def _timed(fn: Callable[[], Any], runs: int) -> tuple[Any, dict[str, Any]]:
    """fn's answer and its timings: one untimed warm-up call, then `runs` timed calls."""
    answer = fn()
    gc.collect()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000.0)
    return answer, {"runs": runs, **percentiles(samples)}


def callbacks(site: Site, *, runs: int, states: Sequence[str], pages: Sequence[str] | None) -> list[dict[str, Any]]:
    """Median and p95 of every page's layout and callbacks, per cache state."""
    from bizenv.bench_dashboard import bench_app, cache_switch
    from dashboard.app import create_app

    rows: list[dict[str, Any]] = []
    for state in states:
        with cache_switch(state):
            app = create_app(site.config, warehouse=Warehouse(site.url), login_required=False)
        try:
            timings = bench_app(app, cache=state, runs=runs, lang="zh", pages=pages)
        finally:
            app.server.config["BIZENV"].warehouse.dispose()
        for t in timings:
            row = {"page": t.page, "callback": t.name, "cache": state, "runs": len(t.samples), "status": t.status,
                   "note": t.note}
            if t.samples:
                row.update(percentiles(t.samples))
                row["cpu_median_ms"] = statistics.median(t.cpu)
            rows.append(row)
    return rows


def _values(city: str, frame: pd.DataFrame) -> Answer:
    """KPI values from per-region sums (region None is the city's pooled total)."""
    out: Answer = {}
    for r in frame.itertuples(index=False):
        region = city if r.region_code is None or (isinstance(r.region_code, float) and math.isnan(r.region_code)) \
            else str(r.region_code)
        judgeable, completed = float(r.judgeable or 0), float(r.completed or 0)
        days = None if r.days is None or pd.isna(r.days) else float(r.days)
        out[region] = {"on_time_rate": float(r.on_time) / judgeable if judgeable else None,
                       "avg_processing_days": days / completed if completed and days is not None else None}
    return out


def pandas_sums(frame: pd.DataFrame, month: str) -> pd.DataFrame:
    """The same sums as DUCKDB_SQL, per county and for the city, computed by pandas."""
    f = frame[(frame["status"] == "completed") & (frame["completed_period"] == month)]
    judgeable = f["promised_days"].notna() & f["working_days"].notna()
    parts = pd.DataFrame({"region_code": f["region_code"],
                          "on_time": (judgeable & (f["working_days"] <= f["promised_days"])).astype(int),
                          "judgeable": judgeable.astype(int), "days": f["working_days"], "completed": 1})
    sums = parts.groupby("region_code", sort=False).sum(min_count=1).reset_index()
    city = parts.drop(columns="region_code").sum(min_count=1).to_frame().T
    city.insert(0, "region_code", None)
    return pd.concat([sums, city], ignore_index=True)


def _mart_answer(warehouse: Warehouse, city: str, month: str) -> Answer:
    from models.kpis import read_kpi_monthly
    from models.scope import Viewer

    with warehouse.session() as session:
        frame = read_kpi_monthly(session=session, viewer=Viewer.city_wide(), kpi_codes=list(KPI_CODES),
                                 periods=[month])
    out: Answer = {}
    for r in frame.itertuples(index=False):
        out.setdefault(r.region_code, {})[r.kpi_code] = None if pd.isna(r.value) else float(r.value)
    return out


def _agree(a: Answer, b: Answer) -> bool:
    if set(a) != set(b):
        return False
    for region, values in a.items():
        for code in KPI_CODES:
            x, y = values.get(code), b[region].get(code)
            if (x is None) != (y is None) or (x is not None and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)):
                return False
    return True


def kpi_three_ways(site: Site, *, month: str, runs: int) -> dict[str, Any]:
    """The month's KPI for the city and every county: from the marts, by DuckDB live, by pandas; timed and checked."""
    import duckdb

    city = site.config.city.code
    warehouse = Warehouse(site.url)
    try:
        mart, mart_t = _timed(lambda: _mart_answer(warehouse, city, month), runs)
        with warehouse.engine.connect() as conn:  # untimed: the facts' columns the KPI reads, then into DuckDB
            frame = pd.read_sql_query(text(f"SELECT {', '.join(KPI_COLUMNS)} FROM {FACT_TABLE}"), conn)
    finally:
        warehouse.dispose()
    con = duckdb.connect()
    try:
        con.register("facts_frame", frame)
        con.execute(f"CREATE TABLE {FACT_TABLE} AS SELECT * FROM facts_frame")
        con.unregister("facts_frame")
        duck, duck_t = _timed(lambda: _values(city, con.execute(DUCKDB_SQL, [month]).df()), runs)
    finally:
        con.close()
    pand, pand_t = _timed(lambda: _values(city, pandas_sums(frame, month)), runs)
    out = {"month": month, "kpis": list(KPI_CODES), "regions": len(mart), "fact_rows": len(frame),
           "mart": {"method": "models.kpis.read_kpi_monthly", **mart_t},
           "duckdb": {"method": f"duckdb {duckdb.__version__}, query only (the facts' columns the KPI reads "
                                "loaded from a pandas frame beforehand, untimed)", **duck_t},
           "pandas": {"method": "pandas filter + groupby on a frame of the facts", **pand_t},
           "agree_duckdb": _agree(mart, duck), "agree_pandas": _agree(mart, pand),
           "answer": {region: mart[region] for region in sorted(mart)}}
    for kind in ("duckdb", "pandas"):
        out[f"ratio_{kind}"] = out[kind]["median_ms"] / out["mart"]["median_ms"] if out["mart"]["median_ms"] else None
    return out
