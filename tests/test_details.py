"""Case-level reads (models/details.py) against rows made by hand, on SQLite and PostgreSQL, with county scope.

The month is October 2026: 1-7 October is the National Day holiday and Saturday 10 October a swapped working day,
so the working-day counts below are done by hand from that calendar (a start day does not count; 31 October is a
Saturday). "Today" is 2026-11-25, so November is the running month.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from sqlalchemy import insert, text

from models import details
from models.details import DetailScopeError
from models.dims import DimDepartment, DimServiceItem
from models.facts import FactApprovalCase, FactHotlineTicket, FactRating
from models.kpis import refresh_kpi_marts
from models.scope import Viewer

TODAY = dt.date(2026, 11, 25)
OCT = "2026-10"
CITY, YUCI, TAIGU = "140700", "140702", "140703"
LEADER = Viewer.city_wide()
YUCI_BUREAU = Viewer(role="county", region_code=YUCI)


def _ts(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.strptime(value, "%Y-%m-%d %H:%M")


def _prov(session) -> dict:  # noqa: ANN001
    session.execute(text("INSERT INTO etl_run (job, trigger, started_at, status, rows_read, rows_inserted, "
                         "rows_updated, rows_rejected) VALUES ('t', 'cli', '2026-11-25 00:00:00', 'success', 0, 0, "
                         "0, 0)"))
    run = session.execute(text("SELECT MAX(id) FROM etl_run")).scalar()
    return dict(etl_run_id=run, source="hand", source_line=1, row_hash="h")


ITEMS = [  # (code, name, dept, statutory, promised)
    ("I1", "建设工程规划许可", "D1", 20, 5), ("I2", "食品经营许可", "D2", 10, 8), ("I3", "即办咨询", "D1", None, None),
]


def _case(cid: str, region: str, item: str, dept: str, accepted: str, completed: str | None, wd: int | None,
          promised: int | None, statutory: int | None, due: str | None, *, channel: str = "window",
          status: str | None = None, online: bool = False, prov: dict) -> dict:
    return dict(case_id=cid, region_code=region, item_code=item, item_known=True, dept_code=dept, channel=channel,
                submitted_at=None, accepted_at=_ts(accepted), completed_at=_ts(completed),
                status=status or ("completed" if completed else "in_progress"), promised_days=promised,
                statutory_days=statutory, suspended_days=0, working_days=wd, visits=0, fully_online=online,
                accepted_period=accepted[:7], completed_period=completed[:7] if completed else None,
                due_date=dt.date.fromisoformat(due) if due else None, due_period=due[:7] if due else None,
                bundle_id=None, source_updated_at=None, **prov)


def _cases(prov: dict) -> list[dict]:
    return [
        # completed in October in 榆次
        _case("A", YUCI, "I1", "D1", "2026-10-12 09:00", "2026-10-15 10:00", 3, 5, 20, "2026-10-19",
              channel="online", online=True, prov=prov),
        _case("B", YUCI, "I1", "D1", "2026-10-12 09:00", "2026-10-21 10:00", 7, 5, 20, "2026-10-19", prov=prov),
        _case("C", YUCI, "I2", "D2", "2026-10-12 09:00", "2026-10-14 10:00", 2, 8, 10, "2026-10-22", prov=prov),
        _case("D", YUCI, "I3", "D1", "2026-10-12 09:00", "2026-10-12 10:00", 0, None, None, None, prov=prov),
        # completed in October in 太谷 (late)
        _case("E", TAIGU, "I2", "D2", "2026-10-09 09:00", "2026-10-22 10:00", 9, 8, 10, "2026-10-21", prov=prov),
        # open, due 20 Oct: 8 working days overdue at October's end (21-23, 26-30 Oct)
        _case("O1", YUCI, "I1", "D1", "2026-10-13 09:00", None, None, 5, 20, "2026-10-20", prov=prov),
        # open, due 4 Nov: not overdue at October's end; 15 working days overdue today (5 Nov - 25 Nov)
        _case("O2", YUCI, "I2", "D2", "2026-10-28 09:00", None, None, 5, 10, "2026-11-04", status="suspended",
              prov=prov),
        # completed in November, due 29 Oct: open past due at October's end by 1 working day (30 Oct)
        _case("O3", YUCI, "I2", "D2", "2026-10-20 09:00", "2026-11-03 10:00", 11, 7, 10, "2026-10-29", prov=prov),
        # another county's overdue case, and a refused case: never in 榆次's list
        _case("O4", TAIGU, "I1", "D1", "2026-10-08 09:00", None, None, 5, 20, "2026-10-15", prov=prov),
        _case("O5", YUCI, "I1", "D1", "2026-10-08 09:00", None, None, 1, 20, "2026-10-09", status="not_accepted",
              prov=prov),
    ]


def _rating(rid: str, region: str, when: str, level: int, prov: dict, **kw: object) -> dict:
    base = dict(case_id=None, channel="pc", comment=None, verified_bad=False, rectify_status=None, rectified_at=None,
                rectify_working_days=None)
    return {**base, "rating_id": rid, "region_code": region, "rated_at": _ts(when), "rated_period": when[:7],
            "level": level, **prov, **kw}


def _ratings(prov: dict) -> list[dict]:
    return [
        _rating("R1", YUCI, "2026-10-10 10:00", 5, prov), _rating("R2", YUCI, "2026-10-12 10:00", 4, prov),
        _rating("R3", YUCI, "2026-10-12 11:00", 3, prov),
        # deadline 26 Oct; 14 working days since at October's end: past the deadline
        _rating("B1", YUCI, "2026-10-12 15:00", 1, prov, verified_bad=True, rectify_status="not_rectified",
                comment="<b>窗口</b>态度差"),
        # deadline 11 Nov; 2 working days since (29, 30 Oct): not past it yet
        _rating("B2", YUCI, "2026-10-28 10:00", 2, prov, verified_bad=True, rectify_status="in_progress"),
        # rectified on 20 Oct after 3 working days: not listed; on time
        _rating("B3", YUCI, "2026-10-15 10:00", 2, prov, verified_bad=True, rectify_status="rectified",
                rectified_at=_ts("2026-10-20 10:00"), rectify_working_days=3),
        # rectified on 5 Nov (14 working days, late): unrectified at October's end, deadline 30 Oct passed
        _rating("B4", YUCI, "2026-10-16 10:00", 1, prov, verified_bad=True, rectify_status="rectified",
                rectified_at=_ts("2026-11-05 10:00"), rectify_working_days=14),
        _rating("B5", YUCI, "2026-10-16 11:00", 1, prov),  # a bad review not verified
        _rating("B6", YUCI, "2026-11-20 10:00", 1, prov, verified_bad=True, rectify_status="not_rectified"),
        _rating("B7", TAIGU, "2026-10-20 10:00", 1, prov, verified_bad=True, rectify_status="not_rectified"),
    ]


def _ticket(tid: str, region: str, received: str, due: str, prov: dict, **kw: object) -> dict:
    base = dict(category="城市管理", is_business_env=False, content=None, status="closed", closed_at=None,
                called_back_at=None, resolved=None, satisfaction=None, reopen_count=0, source_updated_at=None)
    return {**base, "ticket_id": tid, "region_code": region, "received_at": _ts(received),
            "received_period": received[:7], "due_at": _ts(due), **prov, **kw}


def _tickets(prov: dict) -> list[dict]:
    biz = dict(is_business_env=True, category="营商环境-审批服务")
    return [
        _ticket("T1", YUCI, "2026-10-10 09:00", "2026-10-15 18:00", prov, closed_at=_ts("2026-10-14 10:00"),
                is_business_env=True, category="营商环境-市场监管"),  # on time
        # closed 2 days 16 hours late: 2.7 days
        _ticket("T2", YUCI, "2026-10-12 09:00", "2026-10-17 18:00", prov, closed_at=_ts("2026-10-20 10:00"),
                content="=HYPERLINK(\"x\") <script>", **biz),
        # open, due 29 Oct 12:00: 2.5 days late at October's end
        _ticket("T3", YUCI, "2026-10-20 09:00", "2026-10-29 12:00", prov, status="in_progress", **biz),
        _ticket("T4", YUCI, "2026-10-21 09:00", "2026-12-01 18:00", prov, status="in_progress"),  # not due yet
        # closed in November, due 28 Oct 12:00: open past due at October's end, 3.5 days
        _ticket("T5", YUCI, "2026-10-22 09:00", "2026-10-28 12:00", prov, closed_at=_ts("2026-11-03 10:00")),
        _ticket("T6", TAIGU, "2026-10-22 09:00", "2026-10-23 12:00", prov, status="in_progress", **biz),
    ]


@pytest.fixture
def wh(warehouse, config):  # noqa: ANN001
    with warehouse.session() as s:
        prov = _prov(s)
        s.execute(insert(DimDepartment), [dict(dept_code="D1", name_zh="自然资源局", row_hash="h"),
                                          dict(dept_code="D2", name_zh="市场监督管理局", row_hash="h")])
        s.execute(insert(DimServiceItem), [
            dict(item_code=c, name_zh=n, dept_code=d, statutory_days=st, promised_days=pr, is_instant=pr is None,
                 source_updated_at=None, row_hash="h", etl_run_id=prov["etl_run_id"], source="hand", source_line=1)
            for c, n, d, st, pr in ITEMS])
        s.execute(insert(FactApprovalCase), _cases(prov))
        s.execute(insert(FactRating), _ratings(prov))
        s.execute(insert(FactHotlineTicket), _tickets(prov))
    with warehouse.engine.begin() as conn:
        # The approvals page's reads sum the approval marts: refreshed as a load would, for the months cases
        # were completed in (O3 in November).
        refresh_kpi_marts(conn=conn, config=config, pairs=[(YUCI, OCT), (TAIGU, OCT), (YUCI, "2026-11")],
                          tables=["fact_rating", "fact_approval_case"], today=TODAY, rank=False)
    return warehouse


def _read(wh, fn, viewer=LEADER, region=YUCI, period=OCT, **kw):  # noqa: ANN001, ANN202
    from models.config import load_config

    with wh.session() as s:
        return fn(session=s, viewer=viewer, config=load_config(), region_code=region, period=period, **kw)


# ---- approvals --------------------------------------------------------------------------------------------------


def test_slowest_items_rank_by_time_and_by_compression(wh):
    frame = _read(wh, details.slowest_items)
    assert list(frame["item_code"]) == ["I1", "I2", "I3"]
    i1 = frame.iloc[0]
    assert (i1["cases"], i1["mean_working_days"], i1["max_working_days"], i1["late_cases"]) == (2, 5.0, 7, 1)
    assert i1["item_name"] == "建设工程规划许可" and i1["dept_name"] == "自然资源局"
    assert i1["compression"] == pytest.approx(1 - 10 / 40)
    assert math.isnan(frame.iloc[2]["compression"])
    by_comp = _read(wh, details.slowest_items, order_by="compression")
    assert list(by_comp["item_code"]) == ["I2", "I1", "I3"]
    assert list(by_comp["rank_by_compression"]) == [1, 2, 3]
    assert by_comp.iloc[0]["compression"] == pytest.approx(0.2)
    # the whole city: 食品经营许可 now averages (2 + 9) / 2 = 5.5 days and comes first; limit cuts the list
    city = _read(wh, details.slowest_items, region=CITY, limit=2)
    assert list(city["item_code"]) == ["I2", "I1"] and city.iloc[0]["mean_working_days"] == pytest.approx(5.5)
    assert list(_read(wh, details.slowest_items, channel="online")["item_code"]) == ["I1"]


def test_overdue_open_cases_at_month_end_and_today(wh):
    frame = _read(wh, details.overdue_open_cases, today=TODAY)
    assert list(frame["case_id"]) == ["O1", "O3"]  # oldest due first; O2 not yet due, O5 refused, O4 in 太谷
    assert list(frame["days_overdue"]) == [8, 1]
    assert frame.iloc[0]["item_name"] == "建设工程规划许可" and frame.iloc[0]["dept_name"] == "自然资源局"
    assert frame.iloc[0]["due_date"] == dt.date(2026, 10, 20)
    # November is running: judged today, O2 is 15 working days overdue and O3 was completed
    nov = _read(wh, details.overdue_open_cases, period="2026-11", today=TODAY)
    assert list(nov["case_id"]) == ["O1", "O2"] and list(nov["days_overdue"]) == [8 + 18, 15]
    city = _read(wh, details.overdue_open_cases, region=CITY, today=TODAY)
    assert list(city["case_id"]) == ["O4", "O1", "O3"]
    assert list(_read(wh, details.overdue_open_cases, region=CITY, today=TODAY, limit=1)["case_id"]) == ["O4"]


def test_working_days_distribution_with_filters(wh):
    frame = _read(wh, details.working_days_distribution)
    assert frame.to_dict("records") == [
        dict(working_days=0, cases=1, within_limit=0, beyond_limit=0, no_limit=1),
        dict(working_days=2, cases=1, within_limit=1, beyond_limit=0, no_limit=0),
        dict(working_days=3, cases=1, within_limit=1, beyond_limit=0, no_limit=0),
        dict(working_days=7, cases=1, within_limit=0, beyond_limit=1, no_limit=0),
    ]
    city = _read(wh, details.working_days_distribution, region=CITY, start_period="2026-09", limit=8)
    assert list(city["working_days"]) == [0, 2, 3, 7, 8]  # 9 days (太谷) folded into the last bar at 8
    assert city["cases"].sum() == 5 and city.iloc[-1]["beyond_limit"] == 1
    assert list(_read(wh, details.working_days_distribution, channel="online")["working_days"]) == [3]
    assert list(_read(wh, details.working_days_distribution, dept_code="D1")["working_days"]) == [0, 3, 7]
    nov = _read(wh, details.working_days_distribution, period="2026-11")
    assert list(nov["working_days"]) == [11]


def test_filter_options(wh):
    depts = _read(wh, details.department_options)
    assert list(depts["dept_code"]) == ["D1", "D2"]
    assert list(_read(wh, details.item_options, dept_code="D2")["item_code"]) == ["I2"]
    assert _read(wh, details.channel_options) == ["window", "online"]


# ---- ratings ----------------------------------------------------------------------------------------------------


def test_unrectified_bad_reviews(wh):
    frame = _read(wh, details.unrectified_bad_reviews, today=TODAY)
    assert list(frame["rating_id"]) == ["B1", "B4", "B2"]
    assert list(frame["deadline"]) == [dt.date(2026, 10, 26), dt.date(2026, 10, 30), dt.date(2026, 11, 11)]
    assert list(frame["working_days_since"]) == [14, 10, 2]
    assert list(frame["past_deadline"]) == [True, True, False]
    assert frame.iloc[0]["comment"] == "<b>窗口</b>态度差"  # kept as text; the page shows it as text
    # in November (running, judged today): B4 was rectified, B6 is new; B2's deadline (11 Nov) has passed
    nov = _read(wh, details.unrectified_bad_reviews, period="2026-11", today=TODAY)
    assert list(nov["rating_id"]) == ["B1", "B2", "B6"] and list(nov["past_deadline"]) == [True, True, False]
    assert list(_read(wh, details.unrectified_bad_reviews, region=CITY, today=TODAY)["rating_id"]) == \
        ["B1", "B4", "B7", "B2"]


def test_rating_levels_by_month(wh):
    frame = _read(wh, details.rating_levels_by_month, start_period="2026-09")
    assert len(frame) == 10 and frame[frame["period"] == "2026-09"]["ratings"].sum() == 0
    octo = frame[frame["period"] == OCT].set_index("level")["ratings"].to_dict()
    assert octo == {5: 1, 4: 1, 3: 1, 2: 2, 1: 3}


def test_rectification_summary_agrees_with_the_kpi_marts(wh):
    frame = _read(wh, details.rectification_summary).set_index("period")
    row = frame.loc[OCT]
    # verified bad: B1-B4; rectified: B3, B4; due by today: all four; on time: B3 (3 ≤ 10 working days)
    assert (row["verified_bad"], row["rectified"], row["due"], row["rectified_on_time"]) == (4, 2, 4, 1)
    assert row["rectification_rate"] == pytest.approx(0.5) and row["on_time_rate"] == pytest.approx(0.25)
    city = _read(wh, details.rectification_summary, region=CITY, start_period="2026-09").set_index("period")
    assert city.loc[OCT, "verified_bad"] == 5 and pd.isna(city.loc["2026-09", "rectification_rate"])
    own = _read(wh, details.rectification_summary, viewer=YUCI_BUREAU, region=CITY).set_index("period")
    assert own.loc[OCT, "verified_bad"] == 4


# ---- hotline ----------------------------------------------------------------------------------------------------


def test_overdue_tickets(wh):
    frame = _read(wh, details.overdue_tickets, today=TODAY)
    assert list(frame["ticket_id"]) == ["T5", "T2", "T3"]
    assert list(frame["days_late"]) == [3.5, 2.7, 2.5]
    assert list(frame["status"]) == ["open_at_month_end", "closed", "in_progress"]
    assert list(_read(wh, details.overdue_tickets, today=TODAY, business_only=True)["ticket_id"]) == ["T2", "T3"]
    assert set(_read(wh, details.overdue_tickets, region=CITY, today=TODAY)["ticket_id"]) == {"T2", "T3", "T5", "T6"}


def test_ticket_categories(wh):
    frame = _read(wh, details.ticket_categories, today=TODAY)
    assert frame.to_dict("records") == [
        dict(category="营商环境-审批服务", tickets=2, share=pytest.approx(2 / 3), late=2),
        dict(category="营商环境-市场监管", tickets=1, share=pytest.approx(1 / 3), late=0),
    ]


# ---- scope ------------------------------------------------------------------------------------------------------

READS = [details.slowest_items, details.overdue_open_cases, details.working_days_distribution,
         details.channel_options, details.unrectified_bad_reviews, details.rating_levels_by_month,
         details.rectification_summary, details.overdue_tickets, details.ticket_categories,
         details.department_options, details.item_options]


@pytest.mark.parametrize("fn", READS, ids=lambda f: f.__name__)
def test_a_county_bureau_is_refused_another_countys_detail(wh, fn):  # noqa: ANN001
    with pytest.raises(DetailScopeError) as refused:
        _read(wh, fn, viewer=YUCI_BUREAU, region=TAIGU)
    assert isinstance(refused.value, PermissionError)


def test_a_county_bureau_asking_for_the_city_gets_its_own_rows(wh):
    cases = _read(wh, details.overdue_open_cases, viewer=YUCI_BUREAU, region=CITY, today=TODAY)
    assert list(cases["case_id"]) == ["O1", "O3"]
    reviews = _read(wh, details.unrectified_bad_reviews, viewer=YUCI_BUREAU, region=None, today=TODAY)
    assert set(reviews["region_code"]) == {YUCI}
    tickets = _read(wh, details.overdue_tickets, viewer=YUCI_BUREAU, region=CITY, today=TODAY)
    assert "T6" not in set(tickets["ticket_id"])
    dist = _read(wh, details.working_days_distribution, viewer=YUCI_BUREAU, region=CITY)
    assert dist["cases"].sum() == 4


def test_bad_inputs_are_refused(wh):
    with pytest.raises(ValueError):
        _read(wh, details.slowest_items, period="2026-13")
    with pytest.raises(ValueError):
        _read(wh, details.slowest_items, region="999999")
