"""Due dates, bundles and rectification days: derived by the datasets, consistent with working days.

Holidays in the fixtures (chinese-calendar): 2026 Spring Festival 15-23 Feb off with Saturdays 14 and 28 Feb
worked; Mid-Autumn 25 Sep plus the weekend 26-27 Sep off; National Day 1-7 Oct off with Saturday 10 Oct worked.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from etl.datasets import approvals, ratings
from etl.datasets.base import Context
from etl.demo.approval_api import serve_in_thread
from etl.jobs import run_job
from models.calendar import get_calendar
from models.config import Config
from models.db import Warehouse
from models.regions import alias_map


def _ctx(config: Config) -> Context:
    return Context(config=config, aliases=alias_map(config), calendar=get_calendar(config.calendar.as_mapping()),
                   run_id=1)


def _records(rows: list[dict]) -> pd.DataFrame:
    base = {"SXBM": "I2", "XZQHDM": "140702", "BJZT": "已办结", "GXSJ": "2026-11-01 10:00:00", "FDSX": 20}
    return pd.DataFrame([{**base, **r} for r in rows])


# (case, accepted, completed, promised, suspended) -> due date worked out by hand
HAND = [
    # 14 Feb (Sat, worked) is day 1, 24-27 Feb days 2-5; 28 Feb (Sat, worked) would be day 6.
    ("S1", "2026-02-13 09:00:00", "2026-02-27 16:00:00", 5, 0, "2026-02-27"),
    # day 1 = 14 Feb; 15-23 Feb off: finishing during the holiday uses no working day, so the limit runs to 23 Feb.
    ("S2", "2026-02-13 09:00:00", "2026-02-24 09:00:00", 1, 0, "2026-02-23"),
    # 29-30 Sep are days 1-2; 1-7 Oct off, so completing by 7 Oct is on time and 8 Oct is late.
    ("N1", "2026-09-28 09:00:00", "2026-10-08 10:00:00", 2, 0, "2026-10-07"),
    # 2 promised + 3 suspended: 22-24 Sep, 28-29 Sep are days 1-5 (25-27 Sep off); 30 Sep would be day 6.
    ("N2", "2026-09-21 09:00:00", "2026-09-29 10:00:00", 2, 3, "2026-09-29"),
    # an instant item (promised 0) accepted on Friday 9 Oct: Saturday 10 Oct is worked, so the day itself only.
    ("N3", "2026-10-09 09:00:00", "2026-10-09 09:30:00", 0, 0, "2026-10-09"),
    # accepted on the eve of National Day, promised 0: done by 7 Oct is still no working day used.
    ("N4", "2026-09-30 15:00:00", "2026-10-03 10:00:00", 0, 0, "2026-10-07"),
]


def test_due_dates_by_hand_over_spring_festival_and_national_day(config: Config) -> None:
    raw = _records([{"SBLSH": c, "SLSJ": a, "SBSJ": a, "BJSJ": b, "CNSX": p, "ZTTS": s} for c, a, b, p, s, _ in HAND])
    rows = approvals.prepare(raw, source="test", ctx=_ctx(config)).rows.set_index("case_id")
    assert rows["due_date"].to_dict() == {c: due for c, *_, due in HAND}
    assert rows["due_period"].to_dict() == {c: due[:7] for c, *_, due in HAND}
    on_time = rows["working_days"] <= rows["promised_days"]
    assert on_time.to_dict() == {"S1": True, "S2": False, "N1": False, "N2": True, "N3": True, "N4": True}


def test_due_date_agrees_with_working_days_for_every_completion_day(config: Config) -> None:
    """On time by working days exactly when completed on or before the due date, across both holidays."""
    accepted = [*pd.date_range("2026-02-05", "2026-03-03"), *pd.date_range("2026-09-18", "2026-10-12")]
    rows, n = [], 0
    for acc in accepted:
        for offset in range(0, 24, 1):
            for promised, suspended in [(0, 0), (1, 0), (2, 1), (5, 0), (3, 4)]:
                n += 1
                done = acc + pd.Timedelta(days=offset, hours=10)
                rows.append({"SBLSH": f"K{n}", "SLSJ": f"{acc:%Y-%m-%d} 09:00:00", "BJSJ": f"{done:%Y-%m-%d %H:%M:%S}",
                             "CNSX": promised, "ZTTS": suspended})
    out = approvals.prepare(_records(rows), source="test", ctx=_ctx(config)).rows
    assert len(out) == len(rows)
    completed_day = out["completed_at"].str[:10]
    on_time = (out["working_days"] <= out["promised_days"]).to_numpy(dtype=bool)
    within_due = (completed_day <= out["due_date"]).to_numpy(dtype=bool)
    assert (on_time == within_due).all()
    assert on_time.any() and (~on_time).any()
    assert (out["due_period"] == out["due_date"].str[:7]).all()


def test_no_promised_limit_means_no_due_date_and_bundles_are_optional(config: Config) -> None:
    raw = _records([
        {"SBLSH": "U1", "SXBM": "NOT-IN-CATALOGUE", "SLSJ": "2026-03-02 09:00:00", "BJSJ": None, "BJZT": "在办",
         "CNSX": None, "bundleId": "KB140702202603020001"},
        {"SBLSH": "U2", "SXBM": "NOT-IN-CATALOGUE", "SLSJ": "2026-03-02 09:00:00", "BJSJ": None, "BJZT": "在办",
         "CNSX": "—", "bundleId": " "},
    ])
    rows = approvals.prepare(raw, source="test", ctx=_ctx(config)).rows.set_index("case_id")
    assert rows["due_date"].isna().all() and rows["due_period"].isna().all()
    assert rows.loc["U1", "bundle_id"] == "KB140702202603020001"
    assert pd.isna(rows.loc["U2", "bundle_id"])
    no_field = approvals.prepare(_records([{"SBLSH": "U3", "SLSJ": "2026-03-02 09:00:00", "BJSJ": None,
                                            "BJZT": "在办", "CNSX": 3}]), source="test", ctx=_ctx(config)).rows
    assert no_field["bundle_id"].isna().all() and no_field["due_date"].tolist() == ["2026-03-05"]


def test_rectify_working_days_are_counted_like_processing_time(config: Config) -> None:
    raw = pd.DataFrame([
        {"评价编号": "R1", "行政区划": "140702", "评价时间": "2026-02-13 10:00:00", "评价等级": "不满意",
         "整改状态": "已整改", "整改完成时间": "2026-02-25 16:00:00"},  # 14 Feb, 24 Feb, 25 Feb
        {"评价编号": "R2", "行政区划": "140702", "评价时间": "2026-02-13 10:00:00", "评价等级": "不满意",
         "整改状态": "已整改", "整改完成时间": "2026-02-13"},  # same day, date only
        {"评价编号": "R3", "行政区划": "140702", "评价时间": "2026-02-13 10:00:00", "评价等级": "满意",
         "整改状态": None, "整改完成时间": None},
    ])
    rows = ratings.prepare(raw, source="test", ctx=_ctx(config)).rows.set_index("rating_id")
    days = rows["rectify_working_days"]
    assert (days["R1"], days["R2"]) == (3, 0) and pd.isna(days["R3"])


# -- end to end: the new columns reach the warehouse, and their changes are re-delivered ----------------------

COLS = ["SBLSH", "SXBM", "XZQHDM", "SLSJ", "BJSJ", "BJZT", "ZTTS", "CNSX", "FDSX", "YJSBH", "GXSJ"]


def _platform(path: Path, cases: list[tuple]) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS items (SXBM, SXMC, SSBMBM, SSBMMC, FDSX, CNSX, SFJBJ, GXSJ)")
        db.execute(f"CREATE TABLE IF NOT EXISTS cases ({', '.join(COLS)})")
        db.execute("DELETE FROM cases")
        db.executemany(f"INSERT INTO cases VALUES ({', '.join('?' * len(COLS))})", cases)


def _rows(wh: Warehouse) -> dict[str, tuple]:
    with wh.engine.connect() as conn:
        found = conn.execute(text("SELECT case_id, due_date, due_period, bundle_id FROM fact_approval_case"))
        return {r[0]: (str(r[1]) if r[1] is not None else None, r[2], r[3]) for r in found}


def test_new_columns_load_and_a_changed_bundle_is_redelivered(warehouse: Warehouse, config: Config,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "platform.db"
    first = [("B1", "I1", "140702", "2026-09-28 09:00:00", "2026-09-29 10:00:00", "已办结", 0, 2, 20, "KB1",
              "2026-10-09 10:00:00"),
             ("B2", "I1", "140702", "2026-09-28 09:00:00", None, "在办", 0, None, 20, None, "2026-10-09 10:00:01")]
    _platform(path, first)
    server, url = serve_in_thread(db_path=path)
    try:
        src = config.sources["approval_api"].model_copy(update={"base_url": url, "max_retries": 1})
        cfg = config.model_copy(update={"sources": {**config.sources, "approval_api": src}})
        run = run_job(warehouse=warehouse, config=cfg, name="approvals")
        assert (run.status, run.rows_inserted) == ("success", 2), run.error
        assert _rows(warehouse) == {"B1": ("2026-10-07", "2026-10", "KB1"), "B2": (None, None, None)}
        again = run_job(warehouse=warehouse, config=cfg, name="approvals")
        assert (again.rows_inserted, again.rows_updated) == (0, 0)
        changed = [first[0][:9] + ("KB2", "2026-10-10 10:00:00"), first[1][:7] + (3,) + first[1][8:10]
                   + ("2026-10-10 10:00:00",)]
        _platform(path, changed)
        third = run_job(warehouse=warehouse, config=cfg, name="approvals")
        assert (third.status, third.rows_inserted, third.rows_updated) == ("success", 0, 2), third.error
        assert _rows(warehouse) == {"B1": ("2026-10-07", "2026-10", "KB2"), "B2": ("2026-10-08", "2026-10", None)}
    finally:
        server.shutdown()


def test_due_dates_are_vectorised_over_missing_values(config: Config) -> None:
    cal = _ctx(config).calendar
    accepted = pd.Series(pd.to_datetime(["2026-02-13", None, "2026-09-28"]))
    due = approvals.due_dates(cal, accepted, pd.Series([5, 3, None], dtype="Int64"),
                              pd.Series([0, 0, 0], dtype="Int64"))
    assert due.iloc[0] == pd.Timestamp(dt.date(2026, 2, 27)) and due.iloc[1:].isna().all()
    assert due.dtype == np.dtype("datetime64[s]")
