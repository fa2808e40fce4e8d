"""Approval cases (办件) as the provincial platform exports them, generated one month at a time."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from etl.demo.catalogue import BUNDLE_FOLLOWERS, BUNDLE_LEAD, Catalogue, item_rows
from etl.demo.common import (
    DAY,
    HOUR,
    TAG_BUNDLES,
    TAG_CASES,
    Context,
    Month,
    add_working_days,
    day_of,
    day_seconds,
    fmt_opt,
    fmt_ts,
    group_sequence,
    growth,
    improvement,
    office_time,
    pick_disjoint,
    serial,
    weekday_weight,
    working_days_between,
)

ANNUAL_CASES = 1_200_000
CHANNELS = np.array(["窗口办理", "网上办理", "移动端", "自助终端"])
WINDOW, WEB, MOBILE, KIOSK = range(4)
STATUSES = np.array(["已办结", "在办", "补正中", "不予受理", "撤件"])
DONE, OPEN, SUSPENDED, REJECTED, WITHDRAWN = range(5)
CASE_COLUMNS = ["SBLSH", "SXBM", "SXMC", "XZQHDM", "SLBMBM", "SLBMMC", "SBQD", "SBSJ", "SLSJ", "BJSJ", "BJZT",
                "ZTTS", "CNSX", "FDSX", "PDCS", "SFQCWB", "YJSBH", "GXSJ"]
ITEM_COLUMNS = ["SXBM", "SXMC", "SSBMBM", "SSBMMC", "FDSX", "CNSX", "SFJBJ", "GXSJ"]
CASE_BAD_BASES = {"bjsj_before_slsj": 40, "unknown_region": 30, "malformed_slsj": 30, "negative_pdcs": 25,
                  "empty_sblsh": 15}
UNKNOWN_REGIONS = np.array(["140799", "140798", "999999"])
MALFORMED_TIMES = np.array(["2026-13-45 25:61:00", "", "2025-02-30 10:00:00", "24/03/2025 09:00",
                            "0000-00-00 00:00:00"])
# (first, span) of suspended working days for 补正, 公示, 听证, 专家评审.
_SUSPENSION_LO = np.array([2, 5, 10, 10])
_SUSPENSION_SPAN = np.array([14, 6, 16, 21])
# The 企业开办 bundle's own limits, which its follower cases carry (the licence keeps its item's limits).
BUNDLE_PROMISED, BUNDLE_STATUTORY = 3, 5
# Chance that each follower (seal, invoice, social security) needs a working day after the licence.
_FOLLOWER_STEP = np.array([0.45, 0.55, 0.75])


@dataclass
class CaseBatch:
    """One month of cases: the table rows plus what the ratings generator needs to know about them."""

    rows: dict[str, np.ndarray]
    county: np.ndarray
    item: np.ndarray
    channel: np.ndarray
    accepted: np.ndarray  # epoch seconds
    completed: np.ndarray  # epoch seconds, meaningful where status == DONE
    status: np.ndarray
    late: np.ndarray  # beyond the promised limit
    open_overdue: np.ndarray  # still open at `now` and already past the promised limit
    case_id: np.ndarray  # SBLSH before any corruption
    usable: np.ndarray  # not one of the deliberately bad rows
    bad: dict[str, int]
    retired_code_rows: int

    def __len__(self) -> int:
        return len(self.county)


def month_counts(ctx: Context, rng: np.random.Generator, month: Month, annual: float) -> np.ndarray:
    """Cases per county this month: population share x growth x working days, at least one each."""
    working = int(ctx.calendar.is_working_day_many(month.days).sum())
    lam = annual / 12.0 * ctx.scale * ctx.shares * growth(month) * max(working, 1) / 20.8
    return np.maximum(rng.poisson(lam), 1)


def _channels(ctx: Context, rng: np.random.Generator, cat: Catalogue, item: np.ndarray, county: np.ndarray,
              r_mid: np.ndarray) -> np.ndarray:
    """Channel per case: online share grows with the bureau and differs by county."""
    n = len(item)
    p_online = np.where(cat.online_capable[item], np.clip(0.30 + ctx.online[county] + 0.35 * r_mid, 0.02, 0.95),
                        0.03)
    online = rng.random(n) < p_online
    mobile = rng.random(n) < 0.25 + 0.25 * r_mid
    return np.where(online, np.where(mobile, MOBILE, WEB), np.where(rng.random(n) < 0.07, KIOSK, WINDOW))


def _submission(ctx: Context, rng: np.random.Generator, month: Month, online: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Submission time: offices only on working days in office hours; online any day, mostly daytime."""
    days = month.days
    working = ctx.calendar.is_working_day_many(days)
    w_off = weekday_weight(days, working, 0.0)
    w_on = weekday_weight(days, working, 0.25)
    n = len(online)
    idx = np.empty(n, dtype=np.int64)
    idx[~online] = rng.choice(len(days), int((~online).sum()), p=w_off / w_off.sum())
    idx[online] = rng.choice(len(days), int(online.sum()), p=w_on / w_on.sum())
    tod = np.where(online,
                   np.where(rng.random(n) < 0.85, rng.integers(8 * HOUR, 22 * HOUR, n), rng.integers(0, DAY, n)),
                   office_time(rng, n))
    return day_seconds(days[idx]) + tod, working[idx]


def _acceptance(ctx: Context, rng: np.random.Generator, sb: np.ndarray, sb_working: np.ndarray,
                online: np.ndarray, auto: np.ndarray) -> np.ndarray:
    """Acceptance: windows at once, auto-approved online items in minutes, other online the same or next day."""
    n = len(sb)
    tod = sb % DAY
    same_day = online & ~auto & sb_working & (tod < 16 * HOUR) & (rng.random(n) < 0.7)
    opening = (sb // DAY) * DAY + 8 * HOUR + 30 * 60
    online_sl = np.maximum(sb, opening) + rng.integers(600, 5400, n)
    sl = np.where(auto, sb + rng.integers(1, 600, n), np.where(online, online_sl, sb + rng.integers(120, 1800, n)))
    later = online & ~auto & ~same_day
    next_day = add_working_days(ctx, day_of(sb[later]), np.ones(int(later.sum()), dtype=np.int64))
    sl[later] = day_seconds(next_day) + 8 * HOUR + 1800 + rng.integers(0, 3 * HOUR, int(later.sum()))
    return sl


def _processing_days(ctx: Context, rng: np.random.Generator, cat: Catalogue, item: np.ndarray,
                     county: np.ndarray, promised: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Working days from acceptance to completion (suspension excluded), and whether the case ran late."""
    n = len(item)
    instant = cat.instant[item]
    statutory = cat.statutory[item]
    median = np.maximum(promised * 0.65 * ctx.speed[county] * (1.0 - 0.35 * r), 0.3)
    days = np.rint(np.exp(np.log(median) + 0.6 * rng.standard_normal(n))).astype(np.int64)
    low = np.ceil(promised * 0.5).astype(np.int64)
    days = np.where(days > promised, low + (rng.random(n) * (promised - low + 1)).astype(np.int64), days)
    late = rng.random(n) < np.where(instant, 0.05 - 0.035 * r, 0.045 * ctx.overdue[county] * (1.0 - 0.7 * r))
    over = np.minimum(promised + rng.geometric(0.4, n), np.maximum(statutory, promised + 1))
    days = np.where(late, np.where(instant, 1 + ((statutory > 1) & (rng.random(n) < 0.25)), over), days)
    beyond = ~instant & (rng.random(n) < 0.0015 * ctx.overdue[county] * (1.0 - 0.6 * r))
    days = np.where(beyond, statutory + rng.geometric(0.2, n), days)
    stalled = ~instant & (rng.random(n) < 0.002 * (1.0 - 0.5 * r))
    stall_days = np.round(np.exp(np.log(40.0) + 0.8 * rng.standard_normal(n))).astype(np.int64)
    days = np.where(stalled, statutory + stall_days, days)
    return days, days > promised


def _suspension(rng: np.random.Generator, instant: np.ndarray) -> np.ndarray:
    """Suspended working days (补正, 公示, 听证, 专家评审) for ~8% of non-instant cases.

    Some applicants take months to bring the missing documents (补正), which keeps cases open without making
    them late, since suspended days do not count.
    """
    n = len(instant)
    kind = rng.choice(4, n, p=[0.55, 0.2, 0.05, 0.2])
    days = _SUSPENSION_LO[kind] + (rng.random(n) * _SUSPENSION_SPAN[kind]).astype(np.int64)
    slow = (kind == 0) & (rng.random(n) < 0.5)
    slow_days = np.minimum(np.exp(np.log(50.0) + 1.0 * rng.standard_normal(n)), 400).astype(np.int64)
    days = np.where(slow, np.maximum(days, slow_days), days)
    return np.where(~instant & (rng.random(n) < 0.08), days, 0)


def _retired_share(days: np.ndarray) -> np.ndarray:
    """Share of 太谷 cases still filed under 140726: common in 2023, rare by 2026."""
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    return np.select([year <= 2023, year == 2024, year == 2025], [0.45, 0.18, 0.06], 0.02)


def _case_ids(county: np.ndarray, region: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """SBLSH = region code as filed + submission date + running number per county and day."""
    sb_day = day_of(sb)
    seq = group_sequence(county.astype(np.int64) * 40_000 + sb_day.astype(np.int64), sb)
    return serial(region.astype("U6"), sb_day, seq)


def generate_month_cases(ctx: Context, cat: Catalogue, month: Month, bad: dict[str, int]) -> CaseBatch:
    """One month of cases by submission date, their whole lifecycle clipped at `now`, with some bad rows."""
    rng = ctx.rng(TAG_CASES, month.index)
    c = _intake(ctx, rng, cat, month)
    c.update(_outcome(ctx, rng, cat, c))
    c = _with_bundles(ctx, cat, month, c)
    n = len(c["county"])
    r = c["r"]
    fully_online = c["online"] & cat.online_capable[c["item"]] & (rng.random(n) < 0.72 + 0.2 * r)
    extra = (rng.random(n) < 0.12 * (1.0 - 0.6 * r)).astype(np.int64) + (rng.random(n) < 0.02)
    pdcs = np.where(fully_online, 0, np.where(c["online"], 1, 1 + extra))
    gx = _updated_at(ctx, rng, c["sl"], c["bj"], c["open"])
    region = ctx.codes[c["county"]].astype("U6")
    retired_code = np.array([x or "" for x in ctx.retired_for], dtype="U6")[c["county"]]
    use_old = (retired_code != "") & (rng.random(n) < _retired_share(day_of(c["sl"])))
    region = np.where(use_old, retired_code, region)
    case_id = _case_ids(c["county"], region, c["sb"])
    item = c["item"]
    rows = {
        "SBLSH": case_id, "SXBM": cat.code[item], "SXMC": cat.name[item], "XZQHDM": region,
        "SLBMBM": cat.dept_code[item], "SLBMMC": cat.dept_name[item], "SBQD": CHANNELS[c["channel"]],
        "SBSJ": fmt_ts(c["sb"]), "SLSJ": fmt_ts(c["sl"]), "BJSJ": fmt_opt(c["bj"], ~c["open"]),
        "BJZT": STATUSES[c["status"]], "ZTTS": c["ztts"], "CNSX": c["promised"], "FDSX": c["statutory"],
        "PDCS": pdcs, "SFQCWB": np.where(fully_online, "1", "0"), "YJSBH": c["bundle"], "GXSJ": fmt_ts(gx),
    }
    order = np.lexsort((case_id, c["sl"]))
    order = order[c["sl"][order] <= ctx.now]
    rows = {k: (v.astype(object) if v.dtype.kind in "UO" else v)[order] for k, v in rows.items()}
    batch = CaseBatch(rows=rows, county=c["county"][order], item=item[order], channel=c["channel"][order],
                      accepted=c["sl"][order], completed=c["bj"][order], status=c["status"][order],
                      late=c["late"][order], open_overdue=c["open_overdue"][order], case_id=case_id[order],
                      usable=np.ones(len(order), dtype=bool), bad={}, retired_code_rows=int(use_old[order].sum()))
    corrupt_cases(rng, batch, bad)
    return batch


def _intake(ctx: Context, rng: np.random.Generator, cat: Catalogue, month: Month) -> dict[str, np.ndarray]:
    """Who applies for what, through which channel, and when the application is submitted and accepted."""
    county = np.repeat(np.arange(len(ctx.units)), month_counts(ctx, rng, month, ANNUAL_CASES))
    n = len(county)
    r_mid = improvement(ctx, np.full(n, month.start + 14), county)
    item = rng.choice(len(cat), n, p=cat.popularity)
    channel = _channels(ctx, rng, cat, item, county, r_mid)
    online = (channel == WEB) | (channel == MOBILE)
    sb, sb_working = _submission(ctx, rng, month, online)
    auto = online & cat.instant[item] & (rng.random(n) < 0.55 + 0.35 * r_mid)
    sl = _acceptance(ctx, rng, sb, sb_working, online, auto)
    return {"county": county, "item": item, "channel": channel, "online": online, "auto": auto, "sb": sb,
            "sl": sl, "r": improvement(ctx, day_of(sl), county)}


def _outcome(ctx: Context, rng: np.random.Generator, cat: Catalogue, c: dict[str, np.ndarray]
             ) -> dict[str, np.ndarray]:
    """How each case ends (or not yet, at `now`): processing days, suspension, status and completion time."""
    item, sl, r = c["item"], c["sl"], c["r"]
    n = len(item)
    instant = cat.instant[item]
    sl_day = day_of(sl)
    promised = cat.promised_at(item, sl_day)
    days, late = _processing_days(ctx, rng, cat, item, c["county"], promised, r)
    susp = _suspension(rng, instant)
    status = np.full(n, DONE)
    rejected = rng.random(n) < 0.006
    withdrawn = ~rejected & (rng.random(n) < 0.005)
    status[rejected], status[withdrawn] = REJECTED, WITHDRAWN
    ends_early = rejected | withdrawn
    days = np.where(ends_early, np.minimum(days, rng.integers(0, 4, n)), days)
    susp = np.where(ends_early, 0, susp)
    abandoned = ~instant & ~ends_early & (rng.random(n) < 0.0025 - 0.0017 * r)  # never closed (僵尸件)
    late = (late & ~ends_early) | abandoned
    bj = _completion(ctx, rng, sl, days + susp, c["auto"])
    open_ = abandoned | (bj > ctx.now)
    elapsed = working_days_between(ctx, sl_day, np.full(n, ctx.now_day))
    ztts = np.where(open_, np.minimum(susp, elapsed), susp)
    status = np.where(open_, np.where((ztts > 0) & (rng.random(n) < 0.6), SUSPENDED, OPEN), status)
    open_overdue = open_ & (elapsed - ztts > promised)
    return {"promised": promised, "late": late, "bj": bj, "open": open_, "ztts": ztts, "status": status,
            "open_overdue": open_overdue}


def _with_bundles(ctx: Context, cat: Catalogue, month: Month, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """企业开办 bundles: for a share of new business licences, the seal, invoice and social-security cases.

    The followers are filed in the licence's county through the same channel and accepted the same day, and all
    four share one bundle id. They finish on the licence's day or a working day or two after it, so a bundle
    typically takes 1-3 working days; slow counties take longer now and then. Random draws come from their own
    stream, so the other cases do not depend on them.
    """
    rng = ctx.rng(TAG_BUNDLES, month.index)
    n = len(c["county"])
    c = {**c, "statutory": cat.statutory[c["item"]], "bundle": np.full(n, None, dtype=object)}
    lead_ok = (c["item"] == cat.index_of(BUNDLE_LEAD)) & (c["ztts"] == 0) & (
        (c["status"] == DONE) | (c["open"] & (c["bj"] > ctx.now)))
    leads = np.flatnonzero(lead_ok & (rng.random(n) < 0.35 + 0.4 * c["r"]))
    m = len(leads)
    if not m:
        return c
    county, sl, sb = c["county"][leads], c["sl"][leads], c["sb"][leads]
    sl_day, sb_day = day_of(sl), day_of(sb)
    lead_bj = np.minimum(c["bj"][leads], ctx.now + 400 * DAY)
    lead_days = working_days_between(ctx, sl_day, day_of(lead_bj))
    slow = ctx.speed[county] ** 4
    # KB + current county code + submission day + running number: submission days never span two months.
    codes = np.char.add("KB", ctx.codes[county].astype("U6"))
    ids = serial(codes, sb_day, group_sequence(county.astype(np.int64) * 40_000 + sb_day.astype(np.int64), sb),
                 width=4).astype(object)
    c["bundle"][leads] = ids
    parts: list[dict[str, np.ndarray]] = []
    elapsed = working_days_between(ctx, sl_day, np.full(m, ctx.now_day))
    for k, name in enumerate(BUNDLE_FOLLOWERS):
        step = (rng.random(m) < _FOLLOWER_STEP[k]).astype(np.int64) + rng.poisson(0.3 * slow)
        total = lead_days + step
        day_end = (sl // DAY) * DAY + 18 * HOUR + 1800
        f_sl = np.minimum(sl + rng.integers(60, 900, m), np.maximum(sl, day_end))
        bj = _completion(ctx, rng, f_sl, total, np.zeros(m, dtype=bool))
        # A follower finishing on the licence's day finishes after it: it needs the licence.
        bj = np.where((step == 0) & (bj < lead_bj), lead_bj + rng.integers(300, 1800, m), bj)
        open_ = bj > ctx.now
        parts.append({
            "county": county, "item": np.full(m, cat.index_of(name)), "channel": c["channel"][leads],
            "online": c["online"][leads], "auto": np.zeros(m, dtype=bool), "sb": c["sb"][leads], "sl": f_sl,
            "r": c["r"][leads], "promised": np.full(m, BUNDLE_PROMISED), "late": total > BUNDLE_PROMISED, "bj": bj,
            "open": open_, "ztts": np.zeros(m, dtype=np.int64), "status": np.where(open_, OPEN, DONE),
            "open_overdue": open_ & (elapsed > BUNDLE_PROMISED), "statutory": np.full(m, BUNDLE_STATUTORY),
            "bundle": ids,
        })
    return {k: np.concatenate([v, *(p[k].astype(v.dtype) for p in parts)]) for k, v in c.items()}


def _completion(ctx: Context, rng: np.random.Generator, sl: np.ndarray, total: np.ndarray,
                auto: np.ndarray) -> np.ndarray:
    """Completion time: on a working day in office hours, or minutes after acceptance when done at once."""
    n = len(sl)
    bj_day = add_working_days(ctx, day_of(sl), total)
    never = np.isnat(bj_day)
    bj = np.where(never, np.iinfo(np.int64).max // 2,
                  day_seconds(np.where(never, np.datetime64("1970-01-01"), bj_day)) + office_time(rng, n))
    same = total == 0
    closing = (sl // DAY) * DAY + 18 * HOUR + 30 * 60
    manual = np.minimum(sl + rng.integers(300, 5400, n), np.maximum(sl + 120, closing))
    return np.where(same, np.where(auto, sl + rng.integers(1, 120, n), manual), bj)


def _updated_at(ctx: Context, rng: np.random.Generator, sl: np.ndarray, bj: np.ndarray,
                open_: np.ndarray) -> np.ndarray:
    """Last update: just after the latest event, sometimes hours or weeks later (archiving), never after now."""
    n = len(sl)
    last = np.where(open_, sl + (rng.random(n) * np.clip(ctx.now - sl, 0, 5 * DAY)).astype(np.int64), bj)
    u = rng.random(n)
    lag = np.where(u < 0.7, rng.integers(5, 600, n),
                   np.where(u < 0.95, rng.integers(HOUR, DAY, n), rng.integers(DAY, 30 * DAY, n)))
    return np.minimum(last + lag, np.maximum(ctx.now, last))


def corrupt_cases(rng: np.random.Generator, batch: CaseBatch, bad: dict[str, int]) -> None:
    """Write the month's share of deliberately bad rows, each row broken in exactly one way."""
    rows = batch.rows
    n = len(batch)
    closed = np.flatnonzero(rows["BJSJ"] != None)  # noqa: E711 - object array comparison
    (before,) = pick_disjoint(rng, closed, [bad.get("bjsj_before_slsj", 0)])
    rest = np.setdiff1d(np.arange(n), before)
    kinds = ["unknown_region", "malformed_slsj", "negative_pdcs", "empty_sblsh"]
    subsets = pick_disjoint(rng, rest, [bad.get(k, 0) for k in kinds])
    picked = dict(zip(kinds, subsets, strict=True))
    rows["BJSJ"][before] = fmt_ts(batch.accepted[before] - rng.integers(HOUR, 20 * DAY, len(before))).astype(object)
    idx = picked["unknown_region"]
    rows["XZQHDM"][idx] = UNKNOWN_REGIONS[rng.integers(0, len(UNKNOWN_REGIONS), len(idx))]
    idx = picked["malformed_slsj"]
    rows["SLSJ"][idx] = MALFORMED_TIMES[rng.integers(0, len(MALFORMED_TIMES), len(idx))]
    idx = picked["negative_pdcs"]
    rows["PDCS"][idx] = -rng.integers(1, 4, len(idx))
    idx = picked["empty_sblsh"]
    rows["SBLSH"][idx] = np.where(np.arange(len(idx)) % 2 == 0, None, "").astype(object)
    for idx in [before, *picked.values()]:
        batch.usable[idx] = False
    batch.bad = {"bjsj_before_slsj": len(before), **{k: len(v) for k, v in picked.items()}}


class ApprovalDb:
    """The platform's export database: `items` and `cases`, written in monthly chunks, indexed at the end."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE items (SXBM TEXT NOT NULL UNIQUE, SXMC TEXT, SSBMBM TEXT, SSBMMC TEXT,
                                FDSX INTEGER, CNSX INTEGER, SFJBJ TEXT, GXSJ TEXT);
            CREATE TABLE cases (SBLSH TEXT, SXBM TEXT, SXMC TEXT, XZQHDM TEXT, SLBMBM TEXT, SLBMMC TEXT,
                                SBQD TEXT, SBSJ TEXT, SLSJ TEXT, BJSJ TEXT, BJZT TEXT, ZTTS INTEGER,
                                CNSX INTEGER, FDSX INTEGER, PDCS INTEGER, SFQCWB TEXT, YJSBH TEXT, GXSJ TEXT);
            """
        )

    def write_items(self, ctx: Context, cat: Catalogue) -> int:
        """Insert the catalogue as of `now`."""
        rows = item_rows(ctx, cat)
        self.conn.executemany(f"INSERT INTO items VALUES ({','.join('?' * len(ITEM_COLUMNS))})", rows)
        return len(rows)

    def write_cases(self, batch: CaseBatch) -> None:
        """Append one month of cases."""
        cols = [batch.rows[c].tolist() for c in CASE_COLUMNS]
        marks = ",".join("?" * len(CASE_COLUMNS))
        self.conn.executemany(f"INSERT INTO cases VALUES ({marks})", zip(*cols, strict=True))

    def close(self) -> None:
        """Build the indexes the API pages by, then close."""
        self.conn.executescript(
            """
            CREATE UNIQUE INDEX ux_cases_sblsh ON cases (SBLSH) WHERE SBLSH <> '';
            CREATE INDEX ix_cases_gxsj_sblsh ON cases (GXSJ, SBLSH);
            CREATE INDEX ix_items_gxsj_sxbm ON items (GXSJ, SXBM);
            """
        )
        self.conn.commit()
        self.conn.close()
