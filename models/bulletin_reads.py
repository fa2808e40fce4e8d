"""Small reads the monthly bulletin needs beyond models.kpis: full mart rows with their change columns, quarantine."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.db import rows_frame
from models.marts import MartKpiMonthly
from models.ops import EtlRejectedRow
from models.scope import Viewer

MART_COLUMNS = ["region_code", "period", "kpi_code", "value", "sample_size", "ytd_value", "mom_change",
                "yoy_change", "target_status"]


def read_mart_rows(*, session: Session, viewer: Viewer, periods: Sequence[str],
                   region_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Mart rows with the change and target columns, for the bulletin's KPI tables (KPI values are not scoped)."""
    del viewer  # KPI values of every region are visible to every role, as in models.kpis
    m = MartKpiMonthly
    stmt = select(*(getattr(m, c) for c in MART_COLUMNS)).where(m.period.in_(list(periods)))
    if region_codes is not None:
        stmt = stmt.where(m.region_code.in_(list(region_codes)))
    return rows_frame(session.execute(stmt), MART_COLUMNS)


def quarantine_counts(*, session: Session) -> dict[str, int]:
    """Rows held in quarantine per dataset, for the bulletin's data notes."""
    r = EtlRejectedRow
    rows = session.execute(select(r.dataset, func.count()).group_by(r.dataset).order_by(r.dataset)).all()
    return {dataset: int(n) for dataset, n in rows}

