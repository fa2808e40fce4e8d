"""Second method: every KPI of every mart row recomputed from the demo facts with pandas, not with the SQL measures.

The reference below is written from the formulas in the brief and config.yaml's descriptions, row by row in pandas,
so a slip in a SQL measure (a filter, a denominator, the city pooling) shows up as a disagreement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from models.calendar import get_calendar
from models.config import Config
from models.db import Warehouse

KEY = ["region_code", "period"]


def _read(wh: Warehouse, sql: str) -> pd.DataFrame:
    with wh.engine.connect() as conn:
        return pd.read_sql_query(text(sql), conn)


class Facts:
    """The demo's facts as frames, with the 'today' the marts were refreshed on."""

    def __init__(self, wh: Warehouse, today: dt.date) -> None:
        self.today = today
        ts = ["accepted_at", "completed_at"]
        self.cases = _read(wh, "SELECT * FROM fact_approval_case")
        for c in ts:
            self.cases[c] = pd.to_datetime(self.cases[c])
        self.cases["due_date"] = pd.to_datetime(self.cases["due_date"])
        instant = _read(wh, "SELECT item_code FROM dim_service_item WHERE is_instant")["item_code"]
        self.cases["instant"] = self.cases["item_code"].isin(set(instant))
        self.ratings = _read(wh, "SELECT * FROM fact_rating")
        self.ratings["rated_at"] = pd.to_datetime(self.ratings["rated_at"])
        self.tickets = _read(wh, "SELECT * FROM fact_hotline_ticket")
        for c in ("received_at", "due_at", "closed_at", "called_back_at"):
            self.tickets[c] = pd.to_datetime(self.tickets[c])
        self.figures = _read(wh, "SELECT * FROM fact_county_figure").pivot(
            index=KEY, columns="indicator_code", values="value")
        self.completed = self.cases[self.cases["status"] == "completed"].rename(columns={"completed_period": "period"})


def _ratio(num: pd.Series, den: pd.Series, scale: float = 1.0, *, counts: bool = True) -> pd.Series:
    """scale × num / den; a count with no rows in a group is 0 there (an amount with no number stays missing)."""
    num, den = num.align(den, join="outer")
    if counts:
        num = num.fillna(0.0)
    return scale * num / den.where(den != 0)


def _cross(num: pd.Series, num_rows: pd.Series, den: pd.Series, scale: float = 1.0) -> pd.Series:
    """A ratio across two tables: missing (not 0) where the numerator's table has no rows for the region-month."""
    return _ratio(num, den, scale).where(num_rows.reindex(_ratio(num, den).index).notna())


def _by(frame: pd.DataFrame, period: str, mask: pd.Series | None = None, what: str | None = None,
        how: str = "size") -> pd.Series:
    rows = frame if mask is None else frame[mask]
    rows = rows.rename(columns={period: "period"})
    grouped = rows.groupby(["region_code", "period"])
    return grouped.size().astype(float) if how == "size" else getattr(grouped[what], how)().astype(float)


def _overdue(f: Facts) -> pd.Series:
    c = f.completed
    judgeable = c["promised_days"].notna() & c["working_days"].notna()
    late = _by(c[judgeable], "period", c[judgeable]["working_days"] > c[judgeable]["promised_days"])
    due = _by(c[judgeable], "period")
    cases = f.cases
    candidates = cases[cases["due_period"].notna() & (cases["due_date"].dt.date < f.today)
                       & (cases["status"] != "not_accepted")
                       & (cases["completed_period"].isna() | (cases["completed_period"] > cases["due_period"]))]
    rows = []
    for period in sorted(set(due.index.get_level_values(1)) | set(late.index.get_level_values(1))):
        open_then = candidates[(candidates["due_period"] <= period)
                               & (candidates["completed_period"].isna() | (candidates["completed_period"] > period))]
        rows += [((region, period), n) for region, n in open_then.groupby("region_code").size().items()]
    open_overdue = pd.Series(dict(rows), dtype=float)
    open_overdue.index = pd.MultiIndex.from_tuples(open_overdue.index, names=KEY)
    num = late.add(open_overdue, fill_value=0)
    den = due.add(open_overdue, fill_value=0)
    return _ratio(num, den)


def _startup(f: Facts) -> pd.Series:
    c = f.completed[f.completed["bundle_id"].notna()]
    bundles = c.groupby(["region_code", "bundle_id"]).agg(period=("period", "max"), days=("working_days", "max"),
                                                          parts=("case_id", "size"))
    bundles = bundles[bundles["parts"] >= 4].reset_index()
    return bundles.groupby(KEY)["days"].mean().astype(float)


def _rectified_on_time(f: Facts, deadline: int) -> pd.Series:
    cal = get_calendar()
    day = f.today
    while cal.working_days_between(day, f.today) <= deadline:  # first day whose deadline passed before today
        day -= dt.timedelta(days=1)
    cutoff = pd.Timestamp(day + dt.timedelta(days=1))
    r = f.ratings[f.ratings["verified_bad"].astype(bool)]
    on_time = r["rectify_working_days"].notna() & (r["rectify_working_days"] <= deadline)
    due = r["rectify_working_days"].notna() | (r["rated_at"] < cutoff)
    return _ratio(_by(r, "rated_period", on_time), _by(r, "rated_period", due))


def _completed_share(f: Facts, mask: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
    c = f.completed
    return _ratio(_by(c, "period", mask(c)), _by(c, "period"))


def reference(f: Facts, code: str, params: dict) -> pd.Series:
    """One KPI's value per (region, period), by the formula in words."""
    c, r, t, fig = f.completed, f.ratings, f.tickets, f.figures
    completed_n = _by(c, "period")
    closed = t["closed_at"].notna()
    refs: dict[str, Callable[[], pd.Series]] = {
        "approval_mean_working_days": lambda: _by(c, "period", c["working_days"].notna(), "working_days", "mean"),
        "approval_median_working_days": lambda: _by(c, "period", c["working_days"].notna(), "working_days",
                                                    "median"),
        "approval_on_time_rate": lambda: _by(
            c.assign(on_time=(c["working_days"] <= c["promised_days"]).astype(float)), "period",
            c["promised_days"].notna() & c["working_days"].notna(), "on_time", "mean"),
        "approval_overdue_rate": lambda: _overdue(f),
        "approval_limit_compression": lambda: 1 - _ratio(
            _by(c, "period", (c["statutory_days"] > 0) & c["promised_days"].notna(), "promised_days", "sum"),
            _by(c, "period", (c["statutory_days"] > 0) & c["promised_days"].notna(), "statutory_days", "sum")),
        "approval_instant_share": lambda: _completed_share(f, lambda x: x["instant"]),
        "approval_online_rate": lambda: _completed_share(f, lambda x: x["fully_online"].astype(bool)),
        "approval_mean_visits": lambda: _by(c, "period", None, "visits", "mean"),
        "approval_zero_visit_share": lambda: _completed_share(f, lambda x: x["visits"] == 0),
        "approval_at_most_one_visit_share": lambda: _completed_share(f, lambda x: x["visits"] <= 1),
        "approval_startup_days": lambda: _startup(f),
        "rating_count": lambda: _by(r, "rated_period"),
        "rating_positive_rate": lambda: _ratio(_by(r, "rated_period", r["level"] >= (
            3 if params.get("count_basic_satisfied", True) else 4)), _by(r, "rated_period")),
        "rating_bad_per_10k_cases": lambda: _cross(_by(r, "rated_period", r["level"] <= 2), _by(r, "rated_period"),
                                                    completed_n, 10_000),
        "rating_coverage": lambda: _cross(_by(r, "rated_period", r["case_id"].notna(), "case_id", "nunique"),
                                          _by(r, "rated_period"), completed_n),
        "rating_rectification_rate": lambda: _ratio(
            _by(r, "rated_period", r["verified_bad"].astype(bool) & (r["rectify_status"] == "rectified")),
            _by(r, "rated_period", r["verified_bad"].astype(bool))),
        "rating_rectified_on_time_rate": lambda: _rectified_on_time(f, int(params.get("deadline_working_days", 10))),
        "hotline_on_time_closure_rate": lambda: _ratio(
            _by(t, "received_period", closed & (t["closed_at"] <= t["due_at"])),
            _by(t, "received_period", t["due_at"].notna() & (closed | (t["due_at"] < pd.Timestamp(f.today))))),
        "hotline_resolution_rate": lambda: _ratio(_by(t, "received_period", t["resolved"] == 1),
                                                  _by(t, "received_period", t["resolved"].notna())),
        "hotline_satisfaction_rate": lambda: _ratio(
            _by(t, "received_period", t["satisfaction"].isin(["satisfied", "basically_satisfied"])),
            _by(t, "received_period", t["satisfaction"].notna())),
        "hotline_callback_rate": lambda: _ratio(_by(t, "received_period", closed & t["called_back_at"].notna()),
                                                _by(t, "received_period", closed)),
        "hotline_reopen_rate": lambda: _ratio(_by(t, "received_period", closed & (t["reopen_count"] > 0)),
                                              _by(t, "received_period", closed)),
        "hotline_business_tickets_per_10k_entities": lambda: _cross(
            _by(t, "received_period", t["is_business_env"].astype(bool)), _by(t, "received_period"),
            fig["market_entities_total"], 10_000),
        "county_market_entities_total": lambda: fig["market_entities_total"],
        "county_market_entities_new": lambda: fig["market_entities_new"],
        "county_market_entities_net_growth": lambda: _ratio(
            fig["market_entities_new"] - fig["market_entities_cancelled"],
            fig["market_entities_total"] - fig["market_entities_new"] + fig["market_entities_cancelled"],
            counts=False),
        "county_investment_signed": lambda: fig["investment_signed_yi"],
        "county_funds_in_place": lambda: fig["funds_in_place_yi"],
        "county_funds_in_place_rate": lambda: _ratio(fig["funds_in_place_yi"], fig["funds_planned_yi"], counts=False),
        "county_construction_start_rate": lambda: _ratio(fig["projects_started"], fig["projects_planned_start"],
                                                                 counts=False),
        "county_policy_payout": lambda: fig["policy_payout_wan"],
    }
    return refs[code]()


def _as_city(frame: pd.DataFrame, city: str) -> pd.DataFrame:
    return frame.assign(region_code=city)


@pytest.fixture(scope="module")
def facts_and_marts(demo_site: tuple[Config, Warehouse]) -> tuple[Config, Facts, Facts, pd.DataFrame]:
    cfg, wh = demo_site
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    county = Facts(wh, today)
    city = Facts(wh, today)  # the same rows with every county relabelled as the city: pooled from counts
    for name in ("cases", "completed", "ratings", "tickets"):
        setattr(city, name, _as_city(getattr(city, name), cfg.city.code))
    city.figures = city.figures.groupby(level="period").sum(min_count=1)
    city.figures.index = pd.MultiIndex.from_arrays([[cfg.city.code] * len(city.figures), city.figures.index],
                                                   names=KEY)
    marts = _read(wh, "SELECT region_code, period, kpi_code, value FROM mart_kpi_monthly")
    return cfg, county, city, marts


@pytest.mark.parametrize("level", ["county", "city"])
def test_every_mart_value_equals_the_pandas_recomputation(facts_and_marts, level: str) -> None:
    cfg, county, city, marts = facts_and_marts
    facts = county if level == "county" else city
    rows = marts[(marts["region_code"] == cfg.city.code) == (level == "city")]
    checked = 0
    for kpi in cfg.kpis:
        got = rows[rows["kpi_code"] == kpi.code].set_index(KEY)["value"].astype(float)
        want = reference(facts, kpi.computation, kpi.params).reindex(got.index)
        assert len(got) > 0, kpi.code
        both = got.notna() & want.notna()
        assert (got.notna() == want.notna()).all(), (kpi.code, got[got.notna() != want.notna()].head())
        np.testing.assert_allclose(got[both], want[both], rtol=1e-9, atol=1e-12, err_msg=kpi.code)
        checked += int(both.sum())
    assert checked > (3000 if level == "county" else 300)  # 31 KPIs × ~15 months (× 11 counties)
