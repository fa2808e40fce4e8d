"""KPI semantic layer: named computations, mart refresh in SQL, and the reads the dashboard and bulletin share.

A KPI's definition (names, unit, direction, target) lives in config.yaml; its `computation` names one of
COMPUTATIONS below. Every computation is a ratio of sums over one fact table's rows in a (region, month) slice,
computed with GROUP BY in the warehouse, so a city value is always pooled from counts, never an average of
county values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, tuple_
from sqlalchemy.orm import Session

from models.config import Config, KpiDefinition
from models.dims import DimRegion
from models.marts import MartKpiMonthly
from models.ops import EtlRun
from models.scope import Viewer


@dataclass(frozen=True, slots=True)
class RatioComputation:
    """value = scale × Σ numerator / Σ denominator over the rows of `table` that match `where`."""

    table: str
    period_column: str
    numerator: str
    denominator: str
    where: str
    scale: float = 1.0


_COMPLETED = "status = 'completed'"
_CLOSED_TICKETS = "closed_at IS NOT NULL"


def _positive_rate(params: Mapping[str, object]) -> RatioComputation:
    """好评率: 非常满意 + 满意 (+ 基本满意 unless `count_basic_satisfied` is false) over all ratings."""
    lowest_positive = 3 if params.get("count_basic_satisfied", True) else 4
    return RatioComputation(table="fact_rating", period_column="rated_period",
                            numerator=f"CASE WHEN level >= {lowest_positive} THEN 1 ELSE 0 END", denominator="1",
                            where="1 = 1")


COMPUTATIONS: dict[str, RatioComputation | Callable[[Mapping[str, object]], RatioComputation]] = {
    # Approvals: the population is the cases completed in the month (by completed_period).
    "approval_mean_working_days": RatioComputation(
        table="fact_approval_case", period_column="completed_period", numerator="working_days", denominator="1",
        where=_COMPLETED,
    ),
    # A case without a promised limit (unknown item, none on the case) cannot be judged on time or late.
    "approval_on_time_rate": RatioComputation(
        table="fact_approval_case", period_column="completed_period",
        numerator="CASE WHEN working_days <= promised_days THEN 1 ELSE 0 END", denominator="1",
        where=f"{_COMPLETED} AND promised_days IS NOT NULL",
    ),
    "approval_online_rate": RatioComputation(
        table="fact_approval_case", period_column="completed_period",
        numerator="CASE WHEN fully_online THEN 1 ELSE 0 END", denominator="1", where=_COMPLETED,
    ),
    "approval_mean_visits": RatioComputation(
        table="fact_approval_case", period_column="completed_period", numerator="visits", denominator="1",
        where=_COMPLETED,
    ),
    "approval_zero_visit_share": RatioComputation(
        table="fact_approval_case", period_column="completed_period",
        numerator="CASE WHEN visits = 0 THEN 1 ELSE 0 END", denominator="1", where=_COMPLETED,
    ),
    # Ratings (好差评): the population is the ratings given in the month.
    "rating_positive_rate": _positive_rate,
    # 12345 hotline: the population is the tickets received in the month that have the outcome measured.
    "hotline_resolution_rate": RatioComputation(
        table="fact_hotline_ticket", period_column="received_period",
        numerator="CASE WHEN resolved THEN 1 ELSE 0 END", denominator="1", where="resolved IS NOT NULL",
    ),
    "hotline_satisfaction_rate": RatioComputation(
        table="fact_hotline_ticket", period_column="received_period",
        numerator="CASE WHEN satisfaction IN ('satisfied', 'basically_satisfied') THEN 1 ELSE 0 END",
        denominator="1", where="satisfaction IS NOT NULL",
    ),
    "hotline_reopen_rate": RatioComputation(
        table="fact_hotline_ticket", period_column="received_period",
        numerator="CASE WHEN reopen_count > 0 THEN 1 ELSE 0 END", denominator="1", where=_CLOSED_TICKETS,
    ),
}


def computation_for(kpi: KpiDefinition) -> RatioComputation:
    """The SQL computation of a KPI, with its parameters applied."""
    comp = COMPUTATIONS[kpi.computation]
    return comp if isinstance(comp, RatioComputation) else comp(kpi.params)


Pair = tuple[str, str]  # (region_code, period)


Sums = tuple[float | None, float | None, int]  # (Σ numerator, Σ denominator, rows in the population)


def _slice_sql(table: str, period_column: str, comps: Sequence[RatioComputation]) -> str:
    """One GROUP BY over a fact table's months that sums every KPI computed from that table."""
    sums = ", ".join(
        f"SUM(CASE WHEN {c.where} THEN {c.numerator} END) AS num_{i}, "
        f"SUM(CASE WHEN {c.where} THEN {c.denominator} END) AS den_{i}, "
        f"SUM(CASE WHEN {c.where} THEN 1 ELSE 0 END) AS n_{i}"
        for i, c in enumerate(comps))
    return (f"SELECT region_code, {period_column} AS period, {sums} FROM {table} "
            f"WHERE {period_column} IN :periods GROUP BY region_code, {period_column}")


def _slice_sums(conn: Connection, table: str, period_column: str, comps: Sequence[RatioComputation],
                periods: list[str]) -> dict[Pair, list[Sums]]:
    """Per (region, month): the sums of each computation, from one scan of the months' indexed slice."""
    stmt = text(_slice_sql(table, period_column, comps)).bindparams(bindparam("periods", expanding=True))
    out: dict[Pair, list[Sums]] = {}
    for row in conn.execute(stmt, {"periods": periods}):
        out[(row.region_code, row.period)] = [
            (_float(row[2 + 3 * i]), _float(row[3 + 3 * i]), int(row[4 + 3 * i] or 0)) for i in range(len(comps))]
    return out


def _float(value: object) -> float | None:
    return None if value is None else float(value)


def _add(a: Sums, b: Sums) -> Sums:
    """Pool two units' sums: the city is pooled from counts, never averaged from rates."""
    def plus(x: float | None, y: float | None) -> float | None:
        return y if x is None else x if y is None else x + y
    return plus(a[0], b[0]), plus(a[1], b[1]), a[2] + b[2]


def _mart_row(kpi: KpiDefinition, comp: RatioComputation, region: str, period: str, sums: Sums | None) -> dict:
    num, den, n = sums if sums is not None else (None, None, 0)
    value = comp.scale * num / den if num is not None and den else None
    return dict(region_code=region, period=period, kpi_code=kpi.code, value=value, numerator=num,
                denominator=den, sample_size=n)


def _kpi_groups(config: Config, tables: Iterable[str] | None) -> dict[tuple[str, str], list[KpiDefinition]]:
    wanted = set(tables) if tables is not None else None
    groups: dict[tuple[str, str], list[KpiDefinition]] = {}
    for kpi in config.kpis:
        comp = computation_for(kpi)
        if wanted is None or comp.table in wanted:
            groups.setdefault((comp.table, comp.period_column), []).append(kpi)
    return groups


def refresh_kpi_marts(
    *, conn: Connection, config: Config, pairs: Iterable[Pair], tables: Iterable[str] | None = None
) -> int:
    """Recompute `mart_kpi_monthly` for exactly the touched (region, month) pairs, plus the city for those months."""
    pairs = {p for p in pairs if p[1]}
    if not pairs:
        return 0
    periods = sorted({p for _, p in pairs})
    rows: list[dict] = []
    for (table, period_column), kpis in _kpi_groups(config, tables).items():
        comps = [computation_for(k) for k in kpis]
        sums = _slice_sums(conn, table, period_column, comps, periods)
        for i, (kpi, comp) in enumerate(zip(kpis, comps, strict=True)):
            city: dict[str, Sums] = {}
            for (_region, period), per_kpi in sums.items():
                city[period] = _add(city.get(period, (None, None, 0)), per_kpi[i])
            rows += [_mart_row(kpi, comp, region, period, sums[(region, period)][i] if (region, period) in sums
                               else None) for region, period in pairs]
            rows += [_mart_row(kpi, comp, config.city.code, period, city.get(period)) for period in periods]
    if not rows:
        return 0
    keys = {(r["region_code"], r["period"], r["kpi_code"]) for r in rows}
    key_col = tuple_(MartKpiMonthly.region_code, MartKpiMonthly.period, MartKpiMonthly.kpi_code)
    key_list = sorted(keys)
    for i in range(0, len(key_list), 500):
        conn.execute(delete(MartKpiMonthly).where(key_col.in_(key_list[i:i + 500])))
    conn.execute(insert(MartKpiMonthly), rows)
    return len(rows)


def rebuild_kpi_marts(*, conn: Connection, config: Config) -> int:
    """Recompute every mart row from the facts (after a config change, or to repair), table by table."""
    conn.execute(delete(MartKpiMonthly))
    n = 0
    for table, period_column in _kpi_groups(config, None):
        sql = f"SELECT DISTINCT region_code, {period_column} FROM {table} WHERE {period_column} IS NOT NULL"
        pairs = {(r[0], r[1]) for r in conn.execute(text(sql))}
        n += refresh_kpi_marts(conn=conn, config=config, pairs=pairs, tables=[table])
    return n


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
    rows = session.execute(stmt.order_by(m.period, m.region_code, m.kpi_code)).all()
    cols = ["region_code", "period", "kpi_code", "value", "numerator", "denominator", "sample_size"]
    return pd.DataFrame(rows, columns=cols)


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
