"""County ranking: hand-computed scores, empirical-Bayes shrinkage, rank intervals, properties and a DB round trip."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from models.config import Config, KpiDefinition
from models.db import Warehouse
from models.marts import MartCountyIndicatorScore, MartCountyRanking, MartKpiMonthly
from models.migrate import prepare_warehouse
from models.ranking import (
    default_family,
    dtf_score,
    explain_rank_change,
    fit_beta_prior,
    fit_gamma_prior,
    read_county_ranking,
    read_indicator_scores,
    rebuild_county_ranking,
    refresh_county_ranking,
    score_month,
    tie_groups,
    wilson_interval,
)

CITY = "140700"
A, B, C, D = "140702", "140703", "140721", "140722"  # 榆次, 太谷, 榆社, 左权
ALL_UNITS = [A, B, C, D, "140723", "140724", "140725", "140727", "140728", "140729", "140781"]
FAMILY = {"avg_days": "mean", "on_time": "proportion", "bad_per_10k": "per_10k", "resolution": "proportion",
          "pos": "proportion"}


def family_of(kpi: KpiDefinition) -> str:
    return FAMILY[kpi.code]


def _kpi(code: str, pillar: str, direction: str, best: float, worst: float, min_sample: int = 30) -> dict:
    return dict(code=code, name_zh=code, name_en=code, unit="ratio", direction=direction, pillar=pillar,
                computation="approval_on_time_rate", min_sample=min_sample,
                index={2026: dict(best=best, worst=worst)})


FOUR_KPIS = [
    _kpi("avg_days", "approval", "lower_is_better", 1.0, 5.0),
    _kpi("on_time", "approval", "higher_is_better", 1.0, 0.8),
    _kpi("bad_per_10k", "ratings", "lower_is_better", 0.0, 50.0, min_sample=1000),
    _kpi("resolution", "hotline", "higher_is_better", 1.0, 0.5),
]
WEIGHTS = dict(approval=0.5, ratings=0.3, hotline=0.2)


def make_config(kpis: list[dict] = FOUR_KPIS, units: list[str] = ALL_UNITS[:4], weights: dict = WEIGHTS,
                small_sample: str = "shrink", draws: int = 400) -> Config:
    return Config.model_validate(dict(
        city=dict(code=CITY, name_zh="晋中市", name_en="Jinzhong",
                  units=[dict(code=u, name_zh=f"县{u}", name_en=f"County {u}", short_zh=u, short_en=u) for u in units]),
        kpis=kpis, ranking=dict(pillar_weights=weights, small_sample=small_sample, draws=draws)))


def row(region: str, kpi: str, value: float | None, num: float | None, den: float | None, n: int,
        period: str = "2026-10") -> dict:
    return dict(region_code=region, period=period, kpi_code=kpi, value=value, numerator=num, denominator=den,
                sample_size=n)


def hand_month(period: str = "2026-10") -> list[dict]:
    """The worked example. Scores: 100 × (worst − y) / (worst − best), clipped to [0, 100].

    A: avg_days 2 → 100·3/4 = 75; on_time .95 → 100·(.8−.95)/(.8−1) = 75; approval 75.
       bad 10/5000 = 20 per 10k → 100·30/50 = 60; resolution .9 → 100·(.5−.9)/(.5−1) = 80.
       composite = .5·75 + .3·60 + .2·80 = 37.5 + 18 + 16 = 71.5
    B: avg_days 3 → 50; on_time 1.0 → 100; approval 75; bad 20/10k → 60; resolution .9 → 80; composite 71.5 (tie)
    C: avg_days 6 → 0 (clipped); on_time .85 → 25; approval 12.5; bad 0 → 100; resolution missing.
       weights renormalised over approval + ratings: .5/.8 = .625, .3/.8 = .375
       composite = .625·12.5 + .375·100 = 7.8125 + 37.5 = 45.3125
    D: avg_days 1 → 100; on_time .8 → 0; approval 50; bad 60/10k → 0 (clipped); resolution 1.0 → 100.
       composite = .5·50 + .3·0 + .2·100 = 45
    Ranks: A 1, B 1 (tie, 'min'), C 3, D 4.
    """
    def r(region: str, kpi: str, value: float | None, num: float | None, den: float | None, n: int) -> dict:
        return row(region, kpi, value, num, den, n, period)

    return [
        r(A, "avg_days", 2.0, 200, 100, 100), r(A, "on_time", 0.95, 95, 100, 100),
        r(A, "bad_per_10k", 20.0, 10, 5000, 5000), r(A, "resolution", 0.9, 90, 100, 100),
        r(B, "avg_days", 3.0, 300, 100, 100), r(B, "on_time", 1.0, 100, 100, 100),
        r(B, "bad_per_10k", 20.0, 10, 5000, 5000), r(B, "resolution", 0.9, 90, 100, 100),
        r(C, "avg_days", 6.0, 600, 100, 100), r(C, "on_time", 0.85, 85, 100, 100),
        r(C, "bad_per_10k", 0.0, 0, 4000, 4000),
        r(D, "avg_days", 1.0, 100, 100, 100), r(D, "on_time", 0.8, 80, 100, 100),
        r(D, "bad_per_10k", 60.0, 30, 5000, 5000), r(D, "resolution", 1.0, 100, 100, 100),
        r(CITY, "on_time", 0.9, 360, 400, 400), r(CITY, "bad_per_10k", 18.0, 35, 19000, 19000),
        r(CITY, "resolution", 29 / 30, 290, 300, 300),
    ]


def by_region(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("region_code")


# ---- hand-computed -------------------------------------------------------------------------------------------


def test_scores_pillars_composite_points_and_ranks_by_hand() -> None:
    out = score_month(mart=pd.DataFrame(hand_month()), config=make_config(), period="2026-10",
                      previous_ranks={A: 2, B: 1, C: 4, D: 3}, family_of=family_of)
    ind = out.indicators.set_index(["region_code", "kpi_code"])
    assert ind.loc[(A, "avg_days"), "score"] == pytest.approx(75)
    assert ind.loc[(A, "on_time"), "score"] == pytest.approx(75)
    assert ind.loc[(A, "bad_per_10k"), "score"] == pytest.approx(60)
    assert ind.loc[(C, "avg_days"), "score"] == 0 and ind.loc[(D, "bad_per_10k"), "score"] == 0  # clipped
    assert ind.loc[(C, "resolution"), "flag"] == "no_data" and pd.isna(ind.loc[(C, "resolution"), "score"])
    # points: A's avg_days is half of approval (2 indicators) at weight .5 → .5·75/2 = 18.75; C's bad = .375·100
    assert ind.loc[(A, "avg_days"), "points"] == pytest.approx(18.75)
    assert ind.loc[(C, "on_time"), "points"] == pytest.approx(0.625 * 25 / 2)
    assert ind.loc[(C, "bad_per_10k"), "points"] == pytest.approx(37.5)

    rk = by_region(out.ranking)
    assert rk["composite"].to_dict() == pytest.approx({A: 71.5, B: 71.5, C: 45.3125, D: 45.0})
    assert rk.loc[C, "score_approval"] == pytest.approx(12.5) and pd.isna(rk.loc[C, "score_hotline"])
    assert rk["rank"].to_dict() == {A: 1, B: 1, C: 3, D: 4}
    assert rk["rank_change"].to_dict() == {A: 1, B: 0, C: 1, D: -1}  # previous − now: positive moved up
    assert rk.loc[C, "flags"] == "missing_pillar:hotline" and rk.loc[A, "flags"] == ""
    assert rk["indicators_scored"].to_dict() == {A: 4, B: 4, C: 3, D: 4}
    sums = out.indicators.groupby("region_code")["points"].sum()
    assert sums.to_dict() == pytest.approx(rk["composite"].to_dict())


def test_rank_interval_holds_the_rank_and_groups_ties() -> None:
    rk = by_region(score_month(mart=pd.DataFrame(hand_month()), config=make_config(), period="2026-10",
                               family_of=family_of).ranking)
    for code in (A, B, C, D):
        assert rk.loc[code, "rank_low"] <= rk.loc[code, "rank"] <= rk.loc[code, "rank_high"]
    frame = pd.DataFrame(dict(region_code=["a", "b", "c", "d", "e"], rank=[1, 2, 3, 4, None],
                              rank_low=[1, 1, 2, 4, None], rank_high=[2, 3, 4, 5, None]))
    # b overlaps a; c starts at 2 ≤ min(2, 3) so joins; d starts at 4 > 2: new group; e is not ranked
    assert tie_groups(frame) == [["a", "b", "c"], ["d"]]


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 81 of 263 at z = 1.96: Wilson (0.2553, 0.3662), the usual worked example; none of 0: NaN
    low, high = wilson_interval([81, 0, 10], [263, 0, 10])
    assert low[0] == pytest.approx(0.2553, abs=1e-4) and high[0] == pytest.approx(0.3662, abs=1e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert high[2] == 1.0 and low[2] == pytest.approx(10 / (10 + 1.96**2), abs=1e-9)  # all successes: n/(n+z²)


def test_beta_binomial_shrinkage_by_hand() -> None:
    """City rate .8 (the city row 240/300). Counties 90/100, 80/100, 70/100 and 3/3.

    DerSimonian-Laird between-county variance of the rates around μ = .8, within variance μ(1−μ) = .16:
      scatter Σ n (p − μ)² = 100·.01 + 0 + 100·.01 + 3·.04 = 2.12
      spread N − Σn²/N = 303 − 30009/303 = 203.9604
      τ² = (2.12 − 3·.16) / 203.9604 = 0.00804078
      strength α+β = μ(1−μ)/τ² − 1 = 18.8986; α = 15.1189, β = 3.7797
    D (3 of 3, under min_sample 30): (3 + 15.1189) / (3 + 18.8986) = 0.827399, flagged 'shrunk'.
    """
    alpha, beta = fit_beta_prior(successes=np.array([90, 80, 70, 3.0]), trials=np.array([100, 100, 100, 3.0]),
                                 mean=0.8, fallback=30)
    assert alpha + beta == pytest.approx(18.8986, abs=1e-3) and alpha / (alpha + beta) == pytest.approx(0.8)
    kpis = [_kpi("on_time", "approval", "higher_is_better", 1.0, 0.8)]
    mart = pd.DataFrame([row(A, "on_time", 0.9, 90, 100, 100), row(B, "on_time", 0.8, 80, 100, 100),
                         row(C, "on_time", 0.7, 70, 100, 100), row(D, "on_time", 1.0, 3, 3, 3),
                         row(CITY, "on_time", 0.8, 240, 300, 300)])
    out = score_month(mart=mart, config=make_config(kpis=kpis, weights=dict(approval=1.0)), period="2026-10",
                      family_of=family_of)
    ind = by_region(out.indicators)
    assert ind.loc[D, "value"] == 1.0 and ind.loc[D, "flag"] == "shrunk"
    assert ind.loc[D, "adjusted_value"] == pytest.approx(0.827399, abs=1e-5)
    assert ind.loc[D, "score"] == pytest.approx(100 * (0.8 - 0.827399) / (0.8 - 1.0), abs=1e-3)
    assert ind.loc[A, "adjusted_value"] == 0.9 and pd.isna(ind.loc[A, "flag"])  # large samples are not shrunk
    rk = by_region(out.ranking)
    assert rk.loc[D, "rank"] == 2 and rk.loc[A, "rank"] == 1  # raw 100% would have been first

    excluded = score_month(mart=mart, config=make_config(kpis=kpis, weights=dict(approval=1.0),
                                                         small_sample="exclude"),
                           period="2026-10", family_of=family_of)
    ind = by_region(excluded.indicators)
    assert ind.loc[D, "flag"] == "small_sample" and pd.isna(ind.loc[D, "score"]) and pd.isna(ind.loc[D, "points"])
    rk = by_region(excluded.ranking)
    assert pd.isna(rk.loc[D, "rank"]) and pd.isna(rk.loc[D, "rank_low"]) and rk.loc[D, "indicators_scored"] == 0
    assert rk.loc[D, "flags"] == "missing_pillar:approval"


def test_gamma_poisson_shrinkage_by_hand() -> None:
    """City 30 events per 15,000 (λ = .002). Counties 10/5000, 20/5000, 5/5000 and 1/100 (under min_sample 1000).

      scatter Σ E (r − λ)² = 0 + 5000·.002² + 5000·.001² + 100·.008² = .0314
      spread N − ΣE²/N = 15100 − 75,010,000/15100 = 10132.45
      τ² = (.0314 − 3·.002) / 10132.45 = 2.506797e-6
      shape = λ²/τ² = 1.595661, rate = shape/λ = 797.8307 (pseudo-exposure)
    D: 10,000 × (1 + 1.595661) / (100 + 797.8307) = 28.9104 per 10k (raw 100).
    """
    shape, rate = fit_gamma_prior(events=np.array([10, 20, 5, 1.0]), exposure=np.array([5000, 5000, 5000, 100.0]),
                                  mean=0.002, fallback=1.0)
    assert shape == pytest.approx(1.595661, rel=1e-5) and rate == pytest.approx(797.8307, rel=1e-5)
    kpis = [_kpi("bad_per_10k", "ratings", "lower_is_better", 0.0, 50.0, min_sample=1000)]
    mart = pd.DataFrame([row(A, "bad_per_10k", 20, 10, 5000, 5000), row(B, "bad_per_10k", 40, 20, 5000, 5000),
                         row(C, "bad_per_10k", 10, 5, 5000, 5000), row(D, "bad_per_10k", 100, 1, 100, 100),
                         row(CITY, "bad_per_10k", 20, 30, 15000, 15000)])
    ind = by_region(score_month(mart=mart, config=make_config(kpis=kpis, weights=dict(ratings=1.0)),
                                period="2026-10", family_of=family_of).indicators)
    assert ind.loc[D, "flag"] == "shrunk" and ind.loc[D, "adjusted_value"] == pytest.approx(28.9104, abs=1e-3)
    assert ind.loc[D, "score"] == pytest.approx(100 * (50 - 28.9104) / 50, abs=1e-3)


def test_small_samples_of_other_families_are_always_left_out() -> None:
    mart = pd.DataFrame(hand_month())
    mart.loc[(mart.region_code == A) & (mart.kpi_code == "avg_days"), "sample_size"] = 5
    ind = score_month(mart=mart, config=make_config(), period="2026-10", family_of=family_of).indicators
    hit = ind[(ind.region_code == A) & (ind.kpi_code == "avg_days")].iloc[0]
    assert hit["flag"] == "small_sample" and pd.isna(hit["score"]) and hit["value"] == 2.0


def test_no_bounds_or_no_ranking_gives_nothing() -> None:
    bare = Config.model_validate(dict(city=make_config().city.model_dump()))
    out = score_month(mart=pd.DataFrame(hand_month()), config=bare, period="2026-10")
    assert out.indicators.empty and out.ranking.empty


def test_default_family_reads_the_computation() -> None:
    kpi = make_config().index_kpis()[1]
    assert default_family(kpi) in {"proportion", "per_10k", "mean", "median", "sum", "stock", "ratio"}


# ---- properties ------------------------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=20), best=finite, gap=st.floats(min_value=1e-3, max_value=1e4))
def test_dtf_scores_stay_between_0_and_100(values: list[float], best: float, gap: float) -> None:
    for worst in (best + gap, best - gap):
        scores = dtf_score(np.array(values), best, worst)
        assert ((scores >= 0) & (scores <= 100)).all()


def _random_month(draw: st.DrawFn, units: list[str]) -> list[dict]:
    rows = []
    for unit in units:
        if draw(st.booleans()):
            days = draw(st.floats(min_value=0.5, max_value=8))
            rows.append(row(unit, "avg_days", days, days * 50, 50, draw(st.integers(0, 200))))
        for kpi in ("on_time", "resolution"):
            n = draw(st.integers(0, 400))
            x = draw(st.integers(0, n))
            rows.append(row(unit, kpi, x / n if n else None, x, n, n))
        exposure = draw(st.integers(1, 8000))
        events = draw(st.integers(0, 60))
        rows.append(row(unit, "bad_per_10k", 1e4 * events / exposure, events, exposure, exposure))
    return rows


@st.composite
def months(draw: st.DrawFn) -> list[dict]:
    return _random_month(draw, ALL_UNITS)


ELEVEN = make_config(units=ALL_UNITS, draws=200)


@settings(max_examples=50, deadline=None)
@given(rows=months())
def test_scores_bounded_and_points_add_up(rows: list[dict]) -> None:
    out = score_month(mart=pd.DataFrame(rows), config=ELEVEN, period="2026-10", family_of=family_of)
    scores = out.indicators["score"].dropna()
    assert ((scores >= 0) & (scores <= 100)).all()
    composite = out.ranking.set_index("region_code")["composite"]
    assert ((composite.dropna() >= 0) & (composite.dropna() <= 100 + 1e-9)).all()
    sums = out.indicators.groupby("region_code")["points"].sum(min_count=1)
    assert np.allclose(sums.reindex(composite.index).to_numpy(float), composite.to_numpy(float), equal_nan=True)


@settings(max_examples=50, deadline=None)
@given(rows=months(), which=st.integers(0, len(ALL_UNITS) - 1), kpi=st.sampled_from(list(FAMILY)[:4]),
       step=st.floats(min_value=0.01, max_value=1.0))
def test_improving_an_indicator_never_lowers_the_composite(rows: list[dict], which: int, kpi: str,
                                                           step: float) -> None:
    unit = ALL_UNITS[which]
    better = [dict(r) for r in rows]
    for r in better:
        if r["region_code"] != unit or r["kpi_code"] != kpi or r["value"] is None:
            continue
        if kpi == "avg_days":  # lower is better
            r["value"] = r["value"] * (1 - step)
            r["numerator"] = r["value"] * r["denominator"]
        elif kpi == "bad_per_10k":  # lower is better: fewer events
            r["numerator"] = np.floor(r["numerator"] * (1 - step))
            r["value"] = 1e4 * r["numerator"] / r["denominator"]
        else:  # proportions: more successes
            r["numerator"] = r["numerator"] + np.ceil((r["denominator"] - r["numerator"]) * step)
            r["value"] = r["numerator"] / r["denominator"]
    before = score_month(mart=pd.DataFrame(rows), config=ELEVEN, period="2026-10", family_of=family_of,
                         intervals=False).ranking.set_index("region_code").loc[unit, "composite"]
    after = score_month(mart=pd.DataFrame(better), config=ELEVEN, period="2026-10", family_of=family_of,
                        intervals=False).ranking.set_index("region_code").loc[unit, "composite"]
    assert (pd.isna(before) and pd.isna(after)) or after >= before - 1e-9


POSITIVE = make_config(kpis=[_kpi("pos", "ratings", "higher_is_better", 1.0, 0.8)], units=ALL_UNITS,
                       weights=dict(ratings=1.0), draws=1000)


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(200, 5000), min_size=10, max_size=10),
       rates=st.lists(st.floats(min_value=0.8, max_value=0.97), min_size=10, max_size=10), tiny=st.integers(1, 5))
def test_a_tiny_perfect_county_is_not_ranked_first_on_thin_evidence(sizes: list[int], rates: list[float],
                                                                     tiny: int) -> None:
    """Ten counties with hundreds of ratings; the eleventh has 1-5 ratings, all positive (raw 100%: naively first)."""
    rows = [row(u, "pos", round(n * p) / n, round(n * p), n, n) for u, n, p in zip(ALL_UNITS, sizes, rates,
                                                                                  strict=False)]
    rows.append(row(ALL_UNITS[10], "pos", 1.0, tiny, tiny, tiny))
    rk = score_month(mart=pd.DataFrame(rows), config=POSITIVE, period="2026-10",
                     family_of=family_of).ranking.set_index("region_code")
    small = rk.loc[ALL_UNITS[10]]
    assert small["rank_low"] <= small["rank"] <= small["rank_high"]
    assert small["rank_high"] - small["rank_low"] >= 3  # the interval says how little 1-5 ratings tell
    assert small["rank"] > 1 or small["rank_high"] >= 4  # first only with an interval that reaches far down


@settings(max_examples=20, deadline=None)
@given(rows=months())
def test_same_input_and_seed_give_identical_output(rows: list[dict]) -> None:
    first = score_month(mart=pd.DataFrame(rows), config=ELEVEN, period="2026-10", family_of=family_of)
    again = score_month(mart=pd.DataFrame(rows).sample(frac=1, random_state=1), config=ELEVEN, period="2026-10",
                        family_of=family_of)
    pd.testing.assert_frame_equal(first.ranking, again.ranking)
    pd.testing.assert_frame_equal(first.indicators, again.indicators)


# ---- the warehouse, on both engines ----------------------------------------------------------------------------


@pytest.fixture
def ranked_wh(database_url: str) -> Iterator[tuple[Warehouse, Config]]:
    """A migrated warehouse with the four test counties, mart rows for September and October 2026."""
    config = make_config()
    wh = Warehouse(database_url)
    prepare_warehouse(warehouse=wh, config=config)
    # September: D best, A second, B third, C fourth (each indicator as in October unless said otherwise)
    september = [dict(r, period="2026-09") for r in hand_month()]
    for r in september:
        if r["region_code"] == D and r["kpi_code"] == "on_time":
            r.update(value=1.0, numerator=100)  # D: approval (100 + 100)/2 → composite .5·100 + .3·0 + .2·100 = 70
        if r["region_code"] == B and r["kpi_code"] == "resolution":
            r.update(value=0.5, numerator=50)  # B loses its hotline score: 37.5 + 18 + 0 = 55.5
        if r["region_code"] == A and r["kpi_code"] == "avg_days":
            r.update(value=5.0, numerator=500)  # A: approval (0 + 75)/2 = 37.5 → 18.75 + 18 + 16 = 52.75
    # C keeps 45.3125. September ranks: D 1 (70), B 2 (55.5), A 3 (52.75), C 4 (45.3125)
    with wh.session() as s:
        s.execute(insert(MartKpiMonthly), september + hand_month())
    try:
        yield wh, config
    finally:
        wh.dispose()


def _stored(wh: Warehouse) -> tuple[list, list]:
    with wh.session() as s:
        r, i = MartCountyRanking, MartCountyIndicatorScore
        ranking = s.execute(select(r).order_by(r.period, r.region_code)).scalars().all()
        scores = s.execute(select(i).order_by(i.period, i.region_code, i.kpi_code)).scalars().all()
        return ([{c: getattr(x, c) for c in r.__table__.columns.keys()} for x in ranking],
                [{c: getattr(x, c) for c in i.__table__.columns.keys()} for x in scores])


def test_refresh_round_trip_is_idempotent(ranked_wh: tuple[Warehouse, Config]) -> None:
    wh, config = ranked_wh
    with wh.engine.begin() as conn:
        written = refresh_county_ranking(conn=conn, config=config, periods=["2026-09", "2026-10"], family_of=family_of)
    assert written == 2 * (4 + 16)
    first = _stored(wh)
    with wh.session() as s:
        october = read_county_ranking(session=s, config=config, period="2026-10")
        september = read_county_ranking(session=s, config=config, period="2026-09")
        scores = read_indicator_scores(session=s, config=config, period="2026-10", region_codes=[C])
    assert list(september["region_code"]) == [D, B, A, C] and list(september["rank"]) == [1, 2, 3, 4]
    assert list(october["rank"]) == [1, 1, 3, 4] and set(october["region_code"][:2]) == {A, B}
    changes = october.set_index("region_code")["rank_change"].to_dict()
    assert changes == {A: 2, B: 1, C: 1, D: -3}  # September's rank − October's
    assert september["rank_change"].isna().all()  # no August
    assert october.set_index("region_code").loc[A, "name_zh"] == f"县{A}"
    assert {"name_en", "short_zh", "short_en", "tie_group"} <= set(october.columns)
    assert list(scores["kpi_code"]) == ["avg_days", "on_time", "bad_per_10k", "resolution"]
    assert scores.set_index("kpi_code").loc["resolution", "flag"] == "no_data"

    with wh.engine.begin() as conn:
        refresh_county_ranking(conn=conn, config=config, periods=["2026-10", "2026-09"], family_of=family_of)
    assert _stored(wh) == first
    with wh.engine.begin() as conn:
        rebuild_county_ranking(conn=conn, config=config, family_of=family_of)
    assert _stored(wh) == first


def test_refreshing_a_month_updates_the_next_months_rank_change(ranked_wh: tuple[Warehouse, Config]) -> None:
    wh, config = ranked_wh
    with wh.engine.begin() as conn:
        refresh_county_ranking(conn=conn, config=config, periods=["2026-10"], family_of=family_of)
    with wh.session() as s:  # September is not stored yet, but its ranks come from its KPI rows
        assert read_county_ranking(session=s, config=config, period="2026-10").set_index(
            "region_code")["rank_change"].to_dict() == {A: 2, B: 1, C: 1, D: -3}
        # late data for September: C becomes perfect on avg_days (6 → 1): approval (100 + 25)/2 = 62.5,
        # composite .625·62.5 + .375·100 = 76.5625, first. September: C 1, D 2, B 3, A 4.
        s.execute(update(MartKpiMonthly).where(MartKpiMonthly.region_code == C, MartKpiMonthly.period == "2026-09",
                                               MartKpiMonthly.kpi_code == "avg_days").values(value=1.0))
    with wh.engine.begin() as conn:
        refresh_county_ranking(conn=conn, config=config, periods=["2026-09"], family_of=family_of)
    with wh.session() as s:
        october = read_county_ranking(session=s, config=config, period="2026-10").set_index("region_code")
    assert october["rank_change"].to_dict() == {A: 3, B: 2, C: -2, D: -2}


def test_explain_rank_change_by_points(ranked_wh: tuple[Warehouse, Config]) -> None:
    wh, config = ranked_wh
    with wh.engine.begin() as conn:
        refresh_county_ranking(conn=conn, config=config, periods=["2026-09", "2026-10"], family_of=family_of)
    with wh.session() as s:
        d = explain_rank_change(session=s, config=config, region_code=D, period="2026-10")
        b = explain_rank_change(session=s, config=config, region_code=B, period="2026-10", top=1)
        a = explain_rank_change(session=s, config=config, region_code=A, period="2026-10")
    # D: on_time fell from 100 (points .5·100/2 = 25) to 0: a loss of 25 points, nothing gained
    assert d.gains == () and [(c.kpi_code, c.points, c.previous_points, c.delta) for c in d.losses] == [
        ("on_time", pytest.approx(0), pytest.approx(25), pytest.approx(-25))]
    # B: resolution 0 → 80 points .2·80 = 16 gained
    assert [(c.kpi_code, c.delta) for c in b.gains] == [("resolution", pytest.approx(16))] and b.losses == ()
    # A: avg_days 0 → 75: .5·75/2 = 18.75 gained; the change of composite 52.75 → 71.5 is exactly that
    assert [(c.kpi_code, c.delta) for c in a.gains] == [("avg_days", pytest.approx(18.75))]


def test_without_ranking_settings_nothing_is_written(database_url: str) -> None:
    config = Config.model_validate(dict(city=make_config().city.model_dump()))
    wh = Warehouse(database_url)
    try:
        prepare_warehouse(warehouse=wh, config=config)
        with wh.engine.begin() as conn:
            assert refresh_county_ranking(conn=conn, config=config, periods=["2026-10"]) == 0
            assert rebuild_county_ranking(conn=conn, config=config) == 0
        with wh.session() as s:
            assert read_county_ranking(session=s, config=config, period="2026-10").empty
            assert read_indicator_scores(session=s, config=config, period="2026-10").empty
            assert explain_rank_change(session=s, config=config, region_code=A, period="2026-10").gains == ()
    finally:
        wh.dispose()
