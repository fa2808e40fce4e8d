"""Dimensions: regions, departments, service items and the working-day calendar."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class DimRegion(Base):
    """The city (level 'city') and its reporting units (level 'county')."""

    __tablename__ = "dim_region"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("dim_region.code"))
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    short_zh: Mapped[str] = mapped_column(String(32))
    short_en: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    sort_order: Mapped[int] = mapped_column(Integer)


class DimRegionAlias(Base):
    """Every spelling a source may use for a unit: names, short names, pinyin, aliases and retired codes."""

    __tablename__ = "dim_region_alias"

    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))


class DimDepartment(Base):
    __tablename__ = "dim_department"

    dept_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    row_hash: Mapped[str] = mapped_column(String(32))


class DimServiceItem(Base):
    """The service catalogue (事项清单): limits are in working days."""

    __tablename__ = "dim_service_item"

    item_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(256))
    dept_code: Mapped[str | None] = mapped_column(ForeignKey("dim_department.dept_code"), index=True)
    statutory_days: Mapped[int | None] = mapped_column(Integer)
    promised_days: Mapped[int | None] = mapped_column(Integer)
    is_instant: Mapped[bool] = mapped_column(Boolean)
    source_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    row_hash: Mapped[str] = mapped_column(String(32))
    etl_run_id: Mapped[int] = mapped_column(ForeignKey("etl_run.id"))
    source: Mapped[str] = mapped_column(String(512))
    source_line: Mapped[int | None] = mapped_column(Integer)


class DimCalendar(Base):
    """One row per day: whether offices work, and why."""

    __tablename__ = "dim_calendar"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_working_day: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))
    holiday_name: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
