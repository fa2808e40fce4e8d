"""Reads for the ranking and county-profile pages: small frames from the KPI and ranking marts, scoped by viewer.

Ranking and KPI values of every county are visible to every role (county bureaus compare themselves with the
others); case-level detail is scoped in `models/details.py`. Each read still takes the viewer, so a later rule
lands here and not in the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.computations import computation_for
from models.config import PILLARS, Config, KpiDefinition
from models.dims import DimRegion
from models.kpis import available_periods, read_kpi_monthly
from models.marts import MartCountyRanking, MartKpiMonthly
from models.ranking import (
    RankChangeExplanation,
    dtf_score,
    explain_rank_change,
    read_county_ranking,
    read_indicator_scores,
)
from models.scope import Viewer

NAME_COLUMNS = ["name_zh", "name_en", "short_zh", "short_en"]


def shift_period(period: str, months: int) -> str:
    """`YYYY-MM` moved by a number of months."""
    index = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{index // 12}-{index % 12 + 1:02d}"


def family_of(kpi: KpiDefinition) -> str:
    """The sampling family of a KPI ('proportion', 'per_10k', 'mean', …)."""
    return getattr(computation_for(kpi), "family", "ratio")


def funnel_kpis(config: Config) -> list[KpiDefinition]:
    """The KPIs a funnel plot suits: proportions, whose control limits follow from the binomial."""
    return [k for k in config.kpis if family_of(k) == "proportion"]


def _regions(session: Session) -> pd.DataFrame:
    d = DimRegion
    rows = session.execute(select(d.code, d.name_zh, d.name_en, d.short_zh, d.short_en, d.level, d.sort_order)).all()
    return pd.DataFrame(rows, columns=["region_code", *NAME_COLUMNS, "level", "sort_order"])


def ranking_periods(*, session: Session, viewer: Viewer, before: str | None = None) -> list[str]:
    """Months that have a county ranking, newest first; `before` leaves out that month and later."""
    # Rankings are visible to every role; the viewer only matters for the fallback to KPI months.
    stmt = select(MartCountyRanking.period).distinct().order_by(MartCountyRanking.period.desc())
    if before is not None:
        stmt = stmt.where(MartCountyRanking.period < before)
    periods = list(session.scalars(stmt))
    return periods or available_periods(session=session, viewer=viewer, before=before)[::-1]


def county_ranking(*, session: Session, viewer: Viewer, config: Config, period: str) -> pd.DataFrame:
    """A month's ranking, best first, with names, tie groups and a `listed` column: 'red', 'black' or None.

    The red list (红榜) holds the counties ranked in the top `size` (a county tied with the last place is listed
    too); the black list (黑榜) the bottom `size` counted from the bottom the same way; no county is on both.
    """
    del viewer
    frame = read_county_ranking(session=session, config=config, period=period)
    frame["listed"] = red_black(frame, size=list_size(config))
    return frame


def list_size(config: Config) -> int:
    """How many counties each of the red and black lists holds (the bulletin's setting when there is one)."""
    return int(getattr(getattr(config, "bulletin", None), "list_size", 3))


def red_black(ranking: pd.DataFrame, *, size: int) -> list[str | None]:
    """'red' / 'black' / None per row, ties honoured on both ends, red winning when the lists would overlap."""
    if ranking.empty:
        return []
    composite = pd.to_numeric(ranking["composite"], errors="coerce").round(9)
    ranked = composite.notna() & ranking["rank"].notna()
    from_bottom = composite.map(lambda c: 1 + int((composite[ranked] < c).sum()) if pd.notna(c) else None)
    out: list[str | None] = []
    for is_ranked, rank, bottom in zip(ranked, ranking["rank"], from_bottom, strict=True):
        if not is_ranked:
            out.append(None)
        elif rank <= size:
            out.append("red")
        elif bottom is not None and bottom <= size:
            out.append("black")
        else:
            out.append(None)
    return out


def indicator_scores(*, session: Session, viewer: Viewer, config: Config, period: str,
                     region_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """A month's indicator scores per county with names, for the heatmap."""
    del viewer
    frame = read_indicator_scores(session=session, config=config, period=period, region_codes=region_codes)
    return frame.merge(_regions(session).drop(columns=["level"]), on="region_code", how="left")


def rank_history(*, session: Session, viewer: Viewer, config: Config, period: str, months: int = 12) -> pd.DataFrame:
    """Each county's rank and composite over the `months` months ending with `period`, oldest first."""
    del viewer
    periods = [shift_period(period, -i) for i in range(months - 1, -1, -1)]
    r = MartCountyRanking
    rows = session.execute(select(r.region_code, r.period, r.rank, r.composite)
                           .where(r.period.in_(periods), r.region_code.in_(config.unit_codes()))).all()
    frame = pd.DataFrame(rows, columns=["region_code", "period", "rank", "composite"])
    frame = frame.merge(_regions(session).drop(columns=["level"]), on="region_code", how="left")
    return frame.sort_values(["period", "sort_order"]).reset_index(drop=True)


def funnel_rows(*, session: Session, viewer: Viewer, config: Config, period: str, kpi_code: str) -> pd.DataFrame:
    """One proportion KPI for a month: each county's numerator, denominator and value, and the city's pooled rate."""
    frame = read_kpi_monthly(session=session, viewer=viewer, kpi_codes=[kpi_code], periods=[period],
                             region_codes=[*config.unit_codes(), config.city.code])
    city = frame[frame["region_code"] == config.city.code]
    counties = frame[frame["region_code"] != config.city.code]
    counties = counties.merge(_regions(session).drop(columns=["level"]), on="region_code", how="left")
    num, den = city["numerator"].sum(), city["denominator"].sum()
    if not (den > 0):
        num, den = counties["numerator"].sum(), counties["denominator"].sum()
    counties = counties.assign(city_rate=float(num / den) if den > 0 else np.nan)
    return counties.sort_values("sort_order").reset_index(drop=True)


# ---- the county profile ----------------------------------------------------------------------------------------


def pillar_scores(*, session: Session, viewer: Viewer, config: Config, period: str,
                  region_code: str) -> dict[str, dict[str, float | None]]:
    """Pillar scores of the county, the best-ranked county and the city (the city's own values, same bounds)."""
    out: dict[str, dict[str, float | None]] = {}
    if config.ranking is not None and config.index_kpis():
        # Only the scores are needed: one small select, not the whole named and tie-grouped ranking frame.
        r, d = MartCountyRanking, DimRegion
        rows = session.execute(
            select(r.region_code, r.rank, r.composite, *(getattr(r, f"score_{p}") for p in PILLARS))
            .outerjoin(d, d.code == r.region_code).where(r.period == period)
            .order_by(r.rank.is_(None), r.rank, d.sort_order.is_(None), d.sort_order)).all()
        own = next((row for row in rows if row.region_code == region_code), None)
        best = next((row for row in rows if row.rank is not None), None)
        for key, row in (("county", own), ("best", best)):
            if row is not None:
                out[key] = {p: _opt(getattr(row, f"score_{p}")) for p in PILLARS} | {
                    "composite": _opt(row.composite), "region_code": row.region_code}
    out["city"] = city_scores(session=session, viewer=viewer, config=config, period=period)
    return out


def city_scores(*, session: Session, viewer: Viewer, config: Config, period: str) -> dict[str, float | None]:
    """The city's pillar scores and composite: its pooled values scored against the counties' fixed bounds."""
    kpis = config.index_kpis()
    if config.ranking is None or not kpis:
        return {}
    frame = read_kpi_monthly(session=session, viewer=viewer, kpi_codes=[k.code for k in kpis], periods=[period],
                             region_codes=[config.city.code])
    values = frame.set_index("kpi_code")["value"].reindex([k.code for k in kpis]).astype(float).to_numpy()
    bounds = [k.bounds_for(period) for k in kpis]
    scores = dtf_score(values, np.array([b.best for b in bounds]), np.array([b.worst for b in bounds]))
    out: dict[str, float | None] = {}
    weights, total = 0.0, 0.0
    for pillar in PILLARS:
        picked = [s for s, k in zip(scores, kpis, strict=True) if k.pillar == pillar and not np.isnan(s)]
        out[pillar] = float(np.mean(picked)) if picked else None
        weight = config.ranking.pillar_weights.get(pillar, 0.0)
        if picked and weight > 0:
            weights += weight
            total += weight * out[pillar]
    out["composite"] = total / weights if weights > 0 else None
    return out


def _opt(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def kpi_comparison(*, session: Session, viewer: Viewer, config: Config, period: str,
                   region_code: str) -> pd.DataFrame:
    """Every KPI in config order: the county's value and status, the city's value, and the best county's.

    The best county of a KPI is the best value among counties measured on at least the KPI's `min_sample`
    (a county with 3 cases at 100% is not "the best").
    """
    del viewer
    m = MartKpiMonthly
    order = {code: i for i, code in enumerate(config.unit_codes())}
    units = set(order)
    rows = session.execute(select(m.region_code, m.kpi_code, m.value, m.sample_size, m.target_status)
                           .where(m.period == period, m.region_code.in_([*order, config.city.code]))).all()
    # One pass over the month's ~12 × KPIs rows in plain Python: a pandas filter per KPI cost more than the read.
    own: dict[str, tuple] = {}
    city: dict[str, tuple] = {}
    peers: dict[str, list[tuple]] = {}
    for row in rows:
        if row.region_code == region_code:
            own[row.kpi_code] = row
        if row.region_code == config.city.code:
            city[row.kpi_code] = row
        elif row.region_code in units and _plain(row.value) is not None:
            peers.setdefault(row.kpi_code, []).append(row)
    names = {r.region_code: r for r in _regions(session).itertuples(index=False)}
    out = []
    for kpi in config.kpis:
        mine, pooled = own.get(kpi.code), city.get(kpi.code)
        sign = 1.0 if kpi.direction == "lower_is_better" else -1.0
        # The best value on enough sample; a tie goes to the county first in config order.
        eligible = [r for r in peers.get(kpi.code, ()) if r.sample_size is not None and r.sample_size >= kpi.min_sample]
        best = min(eligible, key=lambda r: (sign * float(r.value), order[r.region_code])) if eligible else None
        best_code = best.region_code if best is not None else None
        named = names.get(best_code)
        out.append({
            "kpi_code": kpi.code, "pillar": kpi.pillar, "unit": kpi.unit,
            "value": _plain(mine.value) if mine else None, "sample_size": int((mine.sample_size if mine else 0) or 0),
            "target_status": mine.target_status if mine else None, "target": kpi.target_for(period),
            "city_value": _plain(pooled.value) if pooled else None,
            "best_value": _plain(best.value) if best is not None else None, "best_code": best_code,
            **{f"best_{c}": (getattr(named, c) if named is not None else None) for c in NAME_COLUMNS},
        })
    return pd.DataFrame(out)


def _plain(value: object) -> object:
    """A database value as a plain Python number (None for NULL or NaN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def kpi_trend(*, session: Session, viewer: Viewer, config: Config, region_code: str, kpi_code: str, period: str,
              months: int = 24) -> pd.DataFrame:
    """One KPI of the county and the city over the `months` months ending with `period`: period, series, value."""
    periods = [shift_period(period, -i) for i in range(months - 1, -1, -1)]
    frame = read_kpi_monthly(session=session, viewer=viewer, kpi_codes=[kpi_code], periods=periods,
                             region_codes=[region_code, config.city.code])
    frame["series"] = np.where(frame["region_code"] == config.city.code, "city", "county")
    return frame[["period", "series", "value", "sample_size"]].reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class RankStory:
    """The county's rank this month and the indicators that moved its composite, with their values."""

    rank: int | None
    rank_low: int | None
    rank_high: int | None
    rank_change: int | None
    composite: float | None
    previous_composite: float | None
    units: int
    explanation: RankChangeExplanation
    values: dict[str, tuple[float | None, float | None]]  # kpi_code -> (this month, last month), as measured


def rank_story(*, session: Session, viewer: Viewer, config: Config, region_code: str, period: str) -> RankStory:
    """Why the county's rank moved: explain_rank_change with the rank, the composite and the indicator values."""
    previous = shift_period(period, -1)
    explanation = explain_rank_change(session=session, config=config, region_code=region_code, period=period)
    r = MartCountyRanking
    rows = {p: (rank, low, high, change, composite) for p, rank, low, high, change, composite in session.execute(
        select(r.period, r.rank, r.rank_low, r.rank_high, r.rank_change, r.composite)
        .where(r.region_code == region_code, r.period.in_([period, previous])))}
    now = rows.get(period, (None,) * 5)
    codes = [c.kpi_code for c in (*explanation.gains, *explanation.losses)]
    values: dict[str, tuple[float | None, float | None]] = {}
    if codes:
        frame = read_kpi_monthly(session=session, viewer=viewer, kpi_codes=codes, periods=[period, previous],
                                 region_codes=[region_code])
        got = {(row.kpi_code, row.period): _opt(row.value) for row in frame.itertuples()}
        values = {c: (got.get((c, period)), got.get((c, previous))) for c in codes}
    return RankStory(rank=now[0], rank_low=now[1], rank_high=now[2], rank_change=now[3], composite=_opt(now[4]),
                     previous_composite=_opt(rows.get(previous, (None,) * 5)[4]), units=len(config.unit_codes()),
                     explanation=explanation, values=values)
