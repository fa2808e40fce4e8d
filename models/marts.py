"""KPI marts: small, precomputed tables that the dashboard and the bulletin read."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.facts import PERIOD


class MartKpiMonthly(Base):
    """One row per (region, month, KPI). City rows are computed from counts, never averaged from counties."""

    __tablename__ = "mart_kpi_monthly"
    __table_args__ = (Index("ix_mart_kpi_monthly_period_kpi", "period", "kpi_code"),)

    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    kpi_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[int] = mapped_column(Integer)
    # Wilson 95% interval, for proportions and per-10k rates (on the KPI's own scale).
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    # Pooled from the months' sums (flows) or the month's own value (stocks); NULL for medians.
    ytd_value: Mapped[float | None] = mapped_column(Float)
    rolling3_value: Mapped[float | None] = mapped_column(Float)
    # value − value of the previous month / of the same month a year before (percentage points for ratios).
    mom_change: Mapped[float | None] = mapped_column(Float)
    yoy_change: Mapped[float | None] = mapped_column(Float)
    # Against the year's target: 'met', 'near' (within the KPI's margin) or 'missed'; NULL without target or value.
    target_status: Mapped[str | None] = mapped_column(String(8))


class MartCountyRanking(Base):
    """One row per (county, month): the composite index, its pillars, the rank and how sure that rank is."""

    __tablename__ = "mart_county_ranking"
    __table_args__ = (Index("ix_mart_county_ranking_period", "period"),)

    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    composite: Mapped[float | None] = mapped_column(Float)
    score_approval: Mapped[float | None] = mapped_column(Float)
    score_ratings: Mapped[float | None] = mapped_column(Float)
    score_hotline: Mapped[float | None] = mapped_column(Float)
    score_county_development: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)
    rank_change: Mapped[int | None] = mapped_column(Integer)  # positive: moved up (rank number fell)
    rank_low: Mapped[int | None] = mapped_column(Integer)  # best plausible rank (smallest number)
    rank_high: Mapped[int | None] = mapped_column(Integer)
    indicators_scored: Mapped[int] = mapped_column(Integer)
    flags: Mapped[str] = mapped_column(String(512))  # comma-separated flag codes, '' when none


class MartCountyIndicatorScore(Base):
    """One row per (county, month, indexed KPI): the distance-to-frontier score and its share of the composite."""

    __tablename__ = "mart_county_indicator_score"
    __table_args__ = (Index("ix_mart_county_indicator_score_period", "period"),)

    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    kpi_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)  # as measured
    adjusted_value: Mapped[float | None] = mapped_column(Float)  # after small-sample shrinkage; what is scored
    sample_size: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)  # 0-100, NULL when left out
    points: Mapped[float | None] = mapped_column(Float)  # what this indicator adds to the composite
    flag: Mapped[str | None] = mapped_column(String(32))  # 'shrunk', 'small_sample', 'no_data'


class MartRatingLevelMonthly(Base):
    """Ratings per (county, month, level 1-5): the service page's levels chart reads a few hundred rows, not every
    rating. Refreshed with the KPI marts for the pairs a load touched; the city is the sum of its counties."""

    __tablename__ = "mart_rating_level_monthly"

    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer)


NO_DEPT = ""  # a case without a department, in the approval marts' keys (a key column cannot be NULL)


class MartApprovalItemMonthly(Base):
    """Completed cases per (county, month, item, department, channel), with the sums the item ranking needs.

    The approvals page ranks items over any months, county, department and channel: at full volume that read
    scanned a city-month of cases (~110k rows, 200+ ms cold); here it sums a few thousand rows. Refreshed with the
    KPI marts for the pairs a load touched. Only cases with `working_days` count, as in the ranking.
    """

    __tablename__ = "mart_approval_item_monthly"
    __table_args__ = {"sqlite_with_rowid": False}  # rows of one county-month sit together, in key order

    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)  # the month the cases were completed in
    item_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    dept_code: Mapped[str] = mapped_column(String(32), primary_key=True)  # NO_DEPT when the case has none
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)
    days_sum: Mapped[int] = mapped_column(Integer)
    days_max: Mapped[int] = mapped_column(Integer)
    late_cases: Mapped[int] = mapped_column(Integer)  # working days beyond the promised limit
    promised_max: Mapped[int | None] = mapped_column(Integer)
    statutory_max: Mapped[int | None] = mapped_column(Integer)
    # Over the cases with both limits (statutory > 0): what the compression KPI divides.
    limited_promised_sum: Mapped[int | None] = mapped_column(Integer)
    limited_statutory_sum: Mapped[int | None] = mapped_column(Integer)


class MartApprovalDaysMonthly(Base):
    """Completed cases per (county, month, department, channel, working days): the approvals page's distribution."""

    __tablename__ = "mart_approval_days_monthly"
    __table_args__ = {"sqlite_with_rowid": False}

    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    dept_code: Mapped[str] = mapped_column(String(32), primary_key=True)  # NO_DEPT when the case has none
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    working_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)
    within_cases: Mapped[int] = mapped_column(Integer)  # a promised limit, and done within it
    beyond_cases: Mapped[int] = mapped_column(Integer)  # a promised limit, and done after it
