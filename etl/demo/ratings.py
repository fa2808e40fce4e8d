"""好差评 ratings as the rating system exports them: one CSV per day, mostly GBK, messy as real exports are."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from etl.demo.approvals import DONE, CaseBatch
from etl.demo.catalogue import Catalogue
from etl.demo.common import (
    DAY,
    HOUR,
    TAG_PLAN,
    TAG_RATING_FILES,
    TAG_RATINGS,
    Context,
    add_working_days,
    day_of,
    day_seconds,
    fmt_ts,
    improvement,
    office_time,
    pick_disjoint,
    serial,
    sreplace,
)

HEADER = ["评价编号", "办件编号", "行政区划", "事项名称", "评价渠道", "评价时间", "评价等级", "评价内容",
          "是否核实差评", "整改状态", "整改完成时间"]
LEVELS = np.array(["非常满意", "满意", "基本满意", "不满意", "非常不满意"])
RATING_CHANNELS = np.array(["PC端", "移动端", "窗口评价器", "短信", "二维码"])
RECTIFY = np.array(["—", "已整改", "整改中", "未整改"])
NOT_NEEDED, RECTIFIED, IN_PROGRESS, NOT_RECTIFIED = range(4)
RATING_BAD_BASES = {"invalid_level": 30, "empty_rated_at": 25, "unknown_region": 25, "missing_rating_id": 20}
DUPLICATE_ROW_BASE = 20
INVALID_LEVELS = np.array(["一般", "好评", "5", "差"])
UNKNOWN_REGIONS = np.array(["开发区", "999999", "140799"])
GOOD_COMMENTS = np.array([
    "办事效率高，点赞！", "工作人员态度热情，解答耐心", "一次办好，不用来回跑", "网上提交材料很方便",
    "全程网办，足不出户就办好了", "窗口人员很专业", "流程清楚，比以前快多了", "帮办代办服务很贴心",
    "材料一次性告知，很满意", "排队时间短", "手机上就能办，方便", "服务好",
])
BAD_COMMENTS = np.array([
    "等了很久也没人处理", "材料要求前后不一致，跑了好几趟", "窗口工作人员态度生硬", "网上系统经常卡顿，提交不了",
    "电话咨询一直没人接", "超过承诺时限还没办结", "告知不清楚，又让补材料", "排队时间太长",
    "让去其他部门开证明，来回折腾", "办理进度查不到",
])
# Characters outside GBK, so that only a GB18030 decoder reads these files.
RARE_COMMENTS = ["申请人姓名中有生僻字“𠀀”，窗口帮忙手工录入，很满意", "家住㙟村，网上办理很方便"]
# Rating channel probabilities by case channel (rows: 窗口办理, 网上办理, 移动端, 自助终端).
_CHANNEL_P = np.array([
    [0.0, 0.0, 0.7, 0.1, 0.2],
    [0.8, 0.0, 0.0, 0.2, 0.0],
    [0.0, 0.9, 0.0, 0.1, 0.0],
    [0.0, 0.0, 0.6, 0.0, 0.4],
])
_COVERAGE_BY_CHANNEL = np.array([1.0, 0.88, 0.95, 0.85])


def ratings_from_cases(ctx: Context, cat: Catalogue, batch: CaseBatch, month_index: int) -> dict[str, np.ndarray]:
    """Ratings of the month's completed cases: who rates, when, how, and what happened to bad reviews."""
    rng = ctx.rng(TAG_RATINGS, month_index)
    n = len(batch)
    p = np.clip(ctx.coverage[batch.county] * _COVERAGE_BY_CHANNEL[batch.channel], 0, 0.98)
    take = batch.usable & (batch.status == DONE) & (batch.completed <= ctx.now) & (rng.random(n) < p)
    idx = np.flatnonzero(take)
    m = len(idx)
    county, channel = batch.county[idx], batch.channel[idx]
    rc = (rng.random(m)[:, None] > np.cumsum(_CHANNEL_P, axis=1)[channel]).sum(axis=1)
    rc = np.minimum(rc, len(RATING_CHANNELS) - 1)
    delay = np.where(rc == 2, rng.integers(10, 300, m),
                     np.clip(np.exp(np.log(3 * HOUR) + 1.2 * rng.standard_normal(m)), 60, 7 * DAY).astype(np.int64))
    ts = batch.completed[idx] + delay
    r = improvement(ctx, day_of(ts), county)
    p_bad = 0.006 * ctx.bad_review[county] * (1.0 - 0.8 * r) * (1.0 + 3.0 * batch.late[idx])
    is_bad = rng.random(m) < p_bad
    good = (rng.random(m)[:, None] > np.cumsum(np.stack([0.86 + 0.04 * r, 0.11 - 0.03 * r], 1), 1)).sum(1)
    level = np.where(is_bad, np.where(rng.random(m) < 0.7, 3, 4), good)
    verified = is_bad & (rng.random(m) < 0.8)
    rect_status, rect_ts = _rectification(ctx, rng, ts, verified)
    comment = np.where(is_bad, BAD_COMMENTS[rng.integers(0, len(BAD_COMMENTS), m)],
                       np.where(rng.random(m) < 0.35, GOOD_COMMENTS[rng.integers(0, len(GOOD_COMMENTS), m)], ""))
    keep = ts < (ctx.data_end // DAY) * DAY  # only days that are over get exported
    out = {"ts": ts, "case_id": batch.case_id[idx], "county": county, "item": batch.item[idx], "channel": rc,
           "level": level, "verified": verified, "rect_status": rect_status, "rect_ts": rect_ts,
           "comment": comment.astype(object)}
    return {k: v[keep] for k, v in out.items()}


def _rectification(ctx: Context, rng: np.random.Generator, ts: np.ndarray, verified: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Verified bad reviews are mostly rectified within 3-15 working days, some take weeks, a few never."""
    m = len(ts)
    u = rng.random(m)
    wd = np.where(u < 0.85, rng.integers(3, 16, m), np.where(u < 0.95, rng.integers(16, 31, m), 0))
    never = u >= 0.95
    done_day = add_working_days(ctx, day_of(ts), wd)
    done_ts = day_seconds(done_day) + office_time(rng, m)
    done = verified & ~never & (done_ts <= ctx.now)
    stale = verified & never & (ctx.now - ts > 30 * DAY)
    status = np.select([done, stale, verified], [RECTIFIED, NOT_RECTIFIED, IN_PROGRESS], NOT_NEEDED)
    return status, np.where(done, done_ts, -1)


@dataclass
class InboxStats:
    """What the inbox ended up holding, for the manifest."""

    files: list[str] = field(default_factory=list)
    rows: int = 0
    bad: dict[str, int] = field(default_factory=lambda: {k: 0 for k in RATING_BAD_BASES})
    duplicate_rows: int = 0
    blank_rows: int = 0
    title_row_files: int = 0
    slash_date_files: int = 0
    date_only_values: int = 0
    retired_region_rows: int = 0
    encodings: dict[str, int] = field(default_factory=lambda: {"gbk": 0, "gb18030": 0, "utf-8-sig": 0})
    gb18030_files: list[str] = field(default_factory=list)
    utf8_bom_files: list[str] = field(default_factory=list)
    duplicate_files: list[dict[str, str]] = field(default_factory=list)


class RatingsInbox:
    """Buffers ratings across monthly case batches and writes each day's export once the day is final."""

    def __init__(self, ctx: Context, cat: Catalogue, inbox: Path, bad_plan: np.ndarray, dup_plan: np.ndarray) -> None:
        self.ctx, self.cat, self.inbox = ctx, cat, inbox
        self.bad_plan, self.dup_plan = bad_plan, dup_plan
        self.pending: dict[str, np.ndarray] | None = None
        self.stats = InboxStats()
        self._plan_special_days()

    def _plan_special_days(self) -> None:
        """Choose which days are GB18030, UTF-8 with BOM, and which one is delivered twice."""
        ctx = self.ctx
        last = day_of(np.array([ctx.data_end - DAY]))[0]  # the last complete day
        days = np.arange(ctx.months[0].start, last + 1, dtype="datetime64[D]")
        working = days[ctx.calendar.is_working_day_many(days)]
        rng = ctx.rng(TAG_PLAN, 50)
        n_special = max(1, int(round(0.02 * len(days))))
        chosen = rng.permutation(working)[: 2 * n_special + 1] if len(working) else working
        self.gb18030 = set(chosen[:n_special].tolist())
        self.utf8 = set(chosen[n_special:2 * n_special].tolist())
        self.delivered_twice = chosen[2 * n_special].item() if len(chosen) > 2 * n_special else None

    def add(self, ratings: dict[str, np.ndarray]) -> None:
        """Queue one batch's ratings."""
        if self.pending is None:
            self.pending = ratings
        else:
            self.pending = {k: np.concatenate([self.pending[k], ratings[k]]) for k in ratings}

    def flush_month(self, month_index: int) -> None:
        """Write every day of that month (no later batch can add ratings to it)."""
        month = self.ctx.months[month_index]
        end_ts = int(month.end.astype(np.int64)) * DAY
        assert self.pending is not None
        now_rows = self.pending["ts"] < end_ts
        rows = {k: v[now_rows] for k, v in self.pending.items()}
        self.pending = {k: v[~now_rows] for k, v in self.pending.items()}
        order = np.lexsort((rows["case_id"], rows["ts"]))
        rows = {k: v[order] for k, v in rows.items()}
        texts = self._texts(rows, month_index)
        day = day_of(rows["ts"])
        for d in month.days:
            if (int(d.astype(np.int64)) + 1) * DAY > self.ctx.data_end:
                break  # a day is exported once it is over
            sel = np.flatnonzero(day == d)
            self._write_day(d, {k: v[sel] for k, v in texts.items()})

    def _texts(self, rows: dict[str, np.ndarray], month_index: int) -> dict[str, np.ndarray]:
        """The month's rows as export text, with the month's bad rows and duplicates marked."""
        ctx, cat = self.ctx, self.cat
        rng = ctx.rng(TAG_RATINGS, 10_000 + month_index)
        n = len(rows["ts"])
        day = day_of(rows["ts"])
        day_key = day.astype(np.int64)
        seq = np.zeros(n, dtype=np.int64)
        if n:
            starts = np.r_[True, day_key[1:] != day_key[:-1]]
            first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
            seq = np.arange(n) - first + 1
        ids = serial("HCP", day, seq).astype(object)
        region, retired = self._region_text(rng, rows["county"])
        self.stats.retired_region_rows += int(retired.sum())
        verified = rows["verified"]
        is_bad = rows["level"] >= 3
        out = {
            "评价编号": ids, "办件编号": rows["case_id"].astype(object), "行政区划": region,
            "事项名称": cat.name[rows["item"]].astype(object),
            "评价渠道": RATING_CHANNELS[rows["channel"]].astype(object),
            "ts": rows["ts"], "rect_ts": rows["rect_ts"], "评价等级": LEVELS[rows["level"]].astype(object),
            "评价内容": rows["comment"],
            "是否核实差评": np.where(is_bad, np.where(verified, "是", "否"), "").astype(object),
            "整改状态": RECTIFY[rows["rect_status"]].astype(object),
            "date_only": rng.random(n) < 0.003, "dup": np.zeros(n, dtype=bool), "bad": np.zeros(n, dtype=bool),
            "empty_time": np.zeros(n, dtype=bool),
        }
        self._corrupt(rng, out, day, month_index)
        return out

    def _region_text(self, rng: np.random.Generator, county: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """行政区划 as the rating system writes it: code, full name, short name, or 太谷's retired code."""
        ctx = self.ctx
        forms = np.array([[u.code, u.name_zh, u.short_zh, old or u.code]
                          for u, old in zip(ctx.units, ctx.retired_for, strict=True)], dtype=object)
        u = rng.random(len(county))
        form = np.select([u < 0.5, u < 0.8, u < 0.97], [0, 1, 2], 3)
        retired = (form == 3) & np.array([old is not None for old in ctx.retired_for])[county]
        return forms[county, form], retired

    def _corrupt(self, rng: np.random.Generator, out: dict[str, np.ndarray], day: np.ndarray, month_index: int) -> None:
        """Break the month's share of rows (one way each) and mark a few duplicates, never on the twice-sent day."""
        eligible = np.flatnonzero(day != np.datetime64(self.delivered_twice, "D")) if self.delivered_twice else (
            np.arange(len(day)))
        kinds = list(RATING_BAD_BASES)
        counts = [int(c) for c in self.bad_plan[month_index]] + [int(self.dup_plan[month_index])]
        *picked, dups = pick_disjoint(rng, eligible, counts)
        for kind, idx in zip(kinds, picked, strict=True):
            k = len(idx)
            if kind == "invalid_level":
                out["评价等级"][idx] = INVALID_LEVELS[rng.integers(0, len(INVALID_LEVELS), k)]
            elif kind == "empty_rated_at":
                out["empty_time"][idx] = True
            elif kind == "unknown_region":
                out["行政区划"][idx] = UNKNOWN_REGIONS[rng.integers(0, len(UNKNOWN_REGIONS), k)]
            else:
                out["评价编号"][idx] = ""
            out["bad"][idx] = True
            self.stats.bad[kind] += k
        out["dup"][dups] = True
        out["date_only"][out["bad"]] = False

    def _write_day(self, day: np.datetime64, t: dict[str, np.ndarray]) -> None:
        """Render one day's export file with that day's quirks (title row, blank rows, date style, encoding)."""
        key = day.item()
        rng = self.ctx.rng(TAG_RATING_FILES, int(day.astype(np.int64)))
        slash = rng.random() < 0.15
        n = len(t["ts"])
        rated = _fmt_time(t["ts"], slash, t["date_only"])
        rated[t["empty_time"]] = ""
        rect = np.full(n, "", dtype=object)
        has_rect = t["rect_ts"] >= 0
        rect[has_rect] = _fmt_time(t["rect_ts"][has_rect], slash, np.zeros(int(has_rect.sum()), dtype=bool))
        cols = [t["评价编号"], t["办件编号"], t["行政区划"], t["事项名称"], t["评价渠道"], rated, t["评价等级"],
                t["评价内容"].copy(), t["是否核实差评"], t["整改状态"], rect]
        encoding = "gb18030" if key in self.gb18030 else "utf-8-sig" if key in self.utf8 else "gbk"
        if encoding == "gb18030":
            good = np.flatnonzero(~t["bad"])
            if len(good):
                cols[7][good[0]] = RARE_COMMENTS[int(rng.integers(0, len(RARE_COMMENTS)))]
        lines = _csv_lines(cols, t["dup"])
        self.stats.duplicate_rows += int(t["dup"].sum())
        self.stats.date_only_values += int(t["date_only"].sum())
        lines = self._decorate(rng, day, lines, key == self.delivered_twice)
        newline = "\n" if encoding == "utf-8-sig" else "\r\n"
        data = (newline.join(lines) + newline).encode(encoding)
        name = f"hcp_{str(day).replace('-', '')}.csv"
        (self.inbox / name).write_bytes(data)
        self._record(name, encoding, n, slash)
        if key == self.delivered_twice:
            copy = name.replace(".csv", "(1).csv")
            (self.inbox / copy).write_bytes(data)
            self.stats.duplicate_files.append({"file": copy, "same_as": name})

    def _decorate(self, rng: np.random.Generator, day: np.datetime64, lines: list[str], plain: bool) -> list[str]:
        """Title row above the header on some days (always on a day without ratings, so that two empty exports
        are not the same bytes and taken for one file delivered twice), a few blank rows on others."""
        if not plain and (len(lines) <= 1 or rng.random() < 0.2):
            y, m, d = str(day).split("-")
            lines.insert(0, f"晋中市政务服务“好差评”数据导出（{y}年{m}月{d}日）")
            self.stats.title_row_files += 1
        if not plain and len(lines) > 2 and rng.random() < 0.1:
            header_at = 1 if lines[0].startswith("晋中市") else 0
            for _ in range(int(rng.integers(1, 3))):
                pos = int(rng.integers(header_at + 1, len(lines) + 1))
                lines.insert(pos, "" if rng.random() < 0.5 else "," * (len(HEADER) - 1))
                self.stats.blank_rows += 1
        return lines

    def _record(self, name: str, encoding: str, n: int, slash: bool) -> None:
        self.stats.files.append(name)
        self.stats.rows += n
        self.stats.encodings[encoding] += 1
        self.stats.slash_date_files += int(slash)
        if encoding == "gb18030":
            self.stats.gb18030_files.append(name)
        elif encoding == "utf-8-sig":
            self.stats.utf8_bom_files.append(name)


def _fmt_time(ts: np.ndarray, slash: bool, date_only: np.ndarray) -> np.ndarray:
    """'2026-10-08 09:12:05', or '2026/10/08 09:12' in slash-style files; a few rows carry only the date."""
    full = fmt_ts(ts)
    text = sreplace(full.astype("U16"), "-", "/") if slash else full
    out = text.astype(object)
    out[date_only] = full[date_only].astype("U10")
    return out


def _csv_lines(cols: list[np.ndarray], dup: np.ndarray) -> list[str]:
    """Header plus one line per row, marked rows repeated right after themselves."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    rows = list(zip(*[c.tolist() for c in cols], strict=True))
    for i in np.flatnonzero(dup)[::-1]:
        rows.insert(int(i) + 1, rows[int(i)])
    writer.writerows(rows)
    return buf.getvalue().split("\n")[:-1]
