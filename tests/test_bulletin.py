"""The monthly bulletin (issue 7): every output opened and checked against the marts, the archive, the scheduled
job and county scope. One city and one county edition are built once for the module (one chart browser)."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import openpyxl
import pytest
from docx import Document
from PIL import Image

from bizenv.bulletin import BulletinAccessDenied, build_bulletin, generate_bulletins, list_archive, open_archived
from bizenv.bulletin.charts import ChartExporter, find_chrome
from bizenv.bulletin.command import run_report
from bizenv.bulletin.errors import FontMissing
from bizenv.bulletin.pdf import FONT_PATH, register_font
from bizenv.bulletin.scheduled import CATCH_UP_JOB_ID, JOB_ID, add_bulletin_job, bulletin_schedule, missed_period
from bizenv.i18n import describe_alert, format_number
from models.alerts import kpi_alerts
from models.config import Config
from models.db import Warehouse
from models.kpis import read_kpi_monthly
from models.migrate import prepare_warehouse
from models.ranking import read_county_ranking
from models.scope import Viewer
from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parent.parent
PERIOD = "2026-10"
CITY, PINGYAO, YUCI = "140700", "140728", "140702"
GENERATED = dt.datetime(2026, 11, 3, 8, 0)
TOOLS = all(shutil.which(x) for x in ("pdftotext", "pdffonts", "pdftoppm"))
needs_pdf = pytest.mark.skipif(not (TOOLS and FONT_PATH.is_file() and find_chrome()),
                               reason="needs poppler-utils, fonts-wqy-microhei and chromium (make test installs them)")


@pytest.fixture(scope="module")
def site(demo_site, tmp_path_factory) -> tuple[Config, Warehouse]:
    """A private copy of the demo warehouse (the session one is read-only) with the archive in a temp folder."""
    cfg, wh = demo_site
    folder = tmp_path_factory.mktemp("bulletin")
    target = folder / "warehouse.db"
    with sqlite3.connect(wh.engine.url.database) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    config = cfg.model_copy(update={
        "bulletin": cfg.bulletin.model_copy(update={"archive_dir": str(folder / "reports")}),
        "warehouse": cfg.warehouse.model_copy(update={"url": f"sqlite:///{target}"})})
    copy = Warehouse(f"sqlite:///{target}")
    prepare_warehouse(warehouse=copy, config=config)
    yield config, copy
    copy.dispose()


@pytest.fixture(scope="module")
def built(site):
    """The city edition in three formats and Pingyao's edition in PDF, with one chart browser for both."""
    config, wh = site
    if not find_chrome():  # under CI a missing browser is a broken set-up, not a reason to skip
        (pytest.fail if IN_CI else pytest.skip)("no Chrome/Chromium (make test installs Debian's chromium)")
    with ChartExporter() as exporter, wh.session() as session:
        city = build_bulletin(session=session, config=config, period=PERIOD, formats=["pdf", "xlsx", "docx"],
                              exporter=exporter, generated_at=GENERATED)
        county = build_bulletin(session=session, config=config, period=PERIOD, region_code=PINGYAO,
                                formats=["pdf", "xlsx", "docx"], exporter=exporter, generated_at=GENERATED)
    return city, county


def _mart(wh: Warehouse, region: str, kpi: str) -> float:
    with wh.session() as s:
        frame = read_kpi_monthly(session=s, viewer=Viewer.city_wide(), kpi_codes=[kpi], periods=[PERIOD],
                                 region_codes=[region])
    return float(frame["value"].iloc[0])


def _pdf_text(data: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(label))


@needs_pdf
def test_pdf_holds_chinese_headings_and_the_marts_numbers(site, built, tmp_path: Path) -> None:
    config, wh = site
    city, county = built
    text = _pdf_text(city.files["pdf"], tmp_path, "city")
    for heading in ("一、总体情况", "二、全市核心指标", "三、县（市、区）综合排名", "四、红黑榜", "五、预警事项",
                    "六、各县（市、区）情况", "七、数据说明", "晋中市营商环境监测月度通报"):
        assert heading in text
    assert all(u.name_zh in text for u in config.city.units)  # one page per county
    processing = _mart(wh, CITY, "avg_processing_days")
    assert format_number(processing, "working_days", "zh") in _line(text, "平均办理时长（工作日）").split()
    on_time = _mart(wh, CITY, "on_time_rate")
    assert _line(text, "按时办结率").split()[1] == format_number(on_time, "ratio", "zh")
    assert re.search(r"第 2 页 / 共 \d+ 页\s+生成于 2026年11月3日 08:00", text)
    for english in ("Rank", "City", "Yuci", "Target", "None", "nan"):
        assert not re.search(rf"\b{english}\b", text), english

    county_text = _pdf_text(county.files["pdf"], tmp_path, "county")
    value = _mart(wh, PINGYAO, "on_time_rate")
    assert "各县（市、区）情况" not in county_text
    own_page = county_text.split("六、平遥县情况")[1]
    assert _line(own_page, "按时办结率").split()[1] == format_number(value, "ratio", "zh")


@needs_pdf
def test_pdf_embeds_the_cjk_font_and_no_page_is_blank(built, tmp_path: Path) -> None:
    city, county = built
    for name, data in (("city", city.files["pdf"]), ("county", county.files["pdf"])):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(data)
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
        rows = fonts.splitlines()[2:]
        assert rows and all(" yes " in f" {r} " for r in rows), fonts  # every font embedded
        assert any("WenQuanYiMicroHei" in r for r in rows), fonts
        subprocess.run(["pdftoppm", "-r", "20", "-png", str(path), str(tmp_path / name)], check=True)
        pages = sorted(tmp_path.glob(f"{name}-*.png"))
        assert len(pages) >= 5
        for page in pages:
            with Image.open(page) as image:
                dark = sum(image.convert("L").point(lambda v: v < 200 and 255).histogram()[255:])
            assert dark > 150, f"{page.name} looks blank"


@needs_pdf
def test_render_one_city_page_and_one_county_page_for_review(built, tmp_path: Path) -> None:
    """test-output/ gets a city page (the ranking) and a county page, for a person to look at."""
    city, county = built
    out = REPO / "test-output"
    out.mkdir(exist_ok=True)
    for name, data, heading in (("bulletin-city", city.files["pdf"], "三、县（市、区）综合排名"),
                                ("bulletin-county", county.files["pdf"], "六、平遥县情况")):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(data)
        pages = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split("\f")
        page = next(i for i, text in enumerate(pages, start=1) if heading in text)
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(page), "-l", str(page), str(path),
                        str(out / name)], check=True)
        assert (out / f"{name}.png").stat().st_size > 20_000


def test_xlsx_values_equal_the_marts(site, built) -> None:
    config, wh = site
    city, _ = built
    book = openpyxl.load_workbook(io.BytesIO(city.files["xlsx"]))
    assert book.sheetnames[:5] == ["通报正文", "全市核心指标", "县（市、区）综合排名", "红黑榜", "预警事项"]
    assert {u.short_zh for u in config.city.units} <= set(book.sheetnames)
    sheet = book["全市核心指标"]
    assert sheet.freeze_panes == "B2"
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    on_time = rows["按时办结率"]
    assert on_time[1].value == pytest.approx(_mart(wh, CITY, "on_time_rate"), abs=1e-12)
    assert on_time[1].number_format == "0.0%"
    assert rows["平均办理时长（工作日）"][1].value == pytest.approx(_mart(wh, CITY, "avg_processing_days"))
    assert rows["平均办理时长（工作日）"][1].number_format == "0.0"
    with wh.session() as s:
        ranking = read_county_ranking(session=s, config=config, period=PERIOD)
    sheet = book["县（市、区）综合排名"]
    got = {r[1].value: (r[0].value, r[2].value) for r in sheet.iter_rows(min_row=2)}
    for r in ranking.itertuples():
        assert got[r.name_zh] == (r.rank, pytest.approx(r.composite))
    pingyao = {r[0].value: r[1].value for r in book["平遥"].iter_rows(min_row=2)}
    assert pingyao["按时办结率"] == pytest.approx(_mart(wh, PINGYAO, "on_time_rate"))


def test_docx_has_real_headings_tables_and_pictures(site, built) -> None:
    _, wh = site
    city, _ = built
    document = Document(io.BytesIO(city.files["docx"]))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings[:3] == ["一、总体情况", "二、全市核心指标", "三、县（市、区）综合排名"]
    assert "平遥县" in [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    headline = document.tables[0]
    assert [c.text for c in headline.rows[0].cells][:3] == ["指标", "本月", "上月"]
    row = next(r for r in headline.rows if r.cells[0].text == "按时办结率")
    assert row.cells[1].text == format_number(_mart(wh, CITY, "on_time_rate"), "ratio", "zh")
    assert len(document.inline_shapes) >= 3


def test_summary_numbers_are_the_marts(site, built) -> None:
    config, wh = site
    city, county = built
    first = city.bulletin.summary[0]
    assert first.startswith("2026年10月，全市平均办理时长")
    days = float(re.search(r"平均办理时长([\d.]+) 个工作日", first).group(1))
    assert days == round(_mart(wh, CITY, "avg_processing_days"), 1)
    rate = float(re.search(r"按时办结率([\d.]+)%", first).group(1))
    assert rate == round(_mart(wh, CITY, "on_time_rate") * 100, 1)
    text = "".join(city.bulletin.summary)
    assert "综合排名前3位为" in text and ("未达到年度目标" in text or "均达到" in text)
    county_rate = float(re.search(r"按时办结率([\d.]+)%", county.bulletin.summary[0]).group(1))
    assert county_rate == round(_mart(wh, PINGYAO, "on_time_rate") * 100, 1)


def test_county_edition_shows_no_other_countys_case_level_detail(site, built) -> None:
    config, wh = site
    _, county = built
    b = county.bulletin
    assert {h.text for h in b.blocks if type(h).__name__ == "Heading" and h.level == 2} == set()
    assert [k for k in b.figures if k.startswith("scores_")] == [f"scores_{PINGYAO}"]
    with wh.session() as s:
        others = [a for a in kpi_alerts(session=s, config=config, period=PERIOD) if a.region_code != PINGYAO]
    alert_texts = [describe_alert(a, "zh", config) for a in others]
    book = openpyxl.load_workbook(io.BytesIO(county.files["xlsx"]))
    cells = {str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value is not None}
    assert not set(alert_texts) & cells
    assert "榆次" not in book.sheetnames and "平遥" in book.sheetnames


def test_english_edition_speaks_english(site) -> None:
    config, wh = site
    with wh.session() as session:
        built = build_bulletin(session=session, config=config, period=PERIOD, lang="en", formats=["xlsx"])
    summary = " ".join(built.bulletin.summary)
    assert summary.startswith("In Oct 2026, average processing time was")
    assert not re.search(r"[\u4e00-\u9fff]", summary)
    assert built.bulletin.title == "Jinzhong Business Environment Monthly Bulletin"


def test_rebuilding_a_month_makes_a_new_version_and_keeps_the_first_file(site) -> None:
    config, wh = site
    first = generate_bulletins(warehouse=wh, config=config, period=PERIOD, region_codes=[YUCI], formats=["xlsx"])
    with wh.session() as s:
        original = open_archived(session=s, viewer=Viewer.city_wide(), report_id=first[0].id, config=config)
    second = generate_bulletins(warehouse=wh, config=config, period=PERIOD, region_codes=[YUCI], formats=["xlsx"])
    assert (first[0].version, second[0].version) == (1, 2)
    with wh.session() as s:
        versions = list_archive(session=s, viewer=Viewer.city_wide(), period=PERIOD, region_code=YUCI, fmt="xlsx")
        again = open_archived(session=s, viewer=Viewer.city_wide(), report_id=first[0].id, config=config)
    assert [v.version for v in versions] == [2, 1]
    assert again.content == original.content and again.path == original.path
    assert again.entry.checksum == first[0].checksum and again.path.name.endswith("_v1.xlsx")


def test_scheduled_job_writes_all_twelve_editions(site) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    config, wh = site
    assert bulletin_schedule(config) == "0 8 3 * *"
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    assert add_bulletin_job(scheduler=scheduler, config=config, warehouse=wh)
    job = next(j for j in scheduler.get_jobs() if j.id == JOB_ID)
    entries = job.func(**job.kwargs, today=dt.date(2026, 11, 3), formats=["xlsx"])
    assert sorted(e.region_code for e in entries) == sorted([CITY, *config.unit_codes()])
    assert {(e.period, e.format, e.trigger) for e in entries} == {(PERIOD, "xlsx", "scheduler")}
    root = Path(config.bulletin.archive_dir)
    assert all((root / e.period / e.region_code / e.filename).is_file() for e in entries)


def test_a_scheduler_down_at_the_monthly_fire_builds_that_month_once_when_it_starts(site) -> None:
    """Missed fire (the scheduler was stopped on the 3rd): the next start builds the month at once, and only once."""
    from apscheduler.schedulers.background import BackgroundScheduler

    config, wh = site
    started = dt.datetime(2026, 10, 10, 9, 0)  # the fire at 08:00 on 3 October, for September, never ran
    assert missed_period(config=config, warehouse=wh, now=dt.datetime(2026, 10, 3, 7, 59)) == "2026-08"
    assert missed_period(config=config, warehouse=wh, now=started) == "2026-09"
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    assert add_bulletin_job(scheduler=scheduler, config=config, warehouse=wh, now=started)
    catch_up = next(j for j in scheduler.get_jobs() if j.id == CATCH_UP_JOB_ID)
    assert catch_up.kwargs["period"] == "2026-09"
    entries = catch_up.func(**catch_up.kwargs, formats=["xlsx"])
    assert {(e.period, e.trigger) for e in entries} == {("2026-09", "scheduler")} and len(entries) == 12
    assert missed_period(config=config, warehouse=wh, now=started) is None
    assert catch_up.func(**catch_up.kwargs, formats=["xlsx"]) == []  # a second scheduler, or the same one again
    with wh.session() as s:
        assert len(list_archive(session=s, viewer=Viewer.city_wide(), period="2026-09")) == 12
    again = BackgroundScheduler(timezone="Asia/Shanghai")
    add_bulletin_job(scheduler=again, config=config, warehouse=wh, now=started)
    assert [j.id for j in again.get_jobs()] == [JOB_ID]


def test_a_county_viewer_cannot_open_another_edition(site) -> None:
    config, wh = site
    entries = generate_bulletins(warehouse=wh, config=config, period=PERIOD, region_codes=[CITY, PINGYAO, YUCI],
                                 formats=["xlsx"])
    by_region = {e.region_code: e for e in entries}
    pingyao = Viewer(role="county", region_code=PINGYAO)
    with wh.session() as s:
        assert {e.region_code for e in list_archive(session=s, viewer=pingyao)} == {PINGYAO}
        assert open_archived(session=s, viewer=pingyao, report_id=by_region[PINGYAO].id, config=config).content
        for other in (CITY, YUCI):
            with pytest.raises(BulletinAccessDenied) as denied:
                open_archived(session=s, viewer=pingyao, report_id=by_region[other].id, config=config)
            assert isinstance(denied.value, PermissionError)
        with pytest.raises(PermissionError):
            build_bulletin(session=s, config=config, period=PERIOD, region_code=YUCI, viewer=pingyao,
                           formats=["xlsx"])


def test_report_command_explains_a_missing_browser(site, monkeypatch, capsys) -> None:
    config, wh = site
    monkeypatch.setattr("bizenv.bulletin.charts.find_chrome", lambda: None)
    code = run_report(warehouse=wh, config=config, month=PERIOD, region="平遥", formats="pdf", out=None, lang=None)
    err = capsys.readouterr().err
    assert code == 2 and "plotly_get_chrome" in err and "apt-get install chromium" in err
    assert "Traceback" not in err


def test_report_command_refuses_an_unknown_month_and_format(site, capsys) -> None:
    config, wh = site
    assert run_report(warehouse=wh, config=config, month="2030-01", region=None, formats="xlsx", out=None,
                      lang=None) == 2
    assert run_report(warehouse=wh, config=config, month=PERIOD, region=None, formats="pdf,xls", out=None,
                      lang=None) == 2
    err = capsys.readouterr().err
    assert "No KPI data for 2030-01" in err and "unknown format" in err


def test_a_missing_font_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(FontMissing, match="fonts-wqy-microhei"):
        register_font(str(tmp_path / "nowhere.ttc"))


def test_archive_on_each_engine(warehouse: Warehouse, config: Config, tmp_path: Path) -> None:
    """The archive table and its versioning work alike on SQLite and PostgreSQL."""
    from bizenv.bulletin.archive import archive_file

    cfg = config.model_copy(update={"bulletin": config.bulletin.model_copy(update={"archive_dir": str(tmp_path)})})
    with warehouse.session() as s:
        for content in (b"first", b"second"):
            archive_file(session=s, config=cfg, period=PERIOD, region_code=YUCI, fmt="pdf", lang="zh",
                         content=content, data_as_of=None, generated_at=GENERATED)
    with warehouse.session() as s:
        entries = list_archive(session=s, viewer=Viewer(role="county", region_code=YUCI), period=PERIOD)
        assert [(e.version, e.size_bytes) for e in entries] == [(2, 6), (1, 5)]
        assert open_archived(session=s, viewer=Viewer.city_wide(), report_id=entries[1].id,
                             config=cfg).content == b"first"
        assert list_archive(session=s, viewer=Viewer(role="county", region_code=PINGYAO)) == []
