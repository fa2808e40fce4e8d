"""County ranking: a distance-to-frontier composite index, small-sample shrinkage and honest rank intervals.

The core (`score_month`) is pure pandas/numpy on one month's `mart_kpi_monthly` rows; the service functions at
the bottom read and write the two small ranking marts and never touch the fact tables.

- Score of an indicator: 100 × (worst − y) / (worst − best), clipped to [0, 100], with the year's fixed bounds.
- Pillar score: mean of the pillar's scored indicators. Composite: pillar scores weighted by
  `ranking.pillar_weights`, renormalised over the pillars that have a score. `points` of an indicator is its share
  of the composite, so the points of a county add up to its composite.
- A rate measured on fewer than `min_sample` cases is shrunk toward the city rate (empirical Bayes: beta-binomial
  for proportions, gamma-Poisson for per-10k rates) or left out, per `ranking.small_sample`. Other families under
  `min_sample` are always left out.
- Rank interval: `ranking.draws` plausible worlds drawn from each rate's posterior, each rescored and reranked;
  the central `ranking.interval` of a county's ranks is [rank_low, rank_high].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from models.computations import computation_for
from models.config import PILLARS, Config, KpiDefinition
from models.db import rows_frame
from models.dims import DimRegion
from models.marts import MartCountyIndicatorScore, MartCountyRanking, MartKpiMonthly

FamilyOf = Callable[[KpiDefinition], str]

# Prior strength of the beta-binomial prior, in pseudo-cases: never weaker than 2 cases, never stronger than 1000.
BETA_STRENGTH_FLOOR, BETA_STRENGTH_CEILING = 2.0, 1000.0
# Prior strength of the gamma-Poisson prior, in pseudo-events (its shape): between 1 and 1000 events.
GAMMA_SHAPE_FLOOR, GAMMA_SHAPE_CEILING = 1.0, 1000.0
JEFFREYS = 0.5  # the prior pseudo-count of a rate that is not shrunk, for its rank-interval draws
PER_10K = 10_000.0

INDICATOR_COLUMNS = ["region_code", "period", "kpi_code", "value", "adjusted_value", "sample_size", "score",
                     "points", "flag"]
RANKING_COLUMNS = ["region_code", "period", "composite", *[f"score_{p}" for p in PILLARS], "rank", "rank_change",
                   "rank_low", "rank_high", "indicators_scored", "flags"]


def default_family(kpi: KpiDefinition) -> str:
    """The sampling family of a KPI's computation ('ratio', with no sampling notion, until the KPI layer says)."""
    return getattr(computation_for(kpi), "family", "ratio")


# ---- small vectorised helpers ----------------------------------------------------------------------------------


def wilson_interval(successes: np.ndarray | Sequence[float] | float, trials: np.ndarray | Sequence[float] | float,
                    z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion, elementwise; NaN where there are no trials."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_ok = np.where(n > 0, n, np.nan)
        p = x / n_ok
        denom = 1 + z * z / n_ok
        centre = (p + z * z / (2 * n_ok)) / denom
        half = z * np.sqrt(p * (1 - p) / n_ok + z * z / (4 * n_ok * n_ok)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def dtf_score(values: np.ndarray, best: np.ndarray | float, worst: np.ndarray | float) -> np.ndarray:
    """World Bank distance to frontier: 100 at `best`, 0 at `worst`, clipped; NaN stays NaN."""
    best, worst = np.asarray(best, dtype=float), np.asarray(worst, dtype=float)
    return np.clip(100.0 * (worst - np.asarray(values, dtype=float)) / (worst - best), 0.0, 100.0) + 0.0  # no -0.0


def min_rank(composite: np.ndarray) -> np.ndarray:
    """Rank along the last axis, 1 = highest, ties share the smallest rank; NaN composites get NaN."""
    c = np.round(np.asarray(composite, dtype=float), 9)  # float noise must not break a tie of equal scores
    higher = (c[..., None, :] > c[..., :, None]).sum(axis=-1)  # how many others are strictly better
    return np.where(np.isnan(c), np.nan, 1.0 + higher)


def _moment_variance(counts: np.ndarray, sizes: np.ndarray, mean: float, within: float) -> float | None:
    """DerSimonian-Laird between-unit variance of rates counts/sizes around `mean` (None if not estimable)."""
    ok = np.isfinite(counts) & np.isfinite(sizes) & (sizes > 0)
    x, n = counts[ok], sizes[ok]
    total = n.sum()
    spread = total - (n * n).sum() / total if len(n) else 0.0
    if len(n) < 3 or spread <= 0 or within <= 0:
        return None
    scatter = (n * (x / n - mean) ** 2).sum()
    return max((scatter - (len(n) - 1) * within) / spread, 0.0)


def fit_beta_prior(*, successes: np.ndarray, trials: np.ndarray, mean: float, fallback: float) -> tuple[float, float]:
    """Beta(α, β) prior of the counties' true rates: mean = the city rate, strength α+β by method of moments."""
    mean = float(np.clip(mean, 1e-6, 1 - 1e-6))  # a city at exactly 0 or 1 would make α or β zero
    tau2 = _moment_variance(np.asarray(successes, float), np.asarray(trials, float), mean, mean * (1 - mean))
    strength = fallback if tau2 is None else (np.inf if tau2 == 0 else mean * (1 - mean) / tau2 - 1)
    strength = float(np.clip(strength, BETA_STRENGTH_FLOOR, BETA_STRENGTH_CEILING))
    return mean * strength, (1 - mean) * strength


def fit_gamma_prior(*, events: np.ndarray, exposure: np.ndarray, mean: float, fallback: float) -> tuple[float, float]:
    """Gamma(shape, rate) prior of the counties' true event rates per unit of exposure, mean = the city rate."""
    if mean <= 0:
        return np.inf, np.inf  # no events anywhere: nothing to shrink toward but zero
    tau2 = _moment_variance(np.asarray(events, float), np.asarray(exposure, float), mean, mean)
    shape = fallback if tau2 is None else (np.inf if tau2 == 0 else mean * mean / tau2)
    shape = float(np.clip(shape, GAMMA_SHAPE_FLOOR, GAMMA_SHAPE_CEILING))
    return shape, shape / mean


# ---- one month, in memory --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthScores:
    """The rows of `mart_county_indicator_score` and `mart_county_ranking` for one month."""

    indicators: pd.DataFrame
    ranking: pd.DataFrame


@dataclass(frozen=True)
class _Inputs:
    """One month as (county × indicator) arrays, in config order."""

    units: list[str]
    kpis: list[KpiDefinition]
    value: np.ndarray
    num: np.ndarray
    den: np.ndarray
    size: np.ndarray
    city_rate: np.ndarray  # per indicator: pooled numerator / denominator of the city row (or of the counties)
    family: list[str]


@dataclass(frozen=True)
class _Adjusted:
    """What is scored, why, and the posterior each value is drawn from for the rank interval."""

    value: np.ndarray
    flag: np.ndarray
    post_a: np.ndarray  # beta α / gamma shape
    post_b: np.ndarray  # beta β / gamma rate (per unit of exposure)
    kind: np.ndarray  # 'beta', 'gamma' or 'fixed'


def _inputs(mart: pd.DataFrame, config: Config, period: str, family_of: FamilyOf) -> _Inputs:
    units, kpis = config.unit_codes(), config.index_kpis()
    codes = [k.code for k in kpis]
    rows = mart[mart["period"] == period] if "period" in mart.columns else mart
    rows = rows.drop_duplicates(["region_code", "kpi_code"]).set_index(["region_code", "kpi_code"])
    cols = ["value", "numerator", "denominator", "sample_size"]
    rows = rows.reindex(columns=cols).astype(float)
    grid = rows.reindex(pd.MultiIndex.from_product([units, codes]))
    shape = (len(units), len(codes))
    arrays = {c: grid[c].to_numpy(dtype=float).reshape(shape) for c in cols}
    city = rows.reindex(pd.MultiIndex.from_product([[config.city.code], codes]))
    city_num, city_den = city["numerator"].to_numpy(float), city["denominator"].to_numpy(float)
    pooled_num, pooled_den = np.nansum(arrays["numerator"], axis=0), np.nansum(arrays["denominator"], axis=0)
    use_city = np.isfinite(city_num) & np.isfinite(city_den) & (city_den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        city_rate = np.where(use_city, city_num / city_den, pooled_num / pooled_den)
    return _Inputs(units, kpis, arrays["value"], arrays["numerator"], arrays["denominator"],
                   arrays["sample_size"], city_rate, [family_of(k) for k in kpis])


def _beta_posterior(x: np.ndarray, n: np.ndarray, shrunk: np.ndarray, mean: float,
                    fallback: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beta posterior of each county's rate: the fitted city prior when shrunk, Jeffreys' otherwise."""
    alpha, beta = fit_beta_prior(successes=x, trials=n, mean=mean, fallback=fallback)
    a, b = np.where(shrunk, x + alpha, x + JEFFREYS), np.where(shrunk, n - x + beta, n - x + JEFFREYS)
    return a, b, a / (a + b)


def _gamma_posterior(y: np.ndarray, e: np.ndarray, shrunk: np.ndarray,
                     mean: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gamma posterior (shape, rate) of each county's event rate per unit of exposure, and its mean per 10k."""
    shape, rate = fit_gamma_prior(events=y, exposure=e, mean=mean, fallback=GAMMA_SHAPE_FLOOR)
    if np.isinf(shape):  # the city has no events: a shrunk county is put at zero
        a, b = np.where(shrunk, 0.0, y + JEFFREYS), np.where(shrunk, 1.0, e)
    else:
        a, b = np.where(shrunk, y + shape, y + JEFFREYS), np.where(shrunk, e + rate, e)
    return a, b, PER_10K * a / b


def _adjust_column(inp: _Inputs, k: int, shrink: bool) -> tuple[np.ndarray, ...]:
    """One indicator's scored values, flags and posteriors across the counties."""
    kpi, family = inp.kpis[k], inp.family[k]
    value, size = inp.value[:, k], inp.size[:, k]
    with np.errstate(invalid="ignore"):
        counted = (np.isfinite(inp.num[:, k]) & np.isfinite(inp.den[:, k]) & (inp.den[:, k] > 0)
                   & (inp.num[:, k] >= 0) & ((inp.num[:, k] <= inp.den[:, k]) | (family == "per_10k")))
    counted &= family in ("proportion", "per_10k") and bool(np.isfinite(inp.city_rate[k]))
    x, n = np.where(counted, inp.num[:, k], np.nan), np.where(counted, inp.den[:, k], np.nan)
    present = np.isfinite(value)
    small = present & (np.nan_to_num(size, nan=0.0) < kpi.min_sample)
    shrunk = small & counted & shrink
    left_out = small & ~shrunk
    flag = np.where(~present, "no_data", np.where(shrunk, "shrunk", np.where(small, "small_sample", "")))
    a = b = posterior_mean = np.full(len(value), np.nan)
    if family == "proportion":
        a, b, posterior_mean = _beta_posterior(x, n, shrunk, inp.city_rate[k], max(kpi.min_sample, 2))
    elif family == "per_10k":
        a, b, posterior_mean = _gamma_posterior(x, n, shrunk, inp.city_rate[k])
    adjusted = np.where(shrunk, posterior_mean, np.where(left_out, np.nan, value))
    kind = np.where(counted & present & ~left_out, "beta" if family == "proportion" else "gamma", "fixed")
    return adjusted, flag, a, b, kind


def _adjust(inp: _Inputs, shrink: bool) -> _Adjusted:
    cols = [_adjust_column(inp, k, shrink) for k in range(len(inp.kpis))]
    return _Adjusted(*(np.column_stack([c[i] for c in cols]) for i in range(5)))


def _pillar_matrix(kpis: Sequence[KpiDefinition]) -> np.ndarray:
    """(indicators × pillars) one-hot membership."""
    return np.array([[k.pillar == p for p in PILLARS] for k in kpis], dtype=float)


def aggregate(scores: np.ndarray, pillars: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pillar scores, composite and points from (..., county, indicator) scores; NaN scores are left out."""
    present = ~np.isnan(scores)
    filled = np.where(present, scores, 0.0)
    count = present.astype(float) @ pillars
    with np.errstate(divide="ignore", invalid="ignore"):
        pillar_score = np.where(count > 0, (filled @ pillars) / count, np.nan)
        live = np.where(count > 0, weights, 0.0)
        share = live / live.sum(axis=-1, keepdims=True)  # weights renormalised over the pillars present
        composite = np.where(live.sum(axis=-1) > 0, (np.nan_to_num(pillar_score) * share).sum(axis=-1), np.nan)
        per_point = np.nan_to_num(share / count, nan=0.0, posinf=0.0) @ pillars.T  # worth of one scored point
        points = np.where(present, filled * per_point, np.nan)
    return pillar_score, composite, points


def _bounds(kpis: Sequence[KpiDefinition], period: str) -> tuple[np.ndarray, np.ndarray]:
    bounds = [k.bounds_for(period) for k in kpis]
    return np.array([b.best for b in bounds], float), np.array([b.worst for b in bounds], float)


def _draw(adj: _Adjusted, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draw × county × indicator) plausible values: posterior draws for counted rates, the value otherwise."""
    shape = (draws, *adj.value.shape)
    is_beta, is_gamma = adj.kind == "beta", adj.kind == "gamma"
    beta = rng.beta(np.where(is_beta, adj.post_a, 1.0), np.where(is_beta, adj.post_b, 1.0), size=shape)
    g_shape = np.where(is_gamma & (adj.post_a > 0), adj.post_a, 1.0)
    gamma = rng.gamma(g_shape, 1.0 / np.where(is_gamma, adj.post_b, 1.0), size=shape) * PER_10K
    gamma = np.where(is_gamma & (adj.post_a == 0), 0.0, gamma)
    return np.where(is_beta, beta, np.where(is_gamma, gamma, adj.value))


def _seed(seed: int, period: str) -> np.random.Generator:
    """Same configured seed and month, same draws: a rebuild reproduces every interval."""
    return np.random.default_rng([seed, int(period[:4]), int(period[5:7])])


def _rank_interval(composite_draws: np.ndarray, rank: np.ndarray, interval: float) -> tuple[np.ndarray, np.ndarray]:
    """Central `interval` of each county's ranks over the draws, widened to hold the rank shown; NaN if unranked."""
    ranks = min_rank(composite_draws)
    low, high = np.full(ranks.shape[1], np.nan), np.full(ranks.shape[1], np.nan)
    ranked = ~np.isnan(rank) & ~np.isnan(ranks).all(axis=0)
    tail = (1 - interval) / 2
    low[ranked] = np.nanquantile(ranks[:, ranked], tail, axis=0, method="lower")
    high[ranked] = np.nanquantile(ranks[:, ranked], 1 - tail, axis=0, method="higher")
    return np.fmin(low, rank), np.fmax(high, rank)


def _flags(pillar_score: np.ndarray, weights: np.ndarray) -> list[str]:
    missing = np.isnan(pillar_score) & (weights > 0)
    return [",".join(f"missing_pillar:{p}" for p, m in zip(PILLARS, row, strict=True) if m) for row in missing]


def _int_or_none(values: np.ndarray) -> list[int | None]:
    return [None if np.isnan(v) else int(v) for v in values]


def score_month(*, mart: pd.DataFrame, config: Config, period: str, previous_ranks: Mapping[str, int] | None = None,
                family_of: FamilyOf = default_family, intervals: bool = True) -> MonthScores:
    """Indicator scores and the county ranking of one month from its mart rows (counties and the city)."""
    settings = config.ranking
    if settings is None or not config.index_kpis():
        return MonthScores(pd.DataFrame(columns=INDICATOR_COLUMNS), pd.DataFrame(columns=RANKING_COLUMNS))
    inp = _inputs(mart, config, period, family_of)
    adj = _adjust(inp, settings.small_sample == "shrink")
    best, worst = _bounds(inp.kpis, period)
    pillars = _pillar_matrix(inp.kpis)
    weights = np.array([settings.pillar_weights.get(p, 0.0) for p in PILLARS], float)
    scores = dtf_score(adj.value, best, worst)
    pillar_score, composite, points = aggregate(scores, pillars, weights)
    rank = min_rank(composite)
    low = high = np.full(len(inp.units), np.nan)
    if intervals:
        rng = _seed(settings.seed, period)
        drawn = dtf_score(_draw(adj, settings.draws, rng), best, worst)
        drawn = np.where(np.isnan(scores), np.nan, drawn)  # a value left out stays out in every world
        low, high = _rank_interval(aggregate(drawn, pillars, weights)[1], rank, settings.interval)
    before = previous_ranks or {}
    previous = np.array([np.nan if before.get(u) is None else before[u] for u in inp.units], float)
    indicators = _indicator_frame(inp, adj, scores, points, period)
    ranking = pd.DataFrame({
        "region_code": inp.units, "period": period, "composite": composite,
        **{f"score_{p}": pillar_score[:, i] for i, p in enumerate(PILLARS)},
        "rank": _int_or_none(rank), "rank_change": _int_or_none(previous - rank),
        "rank_low": _int_or_none(low), "rank_high": _int_or_none(high),
        "indicators_scored": (~np.isnan(scores)).sum(axis=1), "flags": _flags(pillar_score, weights),
    }, columns=RANKING_COLUMNS)
    return MonthScores(indicators, ranking)


def _indicator_frame(inp: _Inputs, adj: _Adjusted, scores: np.ndarray, points: np.ndarray,
                     period: str) -> pd.DataFrame:
    c, k = scores.shape
    flag = adj.flag.ravel()
    return pd.DataFrame({
        "region_code": np.repeat(inp.units, k), "period": period, "kpi_code": np.tile([x.code for x in inp.kpis], c),
        "value": inp.value.ravel(), "adjusted_value": adj.value.ravel(),
        "sample_size": np.nan_to_num(inp.size.ravel(), nan=0.0).astype(int), "score": scores.ravel(),
        "points": points.ravel(), "flag": np.where(flag == "", None, flag),
    }, columns=INDICATOR_COLUMNS)


def tie_groups(ranking: pd.DataFrame) -> list[list[str]]:
    """Counties in rank order, grouped while each one's rank interval overlaps every interval in its group."""
    ranked = ranking.dropna(subset=["rank"]).sort_values(["rank", "region_code"])
    groups: list[list[str]] = []
    ceiling = -np.inf
    for row in ranked.itertuples():
        low = row.rank_low if pd.notna(row.rank_low) else row.rank
        high = row.rank_high if pd.notna(row.rank_high) else row.rank
        if groups and low <= ceiling:
            groups[-1].append(row.region_code)
            ceiling = min(ceiling, high)
        else:
            groups.append([row.region_code])
            ceiling = high
    return groups


# ---- the warehouse ---------------------------------------------------------------------------------------------


def _shift_period(period: str, months: int) -> str:
    index = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{index // 12}-{index % 12 + 1:02d}"


def _enabled(config: Config) -> bool:
    return config.ranking is not None and bool(config.index_kpis())


def _read_mart(conn: Connection, config: Config, periods: Iterable[str]) -> pd.DataFrame:
    m = MartKpiMonthly
    stmt = select(m.region_code, m.period, m.kpi_code, m.value, m.numerator, m.denominator, m.sample_size).where(
        m.period.in_(sorted(set(periods))), m.kpi_code.in_([k.code for k in config.index_kpis()]),
        m.region_code.in_([*config.unit_codes(), config.city.code]))
    cols = ["region_code", "period", "kpi_code", "value", "numerator", "denominator", "sample_size"]
    return rows_frame(conn.execute(stmt), cols)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows for an insert: NaN becomes NULL, numpy scalars become Python values."""
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()} for row in out]


def _point_ranks(mart: pd.DataFrame, config: Config, period: str, family_of: FamilyOf) -> dict[str, int]:
    if not (mart["period"] == period).any():
        return {}
    ranking = score_month(mart=mart, config=config, period=period, family_of=family_of, intervals=False).ranking
    return {r.region_code: int(r.rank) for r in ranking.itertuples() if pd.notna(r.rank)}


def _replace_month(conn: Connection, scores: MonthScores, period: str) -> int:
    conn.execute(delete(MartCountyIndicatorScore).where(MartCountyIndicatorScore.period == period))
    conn.execute(delete(MartCountyRanking).where(MartCountyRanking.period == period))
    n = 0
    for table, frame in ((MartCountyIndicatorScore, scores.indicators), (MartCountyRanking, scores.ranking)):
        if len(frame):
            conn.execute(insert(table), _records(frame))
            n += len(frame)
    return n


def _refresh_next_change(conn: Connection, period: str, ranks: Mapping[str, int]) -> None:
    """Recompute the following month's rank_change against this month's new ranks, when that month is stored."""
    r = MartCountyRanking
    following = _shift_period(period, 1)
    stored = conn.execute(select(r.region_code, r.rank).where(r.period == following)).all()
    if not stored:
        return
    rows = [dict(b_region=code, b_change=None if rank is None or code not in ranks else ranks[code] - rank)
            for code, rank in stored]
    stmt = update(r).where(r.region_code == bindparam("b_region"), r.period == following)
    conn.execute(stmt.values(rank_change=bindparam("b_change")), rows)


def refresh_county_ranking(*, conn: Connection, config: Config, periods: Iterable[str],
                           family_of: FamilyOf = default_family) -> int:
    """Recompute both ranking marts for these months from mart_kpi_monthly alone, so KPI refreshes stay cheap."""
    wanted = sorted({p for p in periods if p})
    if not wanted or not _enabled(config):
        return 0
    mart = _read_mart(conn, config, [*wanted, *(_shift_period(p, -1) for p in wanted)])
    n = 0
    for period in wanted:
        previous = _point_ranks(mart, config, _shift_period(period, -1), family_of)
        if not (mart["period"] == period).any():  # no KPI values left for the month: no ranking either
            _replace_month(conn, MonthScores(pd.DataFrame(), pd.DataFrame()), period)
            continue
        scores = score_month(mart=mart, config=config, period=period, previous_ranks=previous, family_of=family_of)
        n += _replace_month(conn, scores, period)
        if _shift_period(period, 1) not in wanted:
            ranks = {r.region_code: int(r.rank) for r in scores.ranking.itertuples() if pd.notna(r.rank)}
            _refresh_next_change(conn, period, ranks)
    return n


def rebuild_county_ranking(*, conn: Connection, config: Config, family_of: FamilyOf = default_family) -> int:
    """Recompute the ranking marts for every month with KPI values (after a change of bounds, weights or rules)."""
    conn.execute(delete(MartCountyIndicatorScore))
    conn.execute(delete(MartCountyRanking))
    if not _enabled(config):
        return 0
    periods = conn.scalars(select(MartKpiMonthly.period).distinct().order_by(MartKpiMonthly.period)).all()
    return refresh_county_ranking(conn=conn, config=config, periods=periods, family_of=family_of)


# ---- reads shared by the dashboard and the bulletin ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PointsChange:
    """How many composite points one indicator gave a county this month and last month."""

    kpi_code: str
    points: float | None
    previous_points: float | None
    delta: float  # points − previous_points, a missing side counting as 0


@dataclass(frozen=True, slots=True)
class RankChangeExplanation:
    """The indicators that gained a county the most points against last month, and those that lost the most."""

    gains: tuple[PointsChange, ...]  # largest gain first
    losses: tuple[PointsChange, ...]  # largest loss first


def _points(session: Session, region_code: str, period: str) -> dict[str, float | None]:
    s = MartCountyIndicatorScore
    rows = session.execute(select(s.kpi_code, s.points).where(s.region_code == region_code, s.period == period))
    return {code: points for code, points in rows}


def explain_rank_change(*, session: Session, config: Config, region_code: str, period: str,
                        top: int = 3) -> RankChangeExplanation:
    """Which indicators moved a county's composite most against last month, so a rank change can be explained."""
    if not _enabled(config):
        return RankChangeExplanation((), ())
    now, before = _points(session, region_code, period), _points(session, region_code, _shift_period(period, -1))
    changes = [PointsChange(k.code, now.get(k.code), before.get(k.code),
                            (now.get(k.code) or 0.0) - (before.get(k.code) or 0.0)) for k in config.index_kpis()]
    gains = sorted((c for c in changes if c.delta > 0), key=lambda c: -c.delta)[:top]
    losses = sorted((c for c in changes if c.delta < 0), key=lambda c: c.delta)[:top]
    return RankChangeExplanation(tuple(gains), tuple(losses))


def _regions(session: Session) -> pd.DataFrame:
    d = DimRegion
    rows = session.execute(select(d.code, d.name_zh, d.name_en, d.short_zh, d.short_en, d.sort_order)).all()
    return pd.DataFrame(rows, columns=["region_code", "name_zh", "name_en", "short_zh", "short_en", "sort_order"])


def read_county_ranking(*, session: Session, config: Config, period: str) -> pd.DataFrame:
    """A month's ranking with region names for both languages, best first, with statistical tie groups."""
    if not _enabled(config):
        return pd.DataFrame(columns=[*RANKING_COLUMNS, "name_zh", "name_en", "short_zh", "short_en", "tie_group"])
    r = MartCountyRanking
    rows = session.execute(select(*(getattr(r, c) for c in RANKING_COLUMNS)).where(r.period == period)).all()
    frame = pd.DataFrame(rows, columns=RANKING_COLUMNS).merge(_regions(session), on="region_code", how="left")
    frame = frame.sort_values(["rank", "sort_order"], na_position="last").reset_index(drop=True)
    group_of = {code: i for i, group in enumerate(tie_groups(frame), start=1) for code in group}
    frame["tie_group"] = frame["region_code"].map(group_of).astype("Int64")
    return frame.drop(columns=["sort_order"])


def read_indicator_scores(*, session: Session, config: Config, period: str,
                          region_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """A month's indicator scores (value, adjusted value, score, points, flag) with each indicator's pillar."""
    if not _enabled(config):
        return pd.DataFrame(columns=[*INDICATOR_COLUMNS, "pillar"])
    s = MartCountyIndicatorScore
    stmt = select(*(getattr(s, c) for c in INDICATOR_COLUMNS)).where(s.period == period)
    if region_codes is not None:
        stmt = stmt.where(s.region_code.in_(list(region_codes)))
    frame = rows_frame(session.execute(stmt), INDICATOR_COLUMNS)
    order = {k.code: i for i, k in enumerate(config.index_kpis())}
    regions = {code: i for i, code in enumerate(config.unit_codes())}
    frame["pillar"] = frame["kpi_code"].map({k.code: k.pillar for k in config.index_kpis()})
    keys = frame["region_code"].map(regions).fillna(len(regions)) * 1000 + frame["kpi_code"].map(order).fillna(999)
    return frame.assign(_key=keys).sort_values("_key").drop(columns="_key").reset_index(drop=True)
