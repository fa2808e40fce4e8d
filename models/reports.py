"""The report archive: every bulletin file ever built, so a month's bulletin can be fetched again exactly as sent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.facts import PERIOD


class ReportArchive(Base):
    """One built bulletin file: a rebuild of the same month, scope, format and language is a new version."""

    __tablename__ = "report_archive"
    __table_args__ = (
        UniqueConstraint("period", "region_code", "format", "lang", "version"),
        Index("ix_report_archive_period_region", "period", "region_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), default="bulletin")
    period: Mapped[str] = mapped_column(PERIOD)
    # The edition's scope: the city code for the city edition, a unit code for a county edition.
    region_code: Mapped[str] = mapped_column(ForeignKey("dim_region.code"))
    format: Mapped[str] = mapped_column(String(8))  # pdf | xlsx | docx
    lang: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 hex of the file's bytes
    size_bytes: Mapped[int] = mapped_column(Integer)
    # Relative to the configured archive folder (bulletin.archive_dir); the file is never overwritten.
    path: Mapped[str] = mapped_column(String(512), unique=True)
    data_as_of: Mapped[dt.datetime | None] = mapped_column(DateTime)
    generated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual | scheduler | dashboard
