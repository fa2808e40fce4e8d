"""Imports every model so `Base.metadata` is complete for Alembic and for tests."""

from models.accounts import AuditEntry, User
from models.base import Base
from models.dims import DimCalendar, DimDepartment, DimRegion, DimRegionAlias, DimServiceItem
from models.facts import FactApprovalCase, FactCountyFigure, FactHotlineTicket, FactRating
from models.marts import MartCountyIndicatorScore, MartCountyRanking, MartKpiMonthly
from models.ops import EtlCursor, EtlDirtyPeriod, EtlFile, EtlLock, EtlRejectedRow, EtlRun
from models.reports import ReportArchive  # noqa: F401 - the bulletin archive, for Alembic

__all__ = [
    "AuditEntry",
    "Base",
    "DimCalendar",
    "DimDepartment",
    "DimRegion",
    "DimRegionAlias",
    "DimServiceItem",
    "EtlCursor",
    "EtlDirtyPeriod",
    "EtlFile",
    "EtlLock",
    "EtlRejectedRow",
    "EtlRun",
    "FactApprovalCase",
    "FactCountyFigure",
    "FactHotlineTicket",
    "FactRating",
    "MartCountyIndicatorScore",
    "MartCountyRanking",
    "MartKpiMonthly",
    "User",
]
