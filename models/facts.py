"""Fact tables. Timestamps are Asia/Shanghai wall-clock time (naive), so a month in SQL is a month in Jinzhong.

Every fact row carries its provenance (`etl_run_id`, `source`, `source_line`) and a `row_hash` of its
business columns, so an unchanged re-delivery updates nothing.

Fact tables have no foreign keys (`FACT_REFERENCES` says what their codes point at): PostgreSQL checks a foreign key
with a trigger per inserted row, which halved the COPY of a million approval cases (32-35k rows/s against 57-64k).
The loader, the only writer of facts, checks each batch's distinct values in one query instead
(`etl.load.check_references`), and regions and runs are never deleted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

PERIOD = String(7)  # 'YYYY-MM'
# The cases that were late or are still open: the only ones that can be open past due at some month's end.
OVERDUE_INDEX_WHERE = "due_period IS NOT NULL AND (completed_period IS NULL OR completed_period > due_period)"
# Partial-index predicates, written the same way in the reads that use them: SQLite only picks a partial index
# when the query repeats its WHERE term (`verified_bad IS 1`, as SQLAlchemy renders `.is_(True)`, does not match).
VERIFIED_BAD_INDEX_WHERE = "verified_bad"
BUSINESS_ENV_INDEX_WHERE = "is_business_env"
# What a fact column points at: (table, column). The same for every fact table.
FACT_REFERENCES: dict[str, tuple[str, str]] = {"region_code": ("dim_region", "code"), "etl_run_id": ("etl_run", "id")}


class _Provenance:
    row_hash: Mapped[str] = mapped_column(String(32))
    etl_run_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(512))
    source_line: Mapped[int | None] = mapped_column(Integer)


class FactApprovalCase(_Provenance, Base):
    """One row per 办件. `working_days` counts working days after acceptance up to completion, less suspensions."""

    __tablename__ = "fact_approval_case"
    __table_args__ = (
        Index("ix_fact_approval_case_region_completed", "region_code", "completed_period"),
        Index("ix_fact_approval_case_completed_period", "completed_period"),
        Index("ix_fact_approval_case_region_accepted", "region_code", "accepted_period"),
        Index("ix_fact_approval_case_overdue", "due_period", sqlite_where=text(OVERDUE_INDEX_WHERE),
              postgresql_where=text(OVERDUE_INDEX_WHERE)),
        # The same cases by region and completion month: a county's cases still open after a month are read off two
        # index ranges (not completed; completed later), without the late cases completed long before.
        # It also carries what the overdue lists filter and sort on, so their oldest cases are picked off it alone.
        Index("ix_fact_approval_case_overdue_region", "region_code", "completed_period", "due_period", "due_date",
              "status", "accepted_at", "case_id",
              sqlite_where=text(OVERDUE_INDEX_WHERE), postgresql_where=text(OVERDUE_INDEX_WHERE)),
        # Bundles (企业开办) are a few percent of the cases: the start-up time reads them off this index alone.
        Index("ix_fact_approval_case_bundle", "completed_period", "bundle_id",
              sqlite_where=text("bundle_id IS NOT NULL"), postgresql_where=text("bundle_id IS NOT NULL")),
    )

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(32))
    item_code: Mapped[str] = mapped_column(String(64))
    item_known: Mapped[bool] = mapped_column(Boolean)
    dept_code: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    accepted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    promised_days: Mapped[int | None] = mapped_column(Integer)
    statutory_days: Mapped[int | None] = mapped_column(Integer)
    suspended_days: Mapped[int] = mapped_column(Integer)
    working_days: Mapped[int | None] = mapped_column(Integer)
    visits: Mapped[int] = mapped_column(Integer)
    fully_online: Mapped[bool] = mapped_column(Boolean)
    accepted_period: Mapped[str] = mapped_column(PERIOD)
    completed_period: Mapped[str | None] = mapped_column(PERIOD)
    # When the promised limit runs out (accepted + promised + suspended working days), extended over the weekend or
    # holiday right after it, so a case completed on that rest day is on time, as its working_days say.
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    due_period: Mapped[str | None] = mapped_column(PERIOD)
    # Cases that are parts of one "一件事" bundle, e.g. 企业开办 (licence, seal, invoice, social security).
    bundle_id: Mapped[str | None] = mapped_column(String(64))
    source_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class FactRating(_Provenance, Base):
    """One 好差评 rating. `level` is 5 (非常满意) down to 1 (非常不满意); levels 1-2 are bad reviews (差评)."""

    __tablename__ = "fact_rating"
    __table_args__ = (
        # The month slices of the KPI refresh and the level counts of the level mart both read this index; one on
        # (region_code, rated_period) alone would only cost every insert another index entry.
        Index("ix_fact_rating_region_period_level", "region_code", "rated_period", "level"),
        # Verified bad reviews are a few percent of the ratings: the unrectified list reads only those, oldest first,
        # and tests their rectification off the index (only the unrectified ones are read from the table).
        Index("ix_fact_rating_verified_bad", "region_code", "rated_at", "rectify_status", "rectified_at",
              "rectify_working_days", "verified_bad",
              sqlite_where=text(VERIFIED_BAD_INDEX_WHERE), postgresql_where=text(VERIFIED_BAD_INDEX_WHERE)),
    )

    rating_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    region_code: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    rated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    rated_period: Mapped[str] = mapped_column(PERIOD)
    level: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    verified_bad: Mapped[bool] = mapped_column(Boolean)
    rectify_status: Mapped[str | None] = mapped_column(String(16))
    rectified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Working days from the rating to its rectification, counted like processing time.
    rectify_working_days: Mapped[int | None] = mapped_column(Integer)


class FactHotlineTicket(_Provenance, Base):
    """One 12345 ticket, updated in place as it is closed, called back or reopened."""

    __tablename__ = "fact_hotline_ticket"
    __table_args__ = (
        Index("ix_fact_hotline_ticket_region_period", "region_code", "received_period"),
        # Business-environment tickets by category read only the tickets that are about the business environment,
        # off the index alone: it carries the category and the times that say whether a ticket is late.
        Index("ix_fact_hotline_ticket_business_env", "region_code", "received_period", "category", "closed_at",
              "due_at", "is_business_env",
              sqlite_where=text(BUSINESS_ENV_INDEX_WHERE), postgresql_where=text(BUSINESS_ENV_INDEX_WHERE)),
    )

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    is_business_env: Mapped[bool] = mapped_column(Boolean)
    content: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    received_period: Mapped[str] = mapped_column(PERIOD)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    called_back_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    reopen_count: Mapped[int] = mapped_column(Integer)
    source_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class FactCountyFigure(_Provenance, Base):
    """A county's hand-submitted monthly figure, one row per (unit, month, indicator)."""

    __tablename__ = "fact_county_figure"

    region_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(PERIOD, primary_key=True)
    indicator_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
