"""The demo source generator: deterministic, realistic in shape, and honest about its bad rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import sqlite3
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from etl.demo.generator import JINZHONG_UNITS, UnitSpec, generate_sources
from models.calendar import get_calendar

START, END, SCALE = "2026-01", "2026-03", 0.01
CODES = {u.code for u in JINZHONG_UNITS}
RETIRED = {"140726": "140703"}
TIME_FMT = "%Y-%m-%d %H:%M:%S"
LEVELS = {"非常满意", "满意", "基本满意", "不满意", "非常不满意"}
RARE = ("𠀀", "㙟")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "sources"
    manifest = generate_sources(out_dir=out, units=JINZHONG_UNITS, start_month=START, end_month=END, scale=SCALE)
    return out, manifest


@pytest.fixture(scope="module")
def cases(demo: tuple[Path, dict]) -> pd.DataFrame:
    out, _ = demo
    with sqlite3.connect(out / "approval_platform.db") as conn:
        df = pd.read_sql("SELECT * FROM cases", conn)
    df["sl"] = pd.to_datetime(df["SLSJ"], format=TIME_FMT, errors="coerce")
    df["bj"] = pd.to_datetime(df["BJSJ"], format=TIME_FMT, errors="coerce")
    df["gx"] = pd.to_datetime(df["GXSJ"], format=TIME_FMT, errors="coerce")
    return df


def _checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _decode(data: bytes) -> str:
    """Decode an export the way an ETL would have to: BOM first, then GBK, then GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("gbk")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _rating_frames(inbox: Path) -> pd.DataFrame:
    """Every distinct rating file parsed: title rows and blank rows dropped, all cells as text."""
    seen: dict[str, str] = {}
    frames = []
    for path in sorted(inbox.glob("*.csv")):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            continue  # the same file delivered twice
        seen[digest] = path.name
        lines = [ln for ln in _decode(data).splitlines() if ln.strip().strip(",")]
        if lines and lines[0].startswith("晋中市"):
            lines = lines[1:]
        df = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str, keep_default_na=False)
        df["file"] = path.name
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _number(value: object) -> float:
    """A hand-typed cell as a number: full-width digits, thousands separators, — and / as nothing."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).replace(",", "").strip()
    return 0.0 if text in {"", "—", "/", "-"} else float(text)


# -- determinism and manifest -------------------------------------------------------------------------------

def test_same_arguments_give_byte_identical_files(demo: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifest = demo
    again = generate_sources(out_dir=tmp_path / "again", units=JINZHONG_UNITS, start_month=START, end_month=END,
                             scale=SCALE)
    assert again == manifest
    first, second = _checksums(out), _checksums(tmp_path / "again")
    assert first == second
    assert len(first) > 100


def test_workbooks_carry_no_wall_clock(demo: tuple[Path, dict]) -> None:
    today = dt.date.today()
    for path in sorted((demo[0] / "county_figures" / "inbox").glob("*.xlsx"))[:5]:
        with zipfile.ZipFile(path) as zf:
            assert all(dt.date(*info.date_time[:3]) != today for info in zf.infolist())


def test_manifest_file_matches_returned_dict(demo: tuple[Path, dict]) -> None:
    out, manifest = demo
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert manifest["params"]["now"] == "2026-04-09 00:00:00"
    assert set(manifest["bad_rows"]) == {"approval_cases", "ratings", "hotline", "county_figures"}


def test_out_dir_is_wiped(tmp_path: Path) -> None:
    out = tmp_path / "src"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    generate_sources(out_dir=out, units=JINZHONG_UNITS[:2], start_month="2025-06", end_month="2025-06",
                     scale=0.002)
    assert not (out / "stale.txt").exists()


def test_custom_units_are_honoured(tmp_path: Path) -> None:
    units = [UnitSpec("140702", "榆次区", "榆次", "Yuci"), UnitSpec("140790", "晋中开发区", "开发区", "Kaifaqu")]
    manifest = generate_sources(out_dir=tmp_path / "s", units=units, start_month="2025-06", end_month="2025-06",
                                scale=0.002)
    assert set(manifest["counts"]["cases_by_unit"]) == {"140702", "140790"}
    assert manifest["messy"]["approval_cases"]["retired_region_code"] == 0


# -- approval cases ------------------------------------------------------------------------------------------

def test_every_unit_has_cases_every_month(cases: pd.DataFrame) -> None:
    region = cases["XZQHDM"].replace(RETIRED)
    seen = set(zip(region, cases["sl"].dt.strftime("%Y-%m"), strict=True))
    for code in CODES:
        for month in ("2026-01", "2026-02", "2026-03"):
            assert (code, month) in seen, (code, month)
    assert (cases["XZQHDM"] == "140726").any(), "some 太谷 cases still carry the retired code"


def test_bad_case_rows_match_manifest(demo: tuple[Path, dict], cases: pd.DataFrame) -> None:
    expected = demo[1]["bad_rows"]["approval_cases"]
    found = {
        "bjsj_before_slsj": int((cases["bj"] < cases["sl"]).sum()),
        "unknown_region": int((~cases["XZQHDM"].isin(CODES | set(RETIRED))).sum()),
        "malformed_slsj": int(cases["sl"].isna().sum()),
        "negative_pdcs": int((cases["PDCS"] < 0).sum()),
        "empty_sblsh": int((cases["SBLSH"].isna() | (cases["SBLSH"] == "")).sum()),
    }
    assert found == expected
    assert all(n >= 2 for n in found.values())


def test_case_lifecycle_is_consistent(demo: tuple[Path, dict], cases: pd.DataFrame) -> None:
    now = pd.Timestamp(demo[1]["params"]["now"])
    ok = cases["sl"].notna() & ~(cases["bj"] < cases["sl"])
    open_ = cases["BJZT"].isin(["在办", "补正中"])
    assert cases.loc[open_, "BJSJ"].isna().all()
    assert cases.loc[~open_ & ok, "bj"].notna().all()
    assert (cases["gx"] <= now).all()
    assert (cases.loc[ok, "gx"] >= cases.loc[ok, "bj"].fillna(cases.loc[ok, "sl"])).all()
    assert set(cases["SBQD"]) == {"窗口办理", "网上办理", "移动端", "自助终端"}
    assert 0.002 < open_.mean() < 0.05
    sblsh = cases["SBLSH"].dropna()
    assert not sblsh[sblsh != ""].duplicated().any()
    online = cases["SFQCWB"] == "1"
    assert (cases.loc[online & (cases["PDCS"] >= 0), "PDCS"] == 0).all()


def test_processing_times_respect_limits(cases: pd.DataFrame) -> None:
    cal = get_calendar()
    done = cases[(cases["BJZT"] == "已办结") & cases["sl"].notna() & (cases["bj"] >= cases["sl"])]
    wd = cal.working_days_between_many(done["sl"].values.astype("datetime64[D]"),
                                       done["bj"].values.astype("datetime64[D]")) - done["ZTTS"].to_numpy()
    late = wd > done["CNSX"].to_numpy()
    assert 0.003 < late.mean() < 0.08
    assert (wd > done["FDSX"].to_numpy()).mean() < 0.01
    instant = done["CNSX"].to_numpy() == 0
    assert (wd[instant] == 0).mean() > 0.9
    assert ((done["ZTTS"] > 0).mean()) > 0.01
    manual = ~instant
    days = done["bj"].values.astype("datetime64[D]")[manual]
    assert cal.is_working_day_many(days).all()
    hours = done["bj"].dt.hour.to_numpy()[manual]
    assert ((hours >= 8) & (hours < 19)).all()


def test_spring_festival_dips(cases: pd.DataFrame) -> None:
    cal = get_calendar()
    per_day = cases.dropna(subset=["sl"]).groupby(cases["sl"].dt.date).size()
    days = pd.date_range("2026-02-01", "2026-03-31").date
    counts = per_day.reindex(days, fill_value=0)
    festival = [d for d in days if dt.date(2026, 2, 15) <= d <= dt.date(2026, 2, 23)]
    working = [d for d in days if cal.is_working_day(d)]
    assert counts[festival].mean() < 0.1 * counts[working].mean()


def test_items_catalogue(demo: tuple[Path, dict]) -> None:
    with sqlite3.connect(demo[0] / "approval_platform.db") as conn:
        items = pd.read_sql("SELECT * FROM items", conn)
    assert 120 <= len(items) <= 200
    assert items["SXBM"].is_unique
    assert ((items["CNSX"] == 0) == (items["SFJBJ"] == "1")).all()
    assert (items["CNSX"] <= items["FDSX"]).all()
    assert 0.2 < (items["SFJBJ"] == "1").mean() < 0.4
    assert items["SSBMMC"].nunique() >= 12


def test_bureau_improves_the_city(tmp_path: Path) -> None:
    def stats(start: str, end: str) -> tuple[float, float]:
        out = tmp_path / start
        generate_sources(out_dir=out, units=JINZHONG_UNITS, start_month=start, end_month=end, scale=0.01)
        with sqlite3.connect(out / "approval_platform.db") as conn:
            df = pd.read_sql("SELECT SFQCWB, CNSX, SLSJ, BJSJ, ZTTS FROM cases WHERE BJZT = '已办结'", conn)
        sl = pd.to_datetime(df["SLSJ"], format=TIME_FMT, errors="coerce").values.astype("datetime64[D]")
        bj = pd.to_datetime(df["BJSJ"], format=TIME_FMT, errors="coerce").values.astype("datetime64[D]")
        wd = get_calendar().working_days_between_many(sl, bj) - df["ZTTS"].to_numpy()
        return float((df["SFQCWB"] == "1").mean()), float(np.nanmean(wd > df["CNSX"].to_numpy()))

    online_before, late_before = stats("2023-10", "2023-11")
    online_after, late_after = stats("2025-10", "2025-11")
    assert online_after > online_before + 0.15
    assert late_after < 0.6 * late_before


# -- ratings -------------------------------------------------------------------------------------------------

def test_rating_files_encodings(demo: tuple[Path, dict]) -> None:
    out, manifest = demo
    inbox = out / "ratings" / "inbox"
    messy = manifest["messy"]["ratings"]
    special = set(messy["gb18030_files"]) | set(messy["utf8_bom_files"])
    gbk_files = [p for p in inbox.glob("hcp_*.csv") if p.name not in special and "(1)" not in p.name]
    assert len(gbk_files) > 50
    for path in gbk_files:
        data = path.read_bytes()
        data.decode("gbk")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert b"\r\n" in data
    assert messy["gb18030_files"] and messy["utf8_bom_files"]
    for name in messy["gb18030_files"]:
        data = (inbox / name).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("gbk")
        assert any(ch in data.decode("gb18030") for ch in RARE)
    for name in messy["utf8_bom_files"]:
        assert (inbox / name).read_bytes().startswith(b"\xef\xbb\xbf")


def test_same_rating_file_delivered_twice(demo: tuple[Path, dict]) -> None:
    out, manifest = demo
    inbox = out / "ratings" / "inbox"
    (dup,) = manifest["messy"]["ratings"]["duplicate_files"]
    assert (inbox / dup["file"]).read_bytes() == (inbox / dup["same_as"]).read_bytes()


def test_bad_rating_rows_match_manifest(demo: tuple[Path, dict], cases: pd.DataFrame) -> None:
    out, manifest = demo
    ratings = _rating_frames(out / "ratings" / "inbox")
    spellings = {s for u in JINZHONG_UNITS for s in (u.code, u.name_zh, u.short_zh)} | set(RETIRED)
    found = {
        "invalid_level": int((~ratings["评价等级"].isin(LEVELS)).sum()),
        "empty_rated_at": int((ratings["评价时间"] == "").sum()),
        "unknown_region": int((~ratings["行政区划"].isin(spellings)).sum()),
        "missing_rating_id": int((ratings["评价编号"] == "").sum()),
    }
    assert found == manifest["bad_rows"]["ratings"]
    data_cols = [c for c in ratings.columns if c != "file"]
    assert int(ratings.duplicated(subset=data_cols).sum()) == manifest["messy"]["ratings"]["duplicate_rows"]
    rated = set(ratings["办件编号"])
    completed = cases.loc[cases["BJZT"] == "已办结", "SBLSH"]
    coverage = completed.isin(rated).mean()
    assert 0.6 < coverage < 0.95
    assert rated <= set(cases["SBLSH"].dropna())


def test_rating_content_is_plausible(demo: tuple[Path, dict]) -> None:
    ratings = _rating_frames(demo[0] / "ratings" / "inbox")
    valid = ratings[ratings["评价等级"].isin(LEVELS)]
    bad = valid["评价等级"].isin(["不满意", "非常不满意"])
    assert bad.mean() < 0.01
    assert set(valid.loc[~bad, "整改状态"]) == {"—"}
    assert set(valid.loc[bad, "是否核实差评"]) <= {"是", "否"}
    times = valid.loc[valid["评价时间"] != "", "评价时间"]
    assert times.str.match(r"^\d{4}[-/]\d{2}[-/]\d{2}( \d{2}:\d{2}(:\d{2})?)?$").all()
    assert set(ratings["评价渠道"]) <= {"PC端", "移动端", "窗口评价器", "短信", "二维码"}


# -- hotline -------------------------------------------------------------------------------------------------

def test_hotline_view_and_bad_rows(demo: tuple[Path, dict]) -> None:
    out, manifest = demo
    with sqlite3.connect(out / "hotline.db") as conn:
        v = pd.read_sql("SELECT * FROM v_bizenv_ticket", conn)
        plan = " ".join(r[3] for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM v_bizenv_ticket WHERE updated_at >= '2026-03-01'"))
    assert "ix_t_gd_gxsj" in plan
    rx = pd.to_datetime(v["received_at"], format=TIME_FMT)
    closed = pd.to_datetime(v["closed_at"], format=TIME_FMT)
    spellings = {s for u in JINZHONG_UNITS for s in (u.code, u.name_zh)} | set(RETIRED)
    found = {
        "closed_before_received": int((closed < rx).sum()),
        "unknown_region": int((~v["region"].isin(spellings)).sum()),
        "negative_reopen_count": int((v["reopen_count"] < 0).sum()),
    }
    assert found == manifest["bad_rows"]["hotline"]
    assert set(v["status"]) <= {"待办理", "办理中", "已办结", "已回访", "重办中"}
    assert v["is_business_env"].astype(bool).eq(v["category"].str.startswith("营商环境")).all()
    assert v.loc[v["status"] == "已回访", "satisfaction"].notna().all()
    assert v["ticket_no"].is_unique


# -- county workbooks ------------------------------------------------------------------------------------------

def test_county_workbook_layout_and_totals(demo: tuple[Path, dict]) -> None:
    out, manifest = demo
    inbox = out / "county_figures" / "inbox"
    wb = load_workbook(inbox / "140728_平遥县_202603.xlsx")
    ws = wb["月报"]
    assert ws["A1"].value == "晋中市平遥县2026年3月营商环境指标月报"
    assert ws["A2"].value.startswith("填报单位：平遥县营商环境局")
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:K1", "A3:A4", "B3:D3", "E3:H3", "I3:J3"} <= merged
    assert [c.value for c in ws[5]] == ["—", "户", "户", "户", "个", "亿元", "亿元", "亿元", "个", "个", "万元"]
    malformed = {m["file"] for m in manifest["bad_rows"] and manifest["messy"]["county_figures"]["malformed"]}
    checked = 0
    for path in sorted(inbox.glob("*.xlsx")):
        if path.name in malformed:
            continue
        rows = [r for r in load_workbook(path)["月报"].iter_rows(min_row=6, values_only=True) if any(r)]
        *towns, total = rows
        assert total[0] == "合计" and 6 <= len(towns) <= 16
        for j in range(1, 11):
            assert sum(_number(r[j]) for r in towns) == pytest.approx(_number(total[j]), abs=0.011)
        checked += 1
    assert checked == manifest["counts"]["county_workbooks"] - len(malformed)


def test_county_deliveries(demo: tuple[Path, dict]) -> None:
    out, manifest = demo
    inbox = out / "county_figures" / "inbox"
    messy = manifest["messy"]["county_figures"]
    names = {p.name for p in inbox.glob("*.xlsx")}
    assert messy["missing"] == [{"code": "140721", "period": "2026-03"}]
    assert not any(n.startswith("140721_") and "202603" in n for n in names)
    (fix,) = messy["corrected"]
    assert fix["file"].endswith("_更正.xlsx") and {fix["file"], fix["replaces"]} <= names
    old = list(load_workbook(inbox / fix["replaces"]).active.iter_rows(values_only=True))
    new = list(load_workbook(inbox / fix["file"]).active.iter_rows(values_only=True))
    assert old[:1] == new[:1] and old[5:] != new[5:]
    (bad,) = messy["malformed"]
    header = [c.value for c in load_workbook(inbox / bad["file"]).active[4]]
    assert "本月新登记" not in header
    assert manifest["bad_rows"]["county_figures"] == {"negative_count": 2, "malformed_workbook": 1}
    negatives = 0
    for item in messy["negative_rows"]:
        for row in load_workbook(inbox / item["file"]).active.iter_rows(min_row=6, values_only=True):
            if row[0] == item["town"]:
                negatives += any(_number(v) < 0 for v in row[1:4])
    assert negatives == 2
