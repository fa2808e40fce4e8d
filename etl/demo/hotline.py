"""12345 hotline tickets in the hotline system's own database: a base table with its naming, plus a view."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from etl.demo.common import (
    DAY,
    HOUR,
    MINUTE,
    TAG_HOTLINE,
    Context,
    Month,
    add_working_days,
    day_of,
    day_seconds,
    fmt_day,
    fmt_opt,
    fmt_ts,
    growth,
    improvement,
    office_time,
    pick_disjoint,
    serial,
    weekday_weight,
)
from etl.demo.units import GENERIC_TOWNS, TOWNS

ANNUAL_TICKETS = 300_000
# (category, weight, working days allowed, handling department)
CATEGORIES: list[tuple[str, float, int, str]] = [
    ("营商环境-审批服务", 3.0, 5, "行政审批服务管理局"), ("营商环境-市场监管", 3.5, 5, "市场监督管理局"),
    ("营商环境-涉企收费", 1.2, 5, "发展和改革局"), ("营商环境-政策兑现", 1.5, 5, "工业和信息化局"),
    ("营商环境-拖欠账款", 1.0, 5, "工业和信息化局"), ("城市管理", 18.0, 10, "城市管理局"),
    ("劳动保障", 12.0, 10, "人力资源和社会保障局"), ("住房保障", 9.0, 15, "住房和城乡建设局"),
    ("交通出行", 10.0, 10, "交通运输局"), ("医疗卫生", 8.0, 10, "卫生健康委员会"), ("教育", 7.0, 15, "教育局"),
    ("供水供暖", 12.0, 5, "住房和城乡建设局"), ("环境保护", 6.0, 10, "生态环境局"),
    ("咨询求助", 8.0, 15, "政务服务中心"),
]
# Content templates per category; {t} is a town of the caller's county.
TEMPLATES: dict[str, list[str]] = {
    "营商环境-审批服务": ["反映在{t}办理营业执照材料被多次退回", "咨询{t}食品经营许可办理进度，已超承诺时限",
                    "反映施工许可审批环节多、时间长", "网上办理系统无法提交申请，窗口让重新排队"],
    "营商环境-市场监管": ["反映{t}某超市销售过期食品", "举报{t}商户价格欺诈", "反映执法检查过于频繁影响经营",
                    "投诉{t}某商家虚假宣传"],
    "营商环境-涉企收费": ["反映企业被要求缴纳不合理的检测费", "反映{t}园区物业向企业乱收费",
                    "反映办理业务被指定中介收费"],
    "营商环境-政策兑现": ["咨询稳岗补贴何时发放", "反映申请的技改奖补资金迟迟未兑现",
                    "反映{t}招商时承诺的优惠政策未落实"],
    "营商环境-拖欠账款": ["反映{t}政府项目工程款长期拖欠", "反映国企拖欠中小企业货款"],
    "城市管理": ["反映{t}路边占道经营", "反映{t}夜间施工噪音扰民", "反映{t}垃圾清运不及时", "反映{t}路灯不亮"],
    "劳动保障": ["反映{t}某工地拖欠农民工工资", "咨询灵活就业人员社保缴费", "反映用人单位未签劳动合同"],
    "住房保障": ["反映{t}小区房产证迟迟办不下来", "咨询公租房申请条件", "反映{t}小区物业服务差"],
    "交通出行": ["反映{t}公交车班次太少", "反映{t}路段坑洼不平", "建议在{t}学校门口增设红绿灯"],
    "医疗卫生": ["反映{t}卫生院服务态度差", "咨询医保异地报销流程", "反映{t}药店药价偏高"],
    "教育": ["咨询{t}学校入学划片", "反映{t}学校违规补课收费", "反映校车安全隐患"],
    "供水供暖": ["反映{t}小区停水未提前通知", "反映{t}小区暖气不热", "反映{t}水压过低"],
    "环境保护": ["反映{t}企业夜间偷排废气", "反映{t}河道有垃圾", "反映{t}餐馆油烟扰民"],
    "咨询求助": ["咨询{t}居住证办理", "咨询不动产登记需要哪些材料", "求助查询社保缴费记录"],
}
STATUS_CODES = {"待办理": "0", "办理中": "1", "已办结": "2", "已回访": "3", "重办中": "4"}
HOTLINE_BAD_BASES = {"closed_before_received": 25, "unknown_region": 25, "negative_reopen_count": 15}
UNKNOWN_REGIONS = np.array(["140799", "阳泉市", "999999"])
SURNAMES = np.array(list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅"))
T_GD_COLUMNS = ["gdbh", "ldsj", "ssqy", "gdfl", "sfysh", "ldnr", "gdzt", "blsx", "bjsj", "hfsj", "sfjj", "myd",
                "cbcs", "gxsj", "ldrxm", "lxdh", "cbdw"]

_CAT_NAMES = np.array([c[0] for c in CATEGORIES])
_CAT_WEIGHTS = np.array([c[1] for c in CATEGORIES])
_CAT_LIMIT = np.array([c[2] for c in CATEGORIES])
_CAT_DEPT = np.array([c[3] for c in CATEGORIES])


def generate_month_tickets(ctx: Context, month: Month, bad: dict[str, int]) -> tuple[dict[str, np.ndarray], dict]:
    """One month of tickets by receipt date, with their lifecycle up to `now` and a few bad rows."""
    rng = ctx.rng(TAG_HOTLINE, month.index)
    days = month.days
    working = ctx.calendar.is_working_day_many(days)
    lam = ANNUAL_TICKETS / 12.0 * ctx.scale * ctx.shares * growth(month) * len(days) / 30.4
    county = np.repeat(np.arange(len(ctx.units)), np.maximum(rng.poisson(lam), 1))
    n = len(county)
    w = weekday_weight(days, working, 0.7)
    rx_day = days[rng.choice(len(days), n, p=w / w.sum())]
    hour_w = np.array([1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 3, 7, 10, 10, 9, 6, 6, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2], float)
    hour = rng.choice(24, n, p=hour_w / hour_w.sum())
    rx = day_seconds(rx_day) + hour * HOUR + rng.integers(0, HOUR, n)
    cat = rng.choice(len(CATEGORIES), n, p=_CAT_WEIGHTS / _CAT_WEIGHTS.sum())
    r = improvement(ctx, rx_day, county)
    life = _lifecycle(ctx, rng, rx, county, cat, r)
    keep = rx < ctx.data_end
    rows = _rows(ctx, rng, rx, county, cat, life)
    order = np.lexsort((rows["gdbh"], rx))
    order = order[keep[order]]
    rows = {k: v[order] for k, v in rows.items()}
    written = _corrupt(rng, rows, rx[order], bad)
    info = {"bad": written, "retired_region_rows": int((rows["ssqy"] == "140726").sum()),
            "business_env": int((rows["sfysh"] == 1).sum())}
    return rows, info


def _lifecycle(ctx: Context, rng: np.random.Generator, rx: np.ndarray, county: np.ndarray, cat: np.ndarray,
               r: np.ndarray) -> dict[str, np.ndarray]:
    """Due, first closure, callback, reopening and final closure of each ticket, then its state at `now`."""
    n = len(rx)
    limit = _CAT_LIMIT[cat]
    rx_day = day_of(rx)
    median = np.maximum(limit * 0.35 * ctx.hotline_speed[county] * (1.0 - 0.3 * r), 0.4)
    days = np.floor(np.exp(np.log(median) + 0.6 * rng.standard_normal(n))).astype(np.int64)
    days = np.where(days > limit, rng.integers(1, limit + 1), days)
    late = rng.random(n) < 0.07 * (1.0 - 0.6 * r)
    days = np.where(late, limit + rng.geometric(0.3, n), days)
    days = np.where((rx % DAY > 15 * HOUR) | ~ctx.calendar.is_working_day_many(rx_day), np.maximum(days, 1), days)
    ev = {"due": add_working_days(ctx, rx_day, limit), "close1": _office_after(ctx, rng, rx, days)}
    ev["cb1"] = _callback_after(rng, ev["close1"])
    ev["called"] = rng.random(n) < 0.93
    ev["resolved1"] = rng.random(n) < np.clip(0.86 + 0.08 * r + ctx.hotline_quality[county], 0.5, 0.99)
    ev["sat1"] = _satisfaction(rng, ev["resolved1"])
    ev["reopened"] = ev["called"] & ~ev["resolved1"] & (ev["sat1"] == 2) & (rng.random(n) < 0.6)
    ev["reopen_at"] = ev["cb1"] + rng.integers(HOUR, DAY, n)
    ev["close2"] = _office_after(ctx, rng, ev["reopen_at"], rng.integers(1, limit + 1))
    ev["cb2"] = _callback_after(rng, ev["close2"])
    ev["resolved2"] = rng.random(n) < 0.8
    ev["sat2"] = _satisfaction(rng, ev["resolved2"])
    ev["count"] = np.where(ev["reopened"], 1 + (rng.random(n) < 0.15), 0)
    return _state_at_now(ctx, rng, rx, ev)


def _office_after(ctx: Context, rng: np.random.Generator, start: np.ndarray, days: np.ndarray) -> np.ndarray:
    """A moment `days` working days after start, in office hours, never before start."""
    n = len(start)
    d = add_working_days(ctx, day_of(start), days)
    out = day_seconds(d) + office_time(rng, n)
    same = days == 0
    return np.where(same, start + rng.integers(HOUR, 4 * HOUR, n), np.maximum(out, start + HOUR))


def _callback_after(rng: np.random.Generator, closed: np.ndarray) -> np.ndarray:
    """The callback centre calls back within three days, 09:00-20:00, at least an hour after closure."""
    n = len(closed)
    day = (closed + rng.integers(4 * HOUR, 3 * DAY, n)) // DAY
    return np.maximum(day * DAY + rng.integers(9 * HOUR, 20 * HOUR, n), closed + HOUR)


def _satisfaction(rng: np.random.Generator, resolved: np.ndarray) -> np.ndarray:
    """0 满意, 1 基本满意, 2 不满意: mostly satisfied when resolved."""
    u = rng.random(len(resolved))
    return np.where(resolved, np.select([u < 0.85, u < 0.98], [0, 1], 2), np.select([u < 0.2, u < 0.55], [0, 1], 2))


def _state_at_now(ctx: Context, rng: np.random.Generator, rx: np.ndarray, ev: dict[str, np.ndarray]
                  ) -> dict[str, np.ndarray]:
    """Collapse the lifecycle into the fields the system shows at `now` (a reopened ticket shows round two)."""
    now, n = ctx.now, len(rx)
    second = ev["reopened"] & (ev["reopen_at"] <= now)
    closed_at = np.where(second, ev["close2"], ev["close1"])
    closed = closed_at <= now
    redoing = second & ~closed  # 重办中: the first callback is what the system still shows
    cb_at = np.where(second & closed, ev["cb2"], ev["cb1"])
    shows_cb = (closed & ev["called"] & (cb_at <= now)) | redoing
    use_second = second & closed
    status = np.select([redoing, closed & shows_cb, closed, now - rx < 2 * HOUR],
                       [STATUS_CODES[s] for s in ("重办中", "已回访", "已办结", "待办理")], STATUS_CODES["办理中"])
    last = np.select([shows_cb & ~redoing, closed, redoing], [cb_at, closed_at, ev["reopen_at"]],
                     rx + rng.integers(MINUTE, HOUR, n))
    return {
        "due": ev["due"], "closed_at": closed_at, "closed": closed, "cb_at": cb_at, "has_cb": shows_cb,
        "resolved": np.where(use_second, ev["resolved2"], ev["resolved1"]),
        "sat": np.where(use_second, ev["sat2"], ev["sat1"]), "status": status,
        "count": np.where(second, ev["count"], 0),
        "updated": np.minimum(last + rng.integers(0, 30 * MINUTE, n), np.maximum(now, last)),
    }


def _rows(ctx: Context, rng: np.random.Generator, rx: np.ndarray, county: np.ndarray, cat: np.ndarray,
          life: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The t_gd rows in the hotline system's own encoding."""
    n = len(rx)
    seq = np.empty(n, dtype=np.int64)
    order = np.lexsort((county, rx))
    day_key = day_of(rx[order]).astype(np.int64)
    starts = np.r_[True, day_key[1:] != day_key[:-1]] if n else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    seq[order] = np.arange(n) - first + 1
    gdbh = serial("JZ12345", day_of(rx), seq)
    has_cb = life["has_cb"]
    return {
        "gdbh": gdbh.astype(object), "ldsj": fmt_ts(rx).astype(object), "ssqy": _region_text(ctx, rng, county),
        "gdfl": _CAT_NAMES[cat].astype(object),
        "sfysh": np.char.startswith(_CAT_NAMES[cat], "营商环境").astype(np.int64),
        "ldnr": _contents(ctx, rng, county, cat), "gdzt": life["status"].astype(object),
        "blsx": np.char.add(fmt_day(life["due"]), " 23:59:59").astype(object),
        "bjsj": fmt_opt(life["closed_at"], life["closed"]), "hfsj": fmt_opt(life["cb_at"], has_cb),
        "sfjj": np.where(has_cb, np.where(life["resolved"], "1", "0"), None).astype(object),
        "myd": np.where(has_cb, np.array(["1", "2", "3"])[life["sat"]], None).astype(object),
        "cbcs": life["count"].astype(np.int64), "gxsj": fmt_ts(life["updated"]).astype(object),
        "ldrxm": np.char.add(SURNAMES[rng.integers(0, len(SURNAMES), n)], "**").astype(object),
        "lxdh": _phones(rng, n), "cbdw": np.char.add(np.array([u.name_zh for u in ctx.units])[county],
                                                     _CAT_DEPT[cat]).astype(object),
    }


def _region_text(ctx: Context, rng: np.random.Generator, county: np.ndarray) -> np.ndarray:
    """Region as call-takers type it: mostly the county name, often the code, 太谷 sometimes as 140726."""
    pairs = zip(ctx.units, ctx.retired_for, strict=True)
    forms = np.array([[u.name_zh, u.code, old or u.name_zh] for u, old in pairs], dtype=object)
    u = rng.random(len(county))
    return forms[county, np.select([u < 0.67, u < 0.97], [0, 1], 2)]


def _contents(ctx: Context, rng: np.random.Generator, county: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Short complaint texts from per-category templates with a town of the caller's county."""
    n = len(county)
    out = np.empty(n, dtype=object)
    town_lists = [TOWNS.get(u.code, GENERIC_TOWNS) for u in ctx.units]
    town_pick = rng.random(n)
    tpl_pick = rng.random(n)
    for c, (name, *_rest) in enumerate(CATEGORIES):
        tpls = TEMPLATES[name]
        sel = np.flatnonzero(cat == c)
        which = (tpl_pick[sel] * len(tpls)).astype(np.int64)
        for k, tpl in enumerate(tpls):
            rows = sel[which == k]
            if not len(rows):
                continue
            if "{t}" not in tpl:
                out[rows] = tpl
                continue
            head, tail = tpl.split("{t}")
            for u in np.unique(county[rows]):
                sub = rows[county[rows] == u]
                tl = np.array(town_lists[u], dtype=object)
                out[sub] = head + tl[(town_pick[sub] * len(tl)).astype(np.int64)] + tail
    return out


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Masked mobile numbers, as the hotline stores them for staff without PII rights."""
    prefix = np.array(["139", "138", "135", "136", "150", "151", "152", "158", "187", "188", "177", "199"])
    tail = np.char.zfill(rng.integers(0, 10_000, n).astype("U4"), 4)
    return np.char.add(np.char.add(prefix[rng.integers(0, len(prefix), n)], "****"), tail).astype(object)


def _corrupt(rng: np.random.Generator, rows: dict[str, np.ndarray], rx: np.ndarray, bad: dict[str, int]
             ) -> dict[str, int]:
    """Break a few rows, one way each: closed before received, unknown region, negative reopen count."""
    closed = np.flatnonzero(rows["bjsj"] != None)  # noqa: E711 - object array comparison
    (before,) = pick_disjoint(rng, closed, [bad.get("closed_before_received", 0)])
    rest = np.setdiff1d(np.arange(len(rx)), before)
    region, negative = pick_disjoint(rng, rest, [bad.get("unknown_region", 0), bad.get("negative_reopen_count", 0)])
    rows["bjsj"][before] = fmt_ts(rx[before] - rng.integers(HOUR, 10 * DAY, len(before))).astype(object)
    rows["ssqy"][region] = UNKNOWN_REGIONS[rng.integers(0, len(UNKNOWN_REGIONS), len(region))]
    rows["cbcs"][negative] = -rng.integers(1, 3, len(negative))
    return {"closed_before_received": len(before), "unknown_region": len(region),
            "negative_reopen_count": len(negative)}


class HotlineDb:
    """The hotline system's SQLite database, written month by month."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE t_gd (
                gdbh TEXT NOT NULL,  -- 工单编号
                ldsj TEXT,           -- 来电时间
                ssqy TEXT,           -- 所属区域 (name or code, as typed)
                gdfl TEXT,           -- 工单分类
                sfysh INTEGER,       -- 是否营商环境
                ldnr TEXT,           -- 来电内容
                gdzt TEXT,           -- 工单状态 0待办理 1办理中 2已办结 3已回访 4重办中
                blsx TEXT,           -- 办理时限
                bjsj TEXT,           -- 办结时间
                hfsj TEXT,           -- 回访时间
                sfjj TEXT,           -- 是否解决 1/0
                myd TEXT,            -- 满意度 1满意 2基本满意 3不满意
                cbcs INTEGER,        -- 重办次数
                gxsj TEXT,           -- 更新时间
                ldrxm TEXT,          -- 来电人姓名 (masked)
                lxdh TEXT,           -- 联系电话 (masked)
                cbdw TEXT            -- 承办单位
            );
            """
        )

    def write(self, rows: dict[str, np.ndarray]) -> None:
        """Append one month of tickets."""
        cols = [rows[c].tolist() for c in T_GD_COLUMNS]
        marks = ",".join("?" * len(T_GD_COLUMNS))
        self.conn.executemany(f"INSERT INTO t_gd VALUES ({marks})", zip(*cols, strict=True))

    def close(self) -> None:
        """Index and expose the view the platform reads, then close."""
        self.conn.executescript(
            """
            CREATE UNIQUE INDEX ux_t_gd_gdbh ON t_gd (gdbh);
            CREATE INDEX ix_t_gd_gxsj ON t_gd (gxsj);
            CREATE VIEW v_bizenv_ticket AS
            SELECT gdbh AS ticket_no, ldsj AS received_at, ssqy AS region, gdfl AS category,
                   sfysh AS is_business_env, ldnr AS content,
                   CASE gdzt WHEN '0' THEN '待办理' WHEN '1' THEN '办理中' WHEN '2' THEN '已办结'
                             WHEN '3' THEN '已回访' WHEN '4' THEN '重办中' END AS status,
                   blsx AS due_at, bjsj AS closed_at, hfsj AS callback_at,
                   CASE sfjj WHEN '1' THEN '已解决' WHEN '0' THEN '未解决' END AS resolved,
                   CASE myd WHEN '1' THEN '满意' WHEN '2' THEN '基本满意' WHEN '3' THEN '不满意' END AS satisfaction,
                   cbcs AS reopen_count, gxsj AS updated_at
            FROM t_gd;
            """
        )
        self.conn.commit()
        self.conn.close()
