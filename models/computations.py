"""The named KPI computations that `config.yaml` refers to, each built from additive SQL measures.

A *measure* is one aggregate over one fact table's rows of a (region, month) slice, e.g. "cases completed late".
Measures add up across counties, so the city value is pooled from the counties' counts, never averaged from their
rates. A *computation* combines measures into a value: scale × Σnumerator / Σdenominator (or Σnumerator alone),
and declares its statistical family, which the ranking uses to decide how to treat small samples.

Expressions may use these bind parameters, filled at refresh time by `runtime_params`:
`:today` (the city's date, as a timestamp at midnight) and `:rectify_cutoff_<D>` (ratings given before it are
past a D-working-day rectification deadline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from models.config import KpiDefinition

Family = Literal["proportion", "per_10k", "mean", "median", "sum", "stock", "ratio"]
# proportion: successes / trials; per_10k: 10,000 × events / exposure; mean: average of a per-row quantity;
# median: the middle per-row value; sum: a flow that adds up over months; stock: a level at the month's end;
# ratio: a ratio of amounts with no sampling notion (county figures).


@dataclass(frozen=True, slots=True)
class Measure:
    """An additive aggregate over one fact table, grouped by region and by the table's month column.

    `open_at_month_end` measures are not sliced by a month column: they count the rows still open at the end of
    each month (approval cases past due), by joining the months to the rows' due and completion months.
    """

    table: str
    period_column: str
    expression: str
    open_at_month_end: bool = False
    # A derived table (SQL in parentheses, with an alias) to read instead of `table` itself.
    derived: str | None = None
    # A row filter shared by the measures of one slice: it goes into the query's WHERE, evaluated once per row.
    slice_where: str = "1 = 1"


@dataclass(frozen=True, slots=True)
class Computation:
    """value = scale × Σnumerator / Σdenominator (Σnumerator alone when there is no denominator)."""

    family: Family
    numerator: tuple[Measure, ...]
    denominator: tuple[Measure, ...] = ()
    scale: float = 1.0
    # The population size the value rests on; defaults to the denominator (or the numerator for sums).
    sample: tuple[Measure, ...] = ()
    # For medians: the per-row column, taken from the rows the first numerator measure's table and filter select.
    median_column: str | None = None
    median_where: str = "1 = 1"
    measures: tuple[Measure, ...] = field(init=False)

    def __post_init__(self) -> None:
        seen = dict.fromkeys((*self.numerator, *self.denominator, *self.sample_measures()))
        object.__setattr__(self, "measures", tuple(seen))

    def sample_measures(self) -> tuple[Measure, ...]:
        """What `sample_size` counts."""
        return self.sample or self.denominator or self.numerator

    def tables(self) -> set[str]:
        """The fact tables this computation reads, so a load of any of them refreshes it."""
        return {m.table for m in self.measures}


# ---- measure building blocks --------------------------------------------------------------------------------

CASES = "fact_approval_case"
RATINGS = "fact_rating"
TICKETS = "fact_hotline_ticket"
FIGURES = "fact_county_figure"


def _count(table: str, period_column: str, where: str) -> Measure:
    return Measure(table, period_column, f"SUM(CASE WHEN {where} THEN 1 ELSE 0 END)")


def _figure(indicator: str, sign: str = "") -> str:
    return f"WHEN '{indicator}' THEN {sign}value"


def _figures(*whens: str) -> Measure:
    """A sum over the county-figure long table, picking indicators (with signs) by code."""
    return Measure(FIGURES, "period", f"SUM(CASE indicator_code {' '.join(whens)} END)")


_COMPLETED = "status = 'completed'"
_JUDGEABLE = "promised_days IS NOT NULL AND working_days IS NOT NULL"
_BAD = "level <= 2"
_VERIFIED_BAD = "verified_bad"

def _case_count(where: str) -> Measure:
    """Cases completed in the month (by completed_period) that meet a condition."""
    return Measure(CASES, "completed_period", f"SUM(CASE WHEN {where} THEN 1 ELSE 0 END)", slice_where=_COMPLETED)


def _case_sum(expr: str, where: str | None = None) -> Measure:
    body = expr if where is None else f"CASE WHEN {where} THEN {expr} END"
    return Measure(CASES, "completed_period", f"SUM({body})", slice_where=_COMPLETED)


completed_cases = Measure(CASES, "completed_period", "COUNT(*)", slice_where=_COMPLETED)
judgeable_cases = _case_count(_JUDGEABLE)
late_cases = _case_count(f"{_JUDGEABLE} AND working_days > promised_days")
# Cases still open at a month's end whose due date had passed by then (and by today, for the running month).
open_overdue_cases = Measure(CASES, "period", "COUNT(*)", open_at_month_end=True)
ratings_given = Measure(RATINGS, "rated_period", "COUNT(*)")
market_entities = _figures(_figure("market_entities_total"))


def _approval_share(where: str) -> Computation:
    return Computation("proportion", (_case_count(where),), (completed_cases,))


def _approval_mean(expr: str) -> Computation:
    return Computation("mean", (_case_sum(expr),), (completed_cases,))


def _positive_rate(params: Mapping[str, object]) -> Computation:
    """好评率: 非常满意 + 满意 (+ 基本满意 unless `count_basic_satisfied` is false) over all ratings."""
    lowest_positive = 3 if params.get("count_basic_satisfied", True) else 4
    return Computation("proportion", (_count(RATINGS, "rated_period", f"level >= {lowest_positive}"),),
                       (ratings_given,))


def _rectified_on_time(params: Mapping[str, object]) -> Computation:
    """整改及时率: verified bad reviews rectified within `deadline_working_days`, over those due by today."""
    days = _deadline(params)
    on_time = f"{_VERIFIED_BAD} AND rectify_working_days IS NOT NULL AND rectify_working_days <= {days}"
    due = f"{_VERIFIED_BAD} AND (rectify_working_days IS NOT NULL OR rated_at < :rectify_cutoff_{days})"
    return Computation("proportion", (_count(RATINGS, "rated_period", on_time),),
                       (_count(RATINGS, "rated_period", due),))


def _deadline(params: Mapping[str, object]) -> int:
    days = params.get("deadline_working_days", 10)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
        raise ValueError(f"deadline_working_days must be a whole number of working days (1-60), got {days!r}")
    return days


def _startup_days(params: Mapping[str, object]) -> Computation:
    """企业开办时间: a bundle is done when its last part is; parts start together, so it takes its longest part."""
    parts = params.get("parts", 4)
    # The month range and the bundle filter are answered by one partial index (completed_period, bundle_id).
    bundles = ("(SELECT region_code, MAX(completed_period) AS completed_period, MAX(working_days) AS days "
               f"FROM {CASES} WHERE bundle_id IS NOT NULL AND {_COMPLETED} "
               "AND completed_period BETWEEN :first_period_before AND :last_period "
               f"GROUP BY region_code, bundle_id HAVING COUNT(*) >= {int(parts)}) AS bundles")
    return Computation("mean", (Measure(CASES, "completed_period", "SUM(days)", derived=bundles),),
                       (Measure(CASES, "completed_period", "COUNT(*)", derived=bundles),))


def _rating_coverage() -> Computation:
    rated = Measure(RATINGS, "rated_period", "COUNT(DISTINCT case_id)")  # a case belongs to one county: additive
    return Computation("proportion", (rated,), (completed_cases,))


ComputationSpec = Computation | Callable[[Mapping[str, object]], Computation]

COMPUTATIONS: dict[str, ComputationSpec] = {
    # ---- approvals (审批时效): the population is the cases completed in the month ----
    "approval_mean_working_days": _approval_mean("working_days"),
    "approval_median_working_days": Computation("median", (completed_cases,), median_column="working_days"),
    "approval_on_time_rate": Computation(
        "proportion", (_case_count(f"{_JUDGEABLE} AND working_days <= promised_days"),), (judgeable_cases,)),
    # 超期率: (completed late + open past due at the month's end) / (cases due).
    "approval_overdue_rate": Computation("proportion", (late_cases, open_overdue_cases),
                                         (judgeable_cases, open_overdue_cases)),
    # 承诺时限压缩率: 1 − Σpromised / Σstatutory over the catalogue items of the month's completed cases.
    "approval_limit_compression": Computation(
        "ratio", (_case_sum("statutory_days - promised_days", "statutory_days > 0 AND promised_days IS NOT NULL"),),
        (_case_sum("statutory_days", "statutory_days > 0 AND promised_days IS NOT NULL"),),
        sample=(completed_cases,)),
    "approval_instant_share": _approval_share(
        "item_code IN (SELECT item_code FROM dim_service_item WHERE is_instant)"),
    "approval_online_rate": _approval_share("fully_online"),
    "approval_mean_visits": _approval_mean("visits"),
    "approval_zero_visit_share": _approval_share("visits = 0"),
    "approval_at_most_one_visit_share": _approval_share("visits <= 1"),
    "approval_startup_days": _startup_days,
    # ---- ratings (好差评): the population is the ratings given in the month ----
    "rating_count": Computation("sum", (ratings_given,)),
    "rating_positive_rate": _positive_rate,
    "rating_bad_per_10k_cases": Computation("per_10k", (_count(RATINGS, "rated_period", _BAD),),
                                            (completed_cases,), scale=10_000.0),
    "rating_coverage": _rating_coverage(),
    "rating_rectification_rate": Computation(
        "proportion", (_count(RATINGS, "rated_period", f"{_VERIFIED_BAD} AND rectify_status = 'rectified'"),),
        (_count(RATINGS, "rated_period", _VERIFIED_BAD),)),
    "rating_rectified_on_time_rate": _rectified_on_time,
    # ---- 12345 hotline: the population is the tickets received in the month ----
    "hotline_on_time_closure_rate": Computation(
        "proportion", (_count(TICKETS, "received_period", "closed_at IS NOT NULL AND closed_at <= due_at"),),
        (_count(TICKETS, "received_period",
                "due_at IS NOT NULL AND (closed_at IS NOT NULL OR due_at < :today)"),)),
    "hotline_resolution_rate": Computation(
        "proportion", (_count(TICKETS, "received_period", "resolved"),),
        (_count(TICKETS, "received_period", "resolved IS NOT NULL"),)),
    "hotline_satisfaction_rate": Computation(
        "proportion",
        (_count(TICKETS, "received_period", "satisfaction IN ('satisfied', 'basically_satisfied')"),),
        (_count(TICKETS, "received_period", "satisfaction IS NOT NULL"),)),
    "hotline_callback_rate": Computation(
        "proportion", (_count(TICKETS, "received_period", "closed_at IS NOT NULL AND called_back_at IS NOT NULL"),),
        (_count(TICKETS, "received_period", "closed_at IS NOT NULL"),)),
    "hotline_reopen_rate": Computation(
        "proportion", (_count(TICKETS, "received_period", "closed_at IS NOT NULL AND reopen_count > 0"),),
        (_count(TICKETS, "received_period", "closed_at IS NOT NULL"),)),
    "hotline_business_tickets_per_10k_entities": Computation(
        "per_10k", (_count(TICKETS, "received_period", "is_business_env"),), (market_entities,),
        scale=10_000.0),
    # ---- county development (县区月报), from the counties' workbooks ----
    "county_market_entities_total": Computation("stock", (market_entities,)),
    "county_market_entities_new": Computation("sum", (_figures(_figure("market_entities_new")),)),
    # Net growth over the month's opening stock: (new − cancelled) / (total − new + cancelled).
    "county_market_entities_net_growth": Computation(
        "ratio", (_figures(_figure("market_entities_new"), _figure("market_entities_cancelled", "-")),),
        (_figures(_figure("market_entities_total"), _figure("market_entities_new", "-"),
                  _figure("market_entities_cancelled")),)),
    "county_investment_signed": Computation("sum", (_figures(_figure("investment_signed_yi")),)),
    "county_funds_in_place": Computation("sum", (_figures(_figure("funds_in_place_yi")),)),
    "county_funds_in_place_rate": Computation(
        "ratio", (_figures(_figure("funds_in_place_yi")),), (_figures(_figure("funds_planned_yi")),)),
    "county_construction_start_rate": Computation(
        "ratio", (_figures(_figure("projects_started")),), (_figures(_figure("projects_planned_start")),)),
    "county_policy_payout": Computation("sum", (_figures(_figure("policy_payout_wan")),)),
}


def build_computation(name: str, params: Mapping[str, object]) -> Computation:
    """The computation a KPI names, with its parameters applied; raises ValueError on bad parameters."""
    spec = COMPUTATIONS[name]
    return spec if isinstance(spec, Computation) else spec(params)


@lru_cache(maxsize=256)
def _cached(name: str, params: tuple[tuple[str, object], ...]) -> Computation:
    return build_computation(name, dict(params))


def computation_for(kpi: KpiDefinition) -> Computation:
    """The computation of a KPI, with its parameters applied."""
    return _cached(kpi.computation, tuple(sorted(kpi.params.items())))


def rectify_cutoff(*, today: dt.date, deadline_working_days: int,
                   add_working_days: Callable[[dt.date, int], dt.date]) -> dt.datetime:
    """Ratings given before this instant had their deadline pass before today (D working days after the rating)."""
    day = today
    while add_working_days(day, deadline_working_days) >= today:
        day -= dt.timedelta(days=1)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


def runtime_params(*, today: dt.date, add_working_days: Callable[[dt.date, int], dt.date],
                   deadlines: set[int]) -> dict[str, object]:
    """The values of the time-dependent bind parameters, so a refresh is deterministic within a day."""
    params: dict[str, object] = {"today": dt.datetime.combine(today, dt.time())}
    for days in deadlines:
        params[f"rectify_cutoff_{days}"] = rectify_cutoff(today=today, deadline_working_days=days,
                                                         add_working_days=add_working_days)
    return params
