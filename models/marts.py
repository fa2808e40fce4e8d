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
