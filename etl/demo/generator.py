"""Deterministic generator of Jinzhong's demo source systems, in the shapes the real systems deliver.

One integer seed fixes every byte. Volumes follow the real city (about 1.2M cases, 1M ratings and 300k hotline
tickets a year at scale 1.0); the work is vectorised per month and written in monthly chunks, so memory stays
flat however many months are asked for.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from etl.demo.approvals import CASE_BAD_BASES, ApprovalDb, CaseBatch, generate_month_cases
from etl.demo.catalogue import build_catalogue
from etl.demo.common import (
    Context,
    bad_budget,
    demo_calendar,
    epoch_seconds,
    month_span,
    month_weights,
    spread_over_months,
)
from etl.demo.county_figures import CountyStats, write_county_figures
from etl.demo.hotline import HOTLINE_BAD_BASES, HotlineDb, generate_month_tickets
from etl.demo.ratings import (
    DUPLICATE_ROW_BASE,
    RATING_BAD_BASES,
    InboxStats,
    RatingsInbox,
    ratings_from_cases,
)
from etl.demo.units import JINZHONG_UNITS, RETIRED_CODES, UnitSpec
from models.calendar import CalendarFallbackWarning

__all__ = ["JINZHONG_UNITS", "UnitSpec", "default_now", "generate_sources"]

APPROVAL_DB = "approval_platform.db"
HOTLINE_DB = "hotline.db"
RATINGS_INBOX = "ratings/inbox"
COUNTY_INBOX = "county_figures/inbox"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def default_now(end_month: str) -> dt.datetime:
    """The extraction moment: 8 days into the month after end_month, when most late cases have closed."""
    year, month = (int(p) for p in end_month.split("-"))
    first_next = dt.datetime(year + month // 12, month % 12 + 1, 1)
    return first_next + dt.timedelta(days=8)


def generate_sources(*, out_dir: Path, units: Sequence[UnitSpec], start_month: str = "2023-01", end_month: str,
                     scale: float = 0.02, seed: int = 20240329, now: dt.datetime | None = None) -> dict:
    """Write every demo source system under out_dir and return a manifest dict (counts, paths, params)."""
    ctx = _context(units=units, start_month=start_month, end_month=end_month, scale=scale, seed=seed, now=now)
    out_dir = Path(out_dir)
    _fresh_dir(out_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        sections = _generate(ctx, out_dir)
    manifest = {
        "version": MANIFEST_VERSION,
        "params": {"start_month": start_month, "end_month": end_month, "scale": scale, "seed": seed,
                   "now": _iso(ctx.now), "units": [u.code for u in ctx.units],
                   "retired_codes": dict(RETIRED_CODES)},
        "paths": {"approval_db": APPROVAL_DB, "ratings_inbox": RATINGS_INBOX, "hotline_db": HOTLINE_DB,
                  "county_inbox": COUNTY_INBOX, "manifest": MANIFEST},
        **sections,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def _context(*, units: Sequence[UnitSpec], start_month: str, end_month: str, scale: float, seed: int,
             now: dt.datetime | None) -> Context:
    """Validate the arguments and build the shared run context."""
    if not units:
        raise ValueError("units must name at least one unit")
    if len({u.code for u in units}) != len(units):
        raise ValueError("unit codes must be unique")
    if not (0 < scale <= 10):
        raise ValueError(f"scale must be in (0, 10], got {scale}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    months = month_span(start_month, end_month)
    moment = now if now is not None else default_now(end_month)
    if moment.tzinfo is not None:
        raise ValueError("now must be naive Asia/Shanghai wall-clock time")
    return Context(units=list(units), months=months, scale=float(scale), seed=int(seed),
                   now=epoch_seconds(moment), calendar=demo_calendar())


def _fresh_dir(out_dir: Path) -> None:
    """Wipe and recreate the output tree."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / RATINGS_INBOX).mkdir(parents=True)
    (out_dir / COUNTY_INBOX).mkdir(parents=True)


def _generate(ctx: Context, out_dir: Path) -> dict:
    """Run the month loop over cases, ratings and hotline, then the county workbooks."""
    cat = build_catalogue(ctx)
    weights = month_weights(ctx)
    case_budget = bad_budget(ctx, CASE_BAD_BASES)
    case_plan = spread_over_months(ctx, 1, case_budget, weights)
    rating_plan = spread_over_months(ctx, 2, bad_budget(ctx, RATING_BAD_BASES), weights)
    dup_plan = spread_over_months(ctx, 3, bad_budget(ctx, {"dup": DUPLICATE_ROW_BASE}), weights)[:, 0]
    hotline_plan = spread_over_months(ctx, 4, bad_budget(ctx, HOTLINE_BAD_BASES), weights)
    approval = ApprovalDb(out_dir / APPROVAL_DB)
    hotline = HotlineDb(out_dir / HOTLINE_DB)
    inbox = RatingsInbox(ctx, cat, out_dir / RATINGS_INBOX, rating_plan, dup_plan)
    acc = _Accumulator([u.code for u in ctx.units])
    acc.items = approval.write_items(ctx, cat)
    for month in ctx.months:
        case_bad = dict(zip(CASE_BAD_BASES, case_plan[month.index].tolist(), strict=True))
        batch = generate_month_cases(ctx, cat, month, case_bad)
        approval.write_cases(batch)
        acc.add_cases(batch)
        inbox.add(ratings_from_cases(ctx, cat, batch, month.index))
        inbox.flush_month(month.index)
        ticket_bad = dict(zip(HOTLINE_BAD_BASES, hotline_plan[month.index].tolist(), strict=True))
        rows, info = generate_month_tickets(ctx, month, ticket_bad)
        hotline.write(rows)
        acc.add_tickets(rows, info)
        del batch, rows
    approval.close()
    hotline.close()
    county = write_county_figures(ctx, out_dir / COUNTY_INBOX)
    return acc.sections(inbox.stats, county, n_items=len(cat), instant_items=int(cat.instant.sum()))


class _Accumulator:
    """Running totals for the manifest, so no month's rows are kept."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        self.items = 0
        self.cases = self.cases_open = self.cases_open_overdue = self.retired = 0
        self.case_bad = {k: 0 for k in CASE_BAD_BASES}
        self.cases_by_status: dict[str, int] = {}
        self.tickets = self.tickets_business = self.tickets_retired = 0
        self.ticket_bad = {k: 0 for k in HOTLINE_BAD_BASES}
        self.cases_by_unit: dict[str, int] = {}

    def add_cases(self, batch: CaseBatch) -> None:
        """Count one month of cases."""
        rows = batch.rows
        self.cases += len(batch)
        self.retired += batch.retired_code_rows
        for k, v in batch.bad.items():
            self.case_bad[k] += v
        status, counts = np.unique(rows["BJZT"].astype(str), return_counts=True)
        for s, c in zip(status.tolist(), counts.tolist(), strict=True):
            self.cases_by_status[s] = self.cases_by_status.get(s, 0) + c
        open_ = np.isin(rows["BJZT"].astype(str), ["在办", "补正中"])
        self.cases_open += int(open_.sum())
        self.cases_open_overdue += int(batch.open_overdue.sum())
        units, counts = np.unique(batch.county, return_counts=True)
        for u, c in zip(units.tolist(), counts.tolist(), strict=True):
            self.cases_by_unit[self.codes[u]] = self.cases_by_unit.get(self.codes[u], 0) + c

    def add_tickets(self, rows: dict, info: dict) -> None:
        """Count one month of hotline tickets."""
        self.tickets += len(rows["gdbh"])
        self.tickets_business += info["business_env"]
        self.tickets_retired += info["retired_region_rows"]
        for k, v in info["bad"].items():
            self.ticket_bad[k] += v

    def sections(self, ratings: InboxStats, county: CountyStats, *, n_items: int, instant_items: int) -> dict:
        """The manifest's counts, bad_rows and messy sections."""
        return {
            "counts": {
                "items": n_items, "instant_items": instant_items, "cases": self.cases, "cases_open": self.cases_open,
                "cases_open_overdue": self.cases_open_overdue,
                "cases_by_status": dict(sorted(self.cases_by_status.items())), "cases_by_unit": self.cases_by_unit,
                "ratings": ratings.rows, "rating_files": len(ratings.files) + len(ratings.duplicate_files),
                "hotline_tickets": self.tickets, "hotline_business_env": self.tickets_business,
                "county_workbooks": len(county.files),
            },
            "bad_rows": {
                "approval_cases": dict(self.case_bad),
                "ratings": dict(ratings.bad),
                "hotline": dict(self.ticket_bad),
                "county_figures": {"negative_count": len(county.negative_rows),
                                   "malformed_workbook": len(county.malformed)},
            },
            "messy": {
                "approval_cases": {"retired_region_code": self.retired},
                "ratings": {
                    "duplicate_rows": ratings.duplicate_rows, "duplicate_files": ratings.duplicate_files,
                    "title_row_files": ratings.title_row_files, "blank_rows": ratings.blank_rows,
                    "slash_date_files": ratings.slash_date_files, "date_only_values": ratings.date_only_values,
                    "retired_region_code": ratings.retired_region_rows, "encodings": ratings.encodings,
                    "gb18030_files": ratings.gb18030_files, "utf8_bom_files": ratings.utf8_bom_files,
                },
                "hotline": {"retired_region_code": self.tickets_retired},
                "county_figures": {
                    "corrected": county.corrected, "malformed": county.malformed, "missing": county.missing,
                    "negative_rows": county.negative_rows, "fullwidth_cells": county.fullwidth_cells,
                    "separator_cells": county.separator_cells, "dash_cells": county.dash_cells,
                },
            },
        }


def _iso(epoch: int) -> str:
    return str(np.datetime64(epoch, "s")).replace("T", " ")
