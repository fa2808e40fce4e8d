"""Reads of the ops tables for operators: the last run of each job, source freshness, quarantined rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.config import Config
from models.db import rows_frame
from models.ops import EtlCursor, EtlRejectedRow, EtlRun


@dataclass(frozen=True, slots=True)
class JobStatus:
    """The latest run of one configured job, and when it last succeeded."""

    job: str
    source: str
    status: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    error: str | None
    last_success_at: dt.datetime | None
    cursor: str | None


def job_statuses(*, session: Session, config: Config) -> list[JobStatus]:
    """One line per configured job, in config order, even for jobs that never ran."""
    latest_ids = select(func.max(EtlRun.id)).group_by(EtlRun.job)
    latest = {r.job: r for r in session.scalars(select(EtlRun).where(EtlRun.id.in_(latest_ids)))}
    success = dict(session.execute(select(EtlRun.job, func.max(EtlRun.finished_at))
                                   .where(EtlRun.status == "success").group_by(EtlRun.job)).all())
    cursors = {(c.source, c.stream): c.value for c in session.scalars(select(EtlCursor))}
    out = []
    for name, job in config.jobs.items():
        run = latest.get(name)
        stream = job.stream or getattr(config.sources[job.source], "view", None) or ""
        out.append(JobStatus(
            job=name, source=job.source, status=run.status if run else None,
            started_at=run.started_at if run else None, finished_at=run.finished_at if run else None,
            rows_read=run.rows_read if run else 0, rows_loaded=run.rows_loaded if run else 0,
            rows_rejected=run.rows_rejected if run else 0, error=run.error if run else None,
            last_success_at=success.get(name), cursor=cursors.get((job.source, stream)),
        ))
    return out


def rejected_rows(*, session: Session, run_id: int | None = None, limit: int | None = None) -> pd.DataFrame:
    """Quarantined rows, newest run first, optionally of one run."""
    r = EtlRejectedRow
    stmt = select(r.run_id, r.dataset, r.source, r.source_line, r.reason_code, r.reason_zh, r.reason_en, r.raw)
    if run_id is not None:
        stmt = stmt.where(r.run_id == run_id)
    stmt = stmt.order_by(r.run_id.desc(), r.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    cols = ["run_id", "dataset", "source", "source_line", "reason_code", "reason_zh", "reason_en", "raw"]
    return rows_frame(session.execute(stmt), cols)
