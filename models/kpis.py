"""KPI semantic layer: mart refresh in SQL, derived values, and the reads the dashboard and bulletin share.

A KPI's definition (names, unit, direction, target, index bounds) lives in config.yaml; its `computation` names one
of `models.computations.COMPUTATIONS`. Each computation is built from additive measures summed with GROUP BY over
the indexed month slices of the fact tables, so a city value is always pooled from counts, never an average of
county values. Only the small mart table is read into pandas, for year-to-date and change columns.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from models.approval_marts import clear_approval_marts, read_approval_counts, refresh_approval_marts
from models.calendar import get_calendar
from models.computations import COMPUTATIONS, Computation, Measure, computation_for, runtime_params
from models.config import Config, KpiDefinition
from models.db import rows_frame
from models.dims import DimRegion
from models.facts import OVERDUE_INDEX_WHERE
from models.marts import MartKpiMonthly, MartRatingLevelMonthly
from models.ops import EtlRun
from models.ranking import rebuild_county_ranking, refresh_county_ranking, wilson_interval
from models.scope import Viewer

__all__ = ["COMPUTATIONS", "Computation", "computation_for", "rebuild_kpi_marts", "refresh_kpi_marts"]


T = TypeVar("T")
Pair = tuple[str, str]  # (region_code, period)
MeasureSums = dict[Measure, dict[Pair, float]]
_BIND = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


GroupKey = tuple[str, str, bool, str | None, str]  # (table, month column, open at month end, derived, row filter)


@dataclass(frozen=True, slots=True)
class _Histogram:
    """A per-row column whose value counts are needed (for a median), folded into its table's slice query."""

    column: str
    where: str


def _group_sql(key: GroupKey, measures: Sequence[Measure], histogram: _Histogram | None = None) -> str:
    """One GROUP BY over a fact table's indexed month slice that computes every measure needed from it."""
    table, period_column, open_at_month_end, derived, where = key
    cols = "".join(f"{m.expression} AS v{i}, " for i, m in enumerate(measures))
    if open_at_month_end:
        # The late-or-open cases come off a partial index, once; only they are joined to the months.
        return (f"late AS MATERIALIZED (SELECT region_code, due_period, completed_period FROM {table} "
                f"WHERE {OVERDUE_INDEX_WHERE} AND due_date < :today_date AND status <> 'not_accepted') "
                f"SELECT late.region_code, months.period, {cols[:-2]} FROM late "
                "JOIN months ON late.due_period <= months.period "
                "AND (late.completed_period IS NULL OR late.completed_period > months.period) "
                "GROUP BY late.region_code, months.period")
    if histogram is None:
        return (f"SELECT region_code, {period_column} AS period, {cols[:-2]} FROM {derived or table} "
                f"WHERE {period_column} IN :periods AND {where} GROUP BY region_code, {period_column}")
    # One more GROUP BY column: the measures are summed over it in Python and its counts give the histogram.
    counted = f"SUM(CASE WHEN {histogram.where} AND {histogram.column} IS NOT NULL THEN 1 ELSE 0 END)"
    return (f"SELECT region_code, {period_column} AS period, {cols}{histogram.column} AS h, {counted} AS hn "
            f"FROM {table} WHERE {period_column} IN :periods AND {where} "
            f"GROUP BY region_code, {period_column}, {histogram.column}")


def _months_cte(periods: Sequence[str]) -> str:
    if not all(_PERIOD.match(p) for p in periods):
        raise ValueError(f"not a YYYY-MM period among {periods!r}")
    return "WITH months(period) AS (VALUES " + ", ".join(f"('{p}')" for p in periods) + ")"


def _run_group(conn: Connection, sql: str, periods: list[str], params: Mapping[str, object]) -> list[Row]:
    if "JOIN months" in sql:
        sql = _months_cte(periods) + ", " + sql
    stmt = text(sql)
    names = set(_BIND.findall(sql))
    if "periods" in names:
        stmt = stmt.bindparams(bindparam("periods", expanding=True))
    values = {"periods": periods, "first_period_before": previous_period(periods[0]), "last_period": periods[-1],
              **params}
    return list(conn.execute(stmt, {k: values[k] for k in names}))


Histograms = dict[_Histogram, dict[Pair, Counter]]


def _measure_sums(conn: Connection, measures: Iterable[Measure], periods: list[str], params: Mapping[str, object],
                  histograms: Mapping[GroupKey, _Histogram] | None = None,
                  parallel: bool = False) -> tuple[MeasureSums, Histograms]:
    """Every measure's value per (region, month), and the histograms medians need: one query per table slice.

    With `parallel`, the slices are read on two extra connections at once (a rebuild: the facts are committed
    and only read, and the database releases the GIL while it scans), so two cores scan two tables together.
    """
    histograms = histograms or {}
    groups: dict[GroupKey, list[Measure]] = {key: [] for key in histograms}
    for m in dict.fromkeys(measures):
        groups.setdefault((m.table, m.period_column, m.open_at_month_end, m.derived, m.slice_where), []).append(m)
    for key, group in groups.items():
        if histograms.get(key) is not None and any("DISTINCT" in m.expression.upper() for m in group):
            raise ValueError(f"{key[0]}: a DISTINCT measure cannot share its slice with a histogram")
    sqls = {key: _group_sql(key, group, histograms.get(key)) for key, group in groups.items()}
    if parallel:
        def read(key: GroupKey) -> list[Row]:
            with conn.engine.connect() as reader:
                return _run_group(reader, sqls[key], periods, params)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip(sqls, pool.map(read, sqls), strict=True))
    else:
        results = {key: _run_group(conn, sql, periods, params) for key, sql in sqls.items()}
    sums: MeasureSums = {}
    hists: Histograms = {}
    for key, group in groups.items():
        histogram = histograms.get(key)
        rows = results[key]
        for i, m in enumerate(group):
            per_pair = sums.setdefault(m, {})
            for r in rows:
                if r[2 + i] is not None:
                    per_pair[(r[0], r[1])] = per_pair.get((r[0], r[1]), 0.0) + float(r[2 + i])
        if histogram is not None:
            counts = hists.setdefault(histogram, {})
            for r in rows:
                if r[-2] is not None and r[-1]:
                    counts.setdefault((r[0], r[1]), Counter())[float(r[-2])] += int(r[-1])
    return sums, hists


def histogram_median(histogram: Counter) -> float | None:
    """The median of the values a histogram counts (the mean of the two middle values when the count is even)."""
    n = sum(histogram.values())
    if n == 0:
        return None
    lower, upper, seen = None, None, 0
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen >= (n + 1) // 2:
            lower = value
        if seen >= n // 2 + 1:
            upper = value
            break
    return (lower + upper) / 2


def _total(sums: MeasureSums, measures: Sequence[Measure], pair: Pair) -> float | None:
    values = [sums[m][pair] for m in measures if pair in sums.get(m, {})]
    return sum(values) if values else None


def _city_sums(sums: MeasureSums, city: str, periods: Sequence[str]) -> None:
    """Pool the counties' sums into the city's: a city rate is computed from counts, never averaged."""
    for per_pair in sums.values():
        for period in periods:
            values = [v for (region, p), v in per_pair.items() if p == period and region != city]
            if values:
                per_pair[(city, period)] = sum(values)


def _value(comp: Computation, num: float | None, den: float | None) -> float | None:
    if num is None:
        return None
    if not comp.denominator:
        return comp.scale * num
    return comp.scale * num / den if den else None


def _mart_row(*, kpi: KpiDefinition, comp: Computation, config: Config, pair: Pair, sums: MeasureSums,
              medians: dict[Pair, Counter]) -> dict:
    region, period = pair
    n = int(_total(sums, comp.sample_measures(), pair) or 0)
    if comp.family == "median":
        hist = medians.get(pair, Counter())
        num = den = None
        value = histogram_median(hist)
        n = sum(hist.values())
    else:
        num = _total(sums, comp.numerator, pair)
        den = _total(sums, comp.denominator, pair) if comp.denominator else None
        value = _value(comp, num, den)
    low, high = _interval(comp, num, den)
    return dict(region_code=region, period=period, kpi_code=kpi.code, value=value, numerator=num, denominator=den,
                sample_size=n, ci_low=low, ci_high=high,
                target_status=target_status(kpi=kpi, config=config, period=period, value=value))


def _interval(comp: Computation, num: float | None, den: float | None) -> tuple[float | None, float | None]:
    if comp.family not in ("proportion", "per_10k") or num is None or not den or num > den:
        return None, None
    low, high = wilson_interval(num, den)
    return comp.scale * float(low), comp.scale * float(high)


def target_status(*, kpi: KpiDefinition, config: Config, period: str, value: float | None) -> str | None:
    """'met', 'near' (short of the target by no more than the margin) or 'missed'."""
    target = kpi.target_for(period)
    if value is None or target is None:
        return None
    if value == target or _is_better(kpi, value, target):
        return "met"
    margin = kpi.near_margin if kpi.near_margin is not None else config.targets.near_margin * abs(target)
    return "near" if abs(value - target) <= margin + 1e-12 else "missed"


def _kpis_reading(config: Config, tables: Iterable[str] | None) -> list[KpiDefinition]:
    wanted = set(tables) if tables is not None else None
    return [k for k in config.kpis if wanted is None or computation_for(k).tables() & wanted]


def _runtime(config: Config, kpis: Sequence[KpiDefinition], today: dt.date | None) -> dict[str, object]:
    today = today or dt.datetime.now(ZoneInfo(config.timezone)).date()
    calendar = get_calendar(config.calendar.as_mapping())
    deadlines = {int(k.params.get("deadline_working_days", 10)) for k in kpis
                 if k.computation == "rating_rectified_on_time_rate"}
    return {**runtime_params(today=today, add_working_days=calendar.add_working_days, deadlines=deadlines),
            "today_date": today}


def refresh_kpi_marts(
    *, conn: Connection, config: Config, pairs: Iterable[Pair], tables: Iterable[str] | None = None,
    today: dt.date | None = None, rank: bool = True, parallel: bool = False,
) -> int:
    """Recompute `mart_kpi_monthly` for exactly the touched (region, month) pairs and the city, then their ranking.

    `parallel` reads the facts on extra connections at once: for a big refresh of facts already committed.
    """
    pairs = {p for p in pairs if p[1] and p[0] != config.city.code}
    return _refresh(conn=conn, config=config, pairs_by_table={t: pairs for t in (tables or FACT_MONTHS)},
                    today=today, rank=rank, parallel=parallel)


def _refresh(*, conn: Connection, config: Config, pairs_by_table: Mapping[str, set[Pair]], today: dt.date | None,
             rank: bool, parallel: bool = False) -> int:
    """Each KPI gets rows for the pairs touched in any table it reads; every measure is summed once."""
    kpis = _kpis_reading(config, [t for t, p in pairs_by_table.items() if p])
    all_pairs = set().union(*pairs_by_table.values()) if pairs_by_table else set()
    if not all_pairs or not kpis:
        return 0
    periods = sorted({p for _, p in all_pairs})
    comps = {k.code: computation_for(k) for k in kpis}
    params = _runtime(config, kpis, today)
    histograms = {_histogram_key(c): _Histogram(c.median_column, c.median_where)
                  for c in comps.values() if c.family == "median"}
    approval_pairs = pairs_by_table.get("fact_approval_case", set())
    with ThreadPoolExecutor(max_workers=1) as side:
        reading = side.submit(_read_on_own_connection, conn, read_approval_counts, pairs=approval_pairs) \
            if parallel and approval_pairs else None
        sums, hists = _measure_sums(conn, (m for c in comps.values() if c.family != "median" for m in c.measures),
                                    periods, params, histograms, parallel=parallel)
        approval_counts = reading.result() if reading is not None else None
    _city_sums(sums, config.city.code, periods)
    for counts in hists.values():
        _pool_histograms(counts, config.city.code, periods)
    rows = []
    for kpi in kpis:
        comp = comps[kpi.code]
        medians = hists.get(histograms[_histogram_key(comp)], {}) if comp.family == "median" else {}
        targets = sorted(set().union(*(pairs_by_table.get(t, set()) for t in comp.tables())))
        city_rows = [(config.city.code, p) for p in sorted({p for _, p in targets})]
        rows += [_mart_row(kpi=kpi, comp=comp, config=config, pair=pair, sums=sums, medians=medians)
                 for pair in targets + city_rows]
    _replace_rows(conn, rows)
    refresh_rating_levels(conn=conn, pairs=pairs_by_table.get("fact_rating", set()))
    refresh_approval_marts(conn=conn, pairs=approval_pairs, counts=approval_counts)
    refresh_derived_values(conn=conn, config=config, kpi_codes=[k.code for k in kpis],
                           region_codes=sorted({r for r, _ in all_pairs} | {config.city.code}), since=periods[0])
    if rank:
        refresh_county_ranking(conn=conn, config=config, periods=periods)
    return len(rows)


def _read_on_own_connection(conn: Connection, read: Callable[..., T], **kwargs: object) -> T:
    """A read of committed facts on another connection of the same engine, so it can run beside `conn`'s."""
    with conn.engine.connect() as reader:
        return read(conn=reader, **kwargs)


def _histogram_key(comp: Computation) -> GroupKey:
    m = comp.numerator[0]
    return (m.table, m.period_column, False, None, m.slice_where)


def _pool_histograms(medians: dict[Pair, Counter], city: str, periods: Sequence[str]) -> None:
    for period in periods:
        pooled: Counter = Counter()
        for (region, p), hist in list(medians.items()):
            if p == period and region != city:
                pooled.update(hist)
        medians[(city, period)] = pooled


def _replace_rows(conn: Connection, rows: list[dict]) -> None:
    key_col = tuple_(MartKpiMonthly.region_code, MartKpiMonthly.period, MartKpiMonthly.kpi_code)
    keys = sorted({(r["region_code"], r["period"], r["kpi_code"]) for r in rows})
    for i in range(0, len(keys), 500):
        conn.execute(delete(MartKpiMonthly).where(key_col.in_(keys[i:i + 500])))
    for i in range(0, len(rows), 5000):
        conn.execute(insert(MartKpiMonthly), rows[i:i + 5000])


def refresh_rating_levels(*, conn: Connection, pairs: set[Pair]) -> None:
    """Recount ratings per level for the county-months a load touched (a pair with no ratings left has no rows)."""
    if not pairs:
        return
    key = tuple_(MartRatingLevelMonthly.region_code, MartRatingLevelMonthly.period)
    ordered = sorted(pairs)
    for i in range(0, len(ordered), 500):
        conn.execute(delete(MartRatingLevelMonthly).where(key.in_(ordered[i:i + 500])))
    sql = text("SELECT region_code, rated_period, level, COUNT(*) FROM fact_rating "
               "WHERE region_code IN :regions AND rated_period IN :periods "
               "GROUP BY region_code, rated_period, level").bindparams(
        bindparam("regions", expanding=True), bindparam("periods", expanding=True))
    found = conn.execute(sql, {"regions": sorted({r for r, _ in pairs}), "periods": sorted({p for _, p in pairs})})
    rows = [dict(region_code=r, period=p, level=int(level), ratings=int(n)) for r, p, level, n in found
            if (r, p) in pairs]
    if rows:
        conn.execute(insert(MartRatingLevelMonthly), rows)


FACT_MONTHS = {"fact_approval_case": "completed_period", "fact_rating": "rated_period",
               "fact_hotline_ticket": "received_period", "fact_county_figure": "period"}


def rebuild_kpi_marts(*, conn: Connection, config: Config, today: dt.date | None = None) -> int:
    """Recompute every mart row from the facts (after a config change, or to repair), as the loads would have."""
    conn.execute(delete(MartKpiMonthly))
    conn.execute(delete(MartRatingLevelMonthly))
    clear_approval_marts(conn=conn)
    pairs_by_table = {}
    for table, period_column in FACT_MONTHS.items():
        sql = f"SELECT DISTINCT region_code, {period_column} FROM {table} WHERE {period_column} IS NOT NULL"
        pairs_by_table[table] = {(r[0], r[1]) for r in conn.execute(text(sql)) if r[0] != config.city.code}
    pairs_by_table["fact_approval_case"] |= open_overdue_pairs(conn)
    n = _refresh(conn=conn, config=config, pairs_by_table=pairs_by_table, today=today, rank=False, parallel=True)
    rebuild_county_ranking(conn=conn, config=config)
    return n


# ---- derived values: year to date, rolling 3 months, change on last month and last year ---------------------


def refresh_derived_values(*, conn: Connection, config: Config, kpi_codes: Sequence[str],
                           region_codes: Sequence[str], since: str) -> int:
    """Recompute YTD, rolling and change columns of the months from `since` on, which the new values feed."""
    m = MartKpiMonthly
    start = f"{int(since[:4]) - 1}-01"
    stmt = (select(m.region_code, m.period, m.kpi_code, m.value, m.numerator, m.denominator)
            .where(m.kpi_code.in_(list(kpi_codes)), m.region_code.in_(list(region_codes)), m.period >= start))
    frame = pd.DataFrame([tuple(r) for r in conn.execute(stmt)],
                         columns=["region_code", "period", "kpi_code", "value", "numerator", "denominator"])
    if frame.empty:
        return 0
    derived = derive_values(frame, {code: computation_for(config.kpi_by_code[code]) for code in kpi_codes})
    derived = derived[derived["period"] >= since]
    if derived.empty:
        return 0
    upd = (update(m).where(m.region_code == bindparam("r"), m.period == bindparam("p"), m.kpi_code == bindparam("k"))
           .values(ytd_value=bindparam("ytd"), rolling3_value=bindparam("r3"), mom_change=bindparam("mom"),
                   yoy_change=bindparam("yoy")))
    records = [dict(r=r.region_code, p=r.period, k=r.kpi_code, ytd=_opt(r.ytd), r3=_opt(r.r3), mom=_opt(r.mom),
                    yoy=_opt(r.yoy)) for r in derived.itertuples(index=False)]
    conn.execute(upd, records)
    return len(records)


def _opt(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _month_index(period: pd.Series) -> pd.Series:
    return period.str[:4].astype(int) * 12 + period.str[5:7].astype(int) - 1


def derive_values(frame: pd.DataFrame, comps: Mapping[str, Computation]) -> pd.DataFrame:
    """YTD and rolling-3 values pooled from monthly sums (flows) or taken as is (stocks); MoM and YoY changes."""
    f = frame.copy()
    f["month"] = _month_index(f["period"])
    f["year"] = f["period"].str[:4]
    keys = ["region_code", "kpi_code"]
    f = f.sort_values([*keys, "month"])
    scale = f["kpi_code"].map({k: c.scale for k, c in comps.items()})
    family = f["kpi_code"].map({k: c.family for k, c in comps.items()})
    has_den = f["kpi_code"].map({k: bool(c.denominator) for k, c in comps.items()})
    num = f["numerator"].astype(float)
    den = f["denominator"].astype(float)
    ytd_num = num.groupby([f[k] for k in keys] + [f["year"]]).cumsum()
    ytd_den = den.groupby([f[k] for k in keys] + [f["year"]]).cumsum()
    r3_num, r3_den = (_rolling(f, num), _rolling(f, den))
    f["ytd"] = _pooled(ytd_num, ytd_den, scale, has_den)
    f["r3"] = _pooled(r3_num, r3_den, scale, has_den)
    stock = family == "stock"
    for col in ("ytd", "r3"):
        f[col] = f[col].where(~stock, f["value"].astype(float)).where(family != "median")
    by_month = f.set_index([*keys, "month"])["value"]
    for col, lag in (("mom", 1), ("yoy", 12)):
        prior = by_month.reindex(pd.MultiIndex.from_arrays([f["region_code"], f["kpi_code"], f["month"] - lag]))
        f[col] = f["value"].to_numpy(dtype=float) - prior.to_numpy(dtype=float)
    return f[["region_code", "period", "kpi_code", "ytd", "r3", "mom", "yoy"]]


def _rolling(f: pd.DataFrame, values: pd.Series) -> pd.Series:
    """The sum over this month and the two before it, counting only months that are present."""
    s = pd.Series(values.to_numpy(dtype=float), index=pd.MultiIndex.from_arrays(
        [f["region_code"], f["kpi_code"], f["month"]]))
    total = pd.Series(0.0, index=s.index)
    seen = pd.Series(False, index=s.index)
    for lag in range(3):
        shifted = s.reindex(pd.MultiIndex.from_arrays([f["region_code"], f["kpi_code"], f["month"] - lag]))
        present = shifted.notna().to_numpy()
        total = total + shifted.fillna(0.0).to_numpy()
        seen = seen | present
    return pd.Series(np.where(seen.to_numpy(), total.to_numpy(), np.nan), index=values.index)


def _pooled(num: pd.Series, den: pd.Series, scale: pd.Series, has_den: pd.Series) -> pd.Series:
    ratio = np.where(has_den, num / den.where(den != 0), num)
    return pd.Series(ratio * scale.to_numpy(dtype=float), index=num.index)


# ---- reads shared by the dashboard and the bulletin ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KpiCard:
    """A headline KPI for one region and month, with its change against the previous month."""

    kpi_code: str
    name_zh: str
    name_en: str
    unit: str
    direction: str
    period: str
    value: float | None
    previous_value: float | None
    change: float | None
    improved: bool | None
    target: float | None
    target_met: bool | None
    sample_size: int


def previous_period(period: str) -> str:
    """The month before a `YYYY-MM` period."""
    year, month = int(period[:4]), int(period[5:7])
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def span_months(first: str, until: str | None, latest: str) -> list[str]:
    """The months a fact counts in from `first` to the month before `until`, or through `latest` while it is open.

    An overdue case counts as open-overdue at every month end from its due month until it is completed, so a load
    that adds or changes one makes all those months stale, and a rebuild must compute them.
    """
    last = previous_period(until) if until else latest
    return list(_month_range(first, last)) if first <= last else []


@functools.lru_cache(maxsize=4096)
def _month_range(first: str, last: str) -> tuple[str, ...]:
    """Cached: a load asks for the same few spans thousands of times, and a pandas period range costs ~0.1 ms."""
    return tuple(str(m) for m in pd.period_range(first, last, freq="M"))


def open_overdue_pairs(conn: Connection) -> set[Pair]:
    """(region, month) pairs with a case open past its due date at the month end, through the latest month loaded."""
    latest = conn.scalar(text("SELECT MAX(completed_period) FROM fact_approval_case"))
    if latest is None:
        return set()
    sql = (f"SELECT DISTINCT region_code, due_period, completed_period FROM fact_approval_case "
           f"WHERE {OVERDUE_INDEX_WHERE}")
    rows = conn.execute(text(sql))
    return {(region, month) for region, due, done in rows for month in span_months(due, done, latest)}


def _is_better(kpi: KpiDefinition, a: float, b: float) -> bool:
    return a > b if kpi.direction == "higher_is_better" else a < b


def _visible_regions(viewer: Viewer, region_codes: Sequence[str] | None) -> Sequence[str] | None:
    # KPI values of every region are visible to every role (only case-level detail is scoped).
    del viewer
    return region_codes


def current_period(tz: str, today: dt.date | None = None) -> str:
    """The month that is still running in the city's timezone."""
    today = today or dt.datetime.now(ZoneInfo(tz)).date()
    return f"{today.year}-{today.month:02d}"


def available_periods(*, session: Session, viewer: Viewer, before: str | None = None) -> list[str]:
    """Months with KPI values, oldest first; `before` leaves out that month and later (months still running)."""
    del viewer
    stmt = select(MartKpiMonthly.period).distinct().order_by(MartKpiMonthly.period)
    if before is not None:
        stmt = stmt.where(MartKpiMonthly.period < before)
    return list(session.scalars(stmt))


def read_kpi_monthly(
    *,
    session: Session,
    viewer: Viewer,
    kpi_codes: Sequence[str],
    periods: Sequence[str] | None = None,
    region_codes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mart rows as a frame: region_code, period, kpi_code, value, numerator, denominator, sample_size."""
    m = MartKpiMonthly
    stmt = select(m.region_code, m.period, m.kpi_code, m.value, m.numerator, m.denominator, m.sample_size)
    stmt = stmt.where(m.kpi_code.in_(list(kpi_codes)))
    if periods is not None:
        stmt = stmt.where(m.period.in_(list(periods)))
    regions = _visible_regions(viewer, region_codes)
    if regions is not None:
        stmt = stmt.where(m.region_code.in_(list(regions)))
    rows = session.execute(stmt.order_by(m.period, m.region_code, m.kpi_code))
    return rows_frame(rows, ["region_code", "period", "kpi_code", "value", "numerator", "denominator", "sample_size"])


def kpi_cards(
    *, session: Session, viewer: Viewer, config: Config, period: str, region_code: str | None = None
) -> list[KpiCard]:
    """Headline cards for a region (the city by default) in a month, in config order."""
    region = region_code or config.city.code
    prev = previous_period(period)
    frame = read_kpi_monthly(session=session, viewer=viewer, kpi_codes=[k.code for k in config.kpis],
                             periods=[period, prev], region_codes=[region])
    values = {(r.kpi_code, r.period): (r.value, r.sample_size) for r in frame.itertuples()}
    cards = []
    for kpi in config.kpis:
        value, n = values.get((kpi.code, period), (None, 0))
        previous, _ = values.get((kpi.code, prev), (None, 0))
        value = None if pd.isna(value) else float(value)
        previous = None if previous is None or pd.isna(previous) else float(previous)
        change = value - previous if value is not None and previous is not None else None
        improved = None if change is None or change == 0 else _is_better(kpi, value, previous)
        target = kpi.target_for(period)
        met = None if value is None or target is None else (value == target or _is_better(kpi, value, target))
        cards.append(KpiCard(kpi.code, kpi.name_zh, kpi.name_en, kpi.unit, kpi.direction, period, value,
                             previous, change, improved, target, met, int(n)))
    return cards


def county_comparison(
    *, session: Session, viewer: Viewer, config: Config, period: str, kpi_code: str
) -> pd.DataFrame:
    """Every unit's value of one KPI in a month, best first, with names for both languages and the city value."""
    kpi = config.kpi_by_code[kpi_code]
    frame = read_kpi_monthly(session=session, viewer=viewer, kpi_codes=[kpi_code], periods=[period])
    regions = pd.DataFrame(
        session.execute(select(DimRegion.code, DimRegion.name_zh, DimRegion.name_en, DimRegion.short_zh,
                               DimRegion.short_en, DimRegion.level, DimRegion.sort_order)).all(),
        columns=["region_code", "name_zh", "name_en", "short_zh", "short_en", "level", "sort_order"],
    )
    out = regions.merge(frame[["region_code", "value", "sample_size"]], on="region_code", how="left")
    out["sample_size"] = out["sample_size"].fillna(0).astype(int)
    out["city_value"] = out.loc[out["level"] == "city", "value"].squeeze() if (out["level"] == "city").any() else None
    counties = out[out["level"] == "county"].copy()
    counties = counties.sort_values(["value", "sort_order"], ascending=[kpi.direction == "lower_is_better", True],
                                    na_position="last")
    return counties.drop(columns=["level"]).reset_index(drop=True)


def data_as_of(*, session: Session) -> dt.datetime | None:
    """When the last successful ETL run finished: the page's 数据截至."""
    return session.scalar(select(func.max(EtlRun.finished_at)).where(EtlRun.status == "success"))
