"""Reads for the dashboard shell and its overview, submissions and data-operations pages.

Small, keyword-only functions over the marts and the ops tables (never a scan of the fact tables per request),
so callbacks stay thin and every read can sit behind `dashboard.context.cached_read`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.config import Config
from models.db import rows_frame
from models.marts import MartCountyRanking, MartKpiMonthly
from models.ops import FACTS_VERSION, OPS_VERSION, EtlDataVersion, EtlFile, EtlRejectedRow, EtlRun
from models.scope import Viewer

COUNTY_DATASET = "county_figures"
_FILE_NAME = re.compile(r"^(?P<code>\d{6})_[^_]*_(?P<year>\d{4})(?P<month>\d{2})\.xls[xm]?$")


# ---- the data versions: what the dashboard cache keys on ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataVersions:
    """The two counters the read cache keys on (see models.ops.EtlDataVersion): (value, when it moved) or None."""

    facts: tuple[int, str] | None
    ops: tuple[int, str] | None


def data_versions(*, session: Session) -> DataVersions:
    """Both counters in one round trip: facts move only when a run changed facts or marts, ops when any run ends."""
    rows = {name: (int(value), str(changed_at)) for name, value, changed_at in session.execute(
        select(EtlDataVersion.name, EtlDataVersion.value, EtlDataVersion.changed_at))}
    return DataVersions(facts=rows.get(FACTS_VERSION), ops=rows.get(OPS_VERSION))


# ---- overview ---------------------------------------------------------------------------------------------------


def _months_back(period: str, months: int) -> list[str]:
    year, month = int(period[:4]), int(period[5:7])
    out = []
    for _ in range(months):
        out.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


@dataclass(frozen=True, slots=True)
class KpiSnapshot:
    """One KPI of one region in a month: value, changes, target status and the months before it (oldest first)."""

    kpi_code: str
    period: str
    value: float | None
    mom_change: float | None
    yoy_change: float | None
    target: float | None
    target_status: str | None  # met | near | missed | None (no target or no value)
    sample_size: int
    periods: tuple[str, ...]
    series: tuple[float | None, ...]


def _opt(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def kpi_snapshots(*, session: Session, viewer: Viewer, config: Config, period: str,
                  region_code: str | None = None, months: int = 12) -> list[KpiSnapshot]:
    """Every configured KPI of a region (the city by default) for a month, with a `months`-long series."""
    del viewer  # KPI values of every region are visible to every role
    region = region_code or config.city.code
    window = _months_back(period, months)
    m = MartKpiMonthly
    rows = session.execute(select(m.kpi_code, m.period, m.value, m.sample_size, m.mom_change, m.yoy_change,
                                  m.target_status).where(m.region_code == region, m.period.in_(window))).all()
    by_key = {(r.kpi_code, r.period): r for r in rows}
    out = []
    for kpi in config.kpis:
        row = by_key.get((kpi.code, period))
        out.append(KpiSnapshot(
            kpi_code=kpi.code, period=period, value=_opt(row.value) if row else None,
            mom_change=_opt(row.mom_change) if row else None, yoy_change=_opt(row.yoy_change) if row else None,
            target=kpi.target_for(period), target_status=row.target_status if row else None,
            sample_size=int(row.sample_size or 0) if row else 0, periods=tuple(window),
            series=tuple(_opt(by_key[(kpi.code, p)].value) if (kpi.code, p) in by_key else None for p in window),
        ))
    return out


def composite_trend(*, session: Session, config: Config, until: str, months: int = 12) -> pd.DataFrame:
    """The counties' composite index per month up to `until`: mean, lowest, highest and the quartiles."""
    del config
    window = _months_back(until, months)
    r = MartCountyRanking
    rows = session.execute(select(r.period, r.composite).where(r.period.in_(window), r.composite.is_not(None))).all()
    frame = rows_frame(rows, ["period", "composite"])
    cols = ["period", "mean", "low", "q1", "q3", "high", "counties"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    g = frame.groupby("period")["composite"]
    out = pd.DataFrame({"mean": g.mean(), "low": g.min(), "q1": g.quantile(0.25), "q3": g.quantile(0.75),
                        "high": g.max(), "counties": g.count()}).reset_index()
    return out[cols].sort_values("period").reset_index(drop=True)


# ---- county submissions -----------------------------------------------------------------------------------------


def _county_sources(config: Config) -> list[str]:
    return sorted({job.source for job in config.jobs.values() if job.dataset == COUNTY_DATASET})


def _from_file_name(name: str) -> tuple[str | None, str | None]:
    """(unit code, period) from a template file name `{code}_{name}_{YYYYMM}.xlsx`, or (None, None)."""
    match = _FILE_NAME.match(str(name).rsplit("/", 1)[-1])
    if not match:
        return None, None
    return match["code"], f"{match['year']}-{match['month']}"


def submission_deadline(period: str, day: int) -> dt.date:
    """The day a month's county figures are due: `day` of the following month."""
    year, month = int(period[:4]), int(period[5:7])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return dt.date(year, month, day)


def _county_files(session: Session, config: Config) -> pd.DataFrame:
    f = EtlFile
    rows = session.execute(select(f.filename, f.status, f.received_at, f.region_code, f.period, f.rows_loaded,
                                  f.rows_rejected, f.error, f.run_id)
                           .where(f.source.in_(_county_sources(config)))).all()
    frame = rows_frame(rows, ["filename", "status", "received_at", "region_code", "period", "rows_loaded",
                              "rows_rejected", "error", "run_id"])
    parsed = frame["filename"].map(_from_file_name)
    frame["region_code"] = frame["region_code"].fillna(parsed.map(lambda p: p[0]))
    frame["period"] = frame["period"].fillna(parsed.map(lambda p: p[1]))
    frame["received_at"] = pd.to_datetime(frame["received_at"])
    return frame


def submission_status(*, session: Session, viewer: Viewer, config: Config, period: str,
                      today: dt.date | None = None) -> pd.DataFrame:
    """One row per unit for a month's county figures: on time, late, rejected, overdue or not yet due.

    status: `on_time` / `late` (a file loaded by / after the deadline, or figures present without a file record),
    `rejected` (only refused files), `overdue` (nothing by the deadline), `pending` (nothing yet, not yet due).
    """
    del viewer  # who submitted is not case detail: every role sees it
    today = today or dt.datetime.now(ZoneInfo(config.timezone)).date()
    deadline = submission_deadline(period, config.dashboard.submission_deadline_day)
    files = _county_files(session, config)
    # The month's files grouped by unit once, in plain rows (a pandas filter per unit cost more than the read).
    by_unit: dict[str, list[dict]] = {}
    for row in files[files["period"] == period].to_dict("records"):
        by_unit.setdefault(row["region_code"], []).append(row)
    present = set(session.scalars(select(func.distinct(MartKpiMonthly.region_code)).where(
        MartKpiMonthly.period == period, MartKpiMonthly.kpi_code.in_(
            [k.code for k in config.kpis if k.pillar == "county_development"]),
        MartKpiMonthly.value.is_not(None))))
    out = []
    for unit in config.city.units:
        # Oldest first, as a stable sort by received_at (a file without a time last).
        mine = sorted(by_unit.get(unit.code, []), key=lambda r: (pd.isna(r["received_at"]),
                                                                  r["received_at"] if pd.notna(r["received_at"])
                                                                  else pd.Timestamp.min))
        loaded = [r for r in mine if r["status"] == "loaded"]
        failed = [r for r in mine if r["status"] != "loaded"]
        first = loaded[0] if loaded else None
        if first is not None:
            status = "on_time" if first["received_at"].date() <= deadline else "late"
        elif unit.code in present:
            status = "on_time"
        elif failed:
            status = "rejected"
        else:
            status = "overdue" if today > deadline else "pending"
        last = mine[-1] if mine else None
        out.append({
            "region_code": unit.code, "name_zh": unit.name_zh, "name_en": unit.name_en, "status": status,
            "received_at": first["received_at"] if first is not None else (
                last["received_at"] if last is not None else None),
            "filename": (first if first is not None else last)["filename"] if last is not None else None,
            "files": len(mine), "files_failed": len(failed),
            "rows_loaded": sum(_count(r["rows_loaded"]) for r in loaded),
            "rows_rejected": sum(_count(r["rows_rejected"]) for r in mine),
            "deadline": deadline,
        })
    return pd.DataFrame(out)


def _count(value: object) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def submission_rejections(*, session: Session, viewer: Viewer, config: Config, period: str) -> pd.DataFrame:
    """What was refused for a month's county figures: whole files (with the error) and single rows (with reasons)."""
    del viewer
    cols = ["region_code", "filename", "kind", "source_line", "reason_zh", "reason_en", "received_at"]
    files = _county_files(session, config)
    failed = files[(files["period"] == period) & (files["status"] != "loaded")]
    rows = [{"region_code": r.region_code, "filename": r.filename, "kind": "file", "source_line": None,
             "reason_zh": r.error, "reason_en": r.error, "received_at": r.received_at}
            for r in failed.itertuples()]
    x = EtlRejectedRow
    received = dict(zip(files["filename"], files["received_at"], strict=False))
    for source, line, zh, en in session.execute(select(x.source, x.source_line, x.reason_zh, x.reason_en)
                                                .where(x.dataset == COUNTY_DATASET).order_by(x.id)):
        code, month = _from_file_name(source)
        if month == period:
            name = str(source).rsplit("/", 1)[-1]
            rows.append({"region_code": code, "filename": name, "kind": "row", "source_line": line,
                         "reason_zh": zh, "reason_en": en, "received_at": received.get(name)})
    return pd.DataFrame(rows, columns=cols)


# ---- data operations --------------------------------------------------------------------------------------------


def etl_runs(*, session: Session, limit: int = 500) -> pd.DataFrame:
    """The latest ETL runs, newest first, with their duration in seconds."""
    r = EtlRun
    rows = session.execute(select(r.id, r.job, r.trigger, r.started_at, r.finished_at, r.status, r.rows_read,
                                  r.rows_inserted, r.rows_updated, r.rows_rejected, r.error)
                           .order_by(r.id.desc()).limit(limit)).all()
    cols = ["id", "job", "trigger", "started_at", "finished_at", "status", "rows_read", "rows_inserted",
            "rows_updated", "rows_rejected", "error"]
    frame = rows_frame(rows, cols)
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["finished_at"] = pd.to_datetime(frame["finished_at"])
    frame["seconds"] = (frame["finished_at"] - frame["started_at"]).dt.total_seconds()
    return frame


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A configured job's schedule: its cron, its next two fire times (city timezone, naive)."""

    job: str
    source: str
    dataset: str
    schedule: str
    next_fire: dt.datetime | None
    following_fire: dt.datetime | None


def job_schedule(*, config: Config, now: dt.datetime | None = None) -> list[ScheduledJob]:
    """Each job's next fire times from its cron in config, soonest first (what `bizenv scheduler` will do)."""
    tz = ZoneInfo(config.timezone)

    def naive(when: dt.datetime | None) -> dt.datetime | None:
        return when.astimezone(tz).replace(tzinfo=None) if when else None

    moment = (now.replace(tzinfo=tz) if now and now.tzinfo is None else now) or dt.datetime.now(tz)
    out = []
    for name, job in config.jobs.items():
        trigger = CronTrigger.from_crontab(job.schedule, timezone=tz)
        first = trigger.get_next_fire_time(None, moment)
        second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1)) if first else None
        out.append(ScheduledJob(name, job.source, job.dataset, job.schedule, naive(first), naive(second)))
    return sorted(out, key=lambda s: (s.next_fire is None, s.next_fire or dt.datetime.max, s.job))


def source_freshness(*, session: Session, config: Config, now: dt.datetime | None = None) -> pd.DataFrame:
    """Per configured job: its last run and last success, and whether the data is fresh for its schedule.

    state: `fresh` (last success within 1.5 schedule intervals + 1 h), `stale` (older), `failed` (the latest run
    failed), `never` (no successful run yet).
    """
    tz = ZoneInfo(config.timezone)
    now = now or dt.datetime.now(tz).replace(tzinfo=None)
    latest_ids = select(func.max(EtlRun.id)).group_by(EtlRun.job)
    latest = {r.job: r for r in session.scalars(select(EtlRun).where(EtlRun.id.in_(latest_ids)))}
    success = dict(session.execute(select(EtlRun.job, func.max(EtlRun.finished_at))
                                   .where(EtlRun.status == "success").group_by(EtlRun.job)).all())
    schedule = {s.job: s for s in job_schedule(config=config, now=now)}
    out = []
    for name, job in config.jobs.items():
        run, ok = latest.get(name), success.get(name)
        ok = pd.Timestamp(ok).to_pydatetime() if ok is not None else None
        s = schedule[name]
        interval = (s.following_fire - s.next_fire) if s.next_fire and s.following_fire else dt.timedelta(days=1)
        if ok is None:
            state = "never"
        elif run is not None and run.status == "failed":
            state = "failed"
        elif now - ok > interval * 1.5 + dt.timedelta(hours=1):
            state = "stale"
        else:
            state = "fresh"
        out.append({"job": name, "source": job.source, "dataset": job.dataset, "state": state,
                    "last_status": run.status if run else None, "last_started_at": run.started_at if run else None,
                    "last_success_at": ok, "age_hours": (now - ok).total_seconds() / 3600 if ok else None,
                    "interval_hours": interval.total_seconds() / 3600, "error": run.error if run else None})
    return pd.DataFrame(out)


QUARANTINE_COLUMNS = ["id", "run_id", "dataset", "source", "source_line", "reason_code", "reason_zh", "reason_en",
                      "raw"]


def _quarantine_filter(stmt, *, dataset: str | None, reason_code: str | None, run_id: int | None):  # noqa: ANN001
    x = EtlRejectedRow
    if dataset:
        stmt = stmt.where(x.dataset == dataset)
    if reason_code:
        stmt = stmt.where(x.reason_code == reason_code)
    if run_id is not None:
        stmt = stmt.where(x.run_id == run_id)
    return stmt


def quarantine_page(*, session: Session, dataset: str | None = None, reason_code: str | None = None,
                    run_id: int | None = None, page: int = 1, page_size: int = 50) -> tuple[pd.DataFrame, int]:
    """One page of quarantined rows (newest first) for the filters, and how many rows match in all."""
    x = EtlRejectedRow
    filters = dict(dataset=dataset, reason_code=reason_code, run_id=run_id)
    total = int(session.scalar(_quarantine_filter(select(func.count(x.id)), **filters)) or 0)
    stmt = _quarantine_filter(select(*(getattr(x, c) for c in QUARANTINE_COLUMNS)), **filters)
    page = max(1, int(page))
    stmt = stmt.order_by(x.run_id.desc(), x.id).offset((page - 1) * page_size).limit(page_size)
    return rows_frame(session.execute(stmt), QUARANTINE_COLUMNS), total


def quarantine_reasons(*, session: Session, datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """The reason codes in quarantine with their texts and counts, per dataset, most frequent first."""
    x = EtlRejectedRow
    stmt = select(x.dataset, x.reason_code, func.min(x.reason_zh), func.min(x.reason_en), func.count(x.id))
    if datasets:
        stmt = stmt.where(x.dataset.in_(list(datasets)))
    rows = session.execute(stmt.group_by(x.dataset, x.reason_code)).all()
    frame = pd.DataFrame(rows, columns=["dataset", "reason_code", "reason_zh", "reason_en", "rows"])
    return frame.sort_values(["rows", "dataset", "reason_code"], ascending=[False, True, True]).reset_index(drop=True)
