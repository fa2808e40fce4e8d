"""The county ranking (/ranking) and county profile (/county) pages: rendered layouts with every callback id
present, values checked against the marts, and the pages in headless Chromium at 1280 px and 390 px."""

from __future__ import annotations

import re
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dash
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from bizenv.i18n import LANGS, format_number, t
from dashboard.app import create_app
from dashboard.views import ranking as rviews
from models.config import PolicyEvent
from tests.conftest import DEMO_END
from tests.conftest_dashboard import all_text, as_plain, component_ids
from tests.test_dashboard_browser import CHROMIUM_ARGS, _chromium

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
PAGES = ("dashboard.pages.ranking", "dashboard.pages.county")
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}


def _page(name: str):  # noqa: ANN202 - the page module as Dash imported it for the latest app
    return sys.modules[dash.page_registry[name]["module"]]


@pytest.fixture(scope="module")
def site(demo_site):  # noqa: ANN001, ANN201
    """The demo config with a policy event inside the demo's months, and the app on the demo warehouse."""
    cfg, wh = demo_site
    event = PolicyEvent(date="2026-03-15", label_zh="测试政策事件", label_en="Test policy event")
    dashboard = cfg.dashboard.model_copy(update={"events": [*cfg.dashboard.events, event]})
    cfg = cfg.model_copy(update={"dashboard": dashboard})
    return cfg, wh, create_app(cfg, warehouse=wh, login_required=False)


def _mart(wh, sql: str, **params) -> pd.DataFrame:  # noqa: ANN001
    with wh.engine.connect() as conn:
        return pd.read_sql(text(sql), conn, params=params)


def _callback_ids(deps: list[dict]) -> set[str]:
    ids: set[str] = set()
    for dep in deps:
        outputs = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
        ids |= {o.rsplit(".", 1)[0] for o in outputs if not o.startswith("{")}
        ids |= {i["id"] for i in dep["inputs"] + dep["state"] if isinstance(i["id"], str)}
    return ids


# ---- (a) rendering ------------------------------------------------------------------------------------------------


def test_every_layout_renders_with_every_callback_id(site):
    cfg, wh, app = site
    client = app.server.test_client()
    assert client.get("/ranking").status_code == 200
    deps = client.get("/_dash-dependencies").get_json()
    wanted = {i for i in _callback_ids(deps) if i.startswith(("ranking-", "county-"))}
    assert len(wanted) > 40
    with app.server.test_request_context("/"):
        for lang in LANGS:
            queries = [{}, {"month": "2026-09", "kpi": "overdue_rate"}, {"month": "1999-01", "kpi": "nope"}]
            ids: set[str] = set(component_ids(app.layout))
            for query in queries:
                ids |= component_ids(_page("dashboard.pages.ranking").layout(lang=lang, **query))
            for query in ({}, {"region": "140728", "month": "2026-09"}, {"region": "bogus"}):
                ids |= component_ids(_page("dashboard.pages.county").layout(lang=lang, **query))
            missing = wanted - ids
            assert not missing, f"{lang}: callbacks name ids no layout has: {sorted(missing)}"


def test_layout_restores_the_query(site):
    cfg, wh, app = site
    with app.server.test_request_context("/"):
        plain = as_plain(_page("dashboard.pages.ranking").layout(lang="en", month="2026-08", kpi="overdue_rate"))
        values = _values(plain)
        assert values["ranking-month-dropdown"] == "2026-08" and values["ranking-kpi-dropdown"] == "overdue_rate"
        stale = _values(as_plain(_page("dashboard.pages.ranking").layout(lang="zh", month="1999-01")))
        assert stale["ranking-month-dropdown"] == DEMO_END  # a stale link falls back to the newest month
        county = _values(as_plain(_page("dashboard.pages.county").layout(region="140728", month="2026-09")))
        assert county["county-region-dropdown"] == "140728" and county["county-month-dropdown"] == "2026-09"


def _values(node) -> dict:  # noqa: ANN001
    found = {}

    def walk(item) -> None:  # noqa: ANN001
        if isinstance(item, dict):
            props = item.get("props")
            if isinstance(props, dict) and isinstance(props.get("id"), str) and "value" in props:
                found[props["id"]] = props["value"]
            for v in item.values():
                walk(v)
        elif isinstance(item, list):
            for v in item:
                walk(v)

    walk(node)
    return found


def test_every_text_is_in_both_languages_and_the_english_has_no_chinese(site):
    cfg, wh, app = site
    with app.server.test_request_context("/"):
        ranking, county = _page("dashboard.pages.ranking"), _page("dashboard.pages.county")
        outs = [ranking.render_labels("en", []), ranking.render_ranking(DEMO_END, "en")[:4],
                county.render_labels("en", []), county.render_profile("140702", DEMO_END, "en")[:3],
                county.render_profile("140702", DEMO_END, "en")[4:]]
        text_en = "\n".join(all_text(o) for o in outs)
    # Chinese may only appear as a glossed term in brackets, e.g. "instant items (即办件)".
    bare = re.sub(r"\([^)]*\)", "", text_en)
    assert not [ch for ch in bare if "\u4e00" <= ch <= "\u9fff"], bare[:400]


# ---- values against the marts --------------------------------------------------------------------------------------


def test_ranking_table_matches_the_mart(site):
    cfg, wh, app = site
    mart = _mart(wh, "SELECT r.region_code, r.composite, r.rank, r.rank_change, d.short_zh FROM mart_county_ranking r "
                     "JOIN dim_region d ON d.code = r.region_code WHERE period = :p ORDER BY rank, d.sort_order",
                 p=DEMO_END)
    with app.server.test_request_context("/"):
        out = _page("dashboard.pages.ranking").render_ranking(DEMO_END, "zh")
    rows = [r for r in as_plain(out[1])["props"]["children"]["props"]["children"][1]["props"]["children"]]
    assert len(rows) == len(mart) == len(cfg.unit_codes())
    for row, expected in zip(rows, mart.itertuples(), strict=True):
        cells = all_text(row).split("\n")
        assert cells[0] == str(expected.rank)
        assert cells[1] == expected.short_zh
        assert format_number(expected.composite, "score", "zh") in cells
    # 红黑榜: recomputed here from the mart's composites (top 3 / bottom 3, ties honoured).
    comp = mart["composite"].round(9)
    red = {c for c, v in zip(mart["region_code"], comp, strict=True) if (comp > v).sum() < 3}
    black = {c for c, v in zip(mart["region_code"], comp, strict=True) if (comp < v).sum() < 3} - red
    lists = all_text(out[3])
    shorts = dict(zip(mart["region_code"], mart["short_zh"], strict=True))
    red_part, black_part = lists.split(t("ranking.lists.black", "zh"), 1)
    assert all(shorts[c] in red_part for c in red) and all(shorts[c] in black_part for c in black)
    assert not any(shorts[c] in black_part for c in red)


def test_funnel_limits_and_points_match_the_mart(site):
    cfg, wh, app = site
    rows = _mart(wh, "SELECT region_code, value, numerator, denominator FROM mart_kpi_monthly "
                     "WHERE period = :p AND kpi_code = 'on_time_rate'", p=DEMO_END)
    city = rows[rows["region_code"] == cfg.city.code].iloc[0]
    rate = city["numerator"] / city["denominator"]
    with app.server.test_request_context("/"):
        _, fig = _page("dashboard.pages.ranking").render_funnel(DEMO_END, "on_time_rate", "zh")
    fig = go.Figure(fig)  # the plain JSON sent is a valid plotly figure
    points = [(float(x), float(y)) for tr in fig.data if "markers" in tr.mode
              for x, y in zip(tr.x, tr.y, strict=True)]
    counties = rows[rows["region_code"] != cfg.city.code]
    expected = sorted(zip(counties["denominator"], counties["value"] * 100, strict=True))
    assert [p[0] for p in sorted(points)] == [e[0] for e in expected]
    assert [p[1] for p in sorted(points)] == pytest.approx([e[1] for e in expected])
    city_line = next(tr for tr in fig.data if tr.name.startswith("全市"))
    assert city_line.y[0] == pytest.approx(rate * 100)
    n = 200.0
    low, high = rviews.funnel_limits(rate, np.array([n]), rviews.Z95)
    assert high[0] - rate == pytest.approx(1.959964 * (rate * (1 - rate) / n) ** 0.5)


def test_profile_matches_the_mart(site):
    cfg, wh, app = site
    code = "140728"
    rank = _mart(wh, "SELECT rank, rank_low, rank_high, composite FROM mart_county_ranking "
                     "WHERE period = :p AND region_code = :r", p=DEMO_END, r=code).iloc[0]
    value = _mart(wh, "SELECT value FROM mart_kpi_monthly WHERE period = :p AND region_code = :r "
                      "AND kpi_code = 'on_time_rate'", p=DEMO_END, r=code)["value"].iloc[0]
    with app.server.test_request_context("/"):
        out = _page("dashboard.pages.county").render_profile(code, DEMO_END, "zh")
    summary = all_text(out[1])
    assert t("county.card.rank_value", "zh", rank=int(rank["rank"]), units=11) in summary
    assert format_number(rank["composite"], "score", "zh") in summary
    assert format_number(value, "ratio", "zh") in all_text(out[6])
    radar = as_plain(out[3])
    county_trace = next(tr for tr in radar["data"] if tr["name"] == "平遥县")
    pillars = _mart(wh, "SELECT score_approval FROM mart_county_ranking WHERE period = :p AND region_code = :r",
                    p=DEMO_END, r=code)
    assert county_trace["r"][0] == pytest.approx(pillars["score_approval"].iloc[0])


def test_trend_marks_policy_events(site):
    cfg, wh, app = site
    with app.server.test_request_context("/"):
        _, fig, note = _page("dashboard.pages.county").render_trend("140702", DEMO_END, "on_time_rate", "zh")
    texts = [a["text"] for a in as_plain(fig)["layout"]["annotations"]]
    assert any("测试政策事件" in x for x in texts)
    assert "测试政策事件" in note


def test_callback_timings(site, capsys):
    """Server-side time of each callback on the demo warehouse (median and p95 of 15 calls), printed."""
    cfg, wh, app = site
    ranking, county = _page("dashboard.pages.ranking"), _page("dashboard.pages.county")
    calls = {
        "ranking.render_ranking": lambda: ranking.render_ranking(DEMO_END, "zh"),
        "ranking.render_heatmap": lambda: ranking.render_heatmap(DEMO_END, "zh"),
        "ranking.render_bump": lambda: ranking.render_bump(DEMO_END, "zh"),
        "ranking.render_funnel": lambda: ranking.render_funnel(DEMO_END, "on_time_rate", "zh"),
        "ranking.render_asof": lambda: ranking.render_asof("zh"),
        "county.render_profile": lambda: county.render_profile("140702", DEMO_END, "zh"),
        "county.render_trend": lambda: county.render_trend("140702", DEMO_END, "on_time_rate", "zh"),
        **{f"county.render_drill({table})": (lambda table=table: county.render_drill(table)("140702", DEMO_END, "zh"))
           for table in county.DRILLS},
    }
    lines = []
    with app.server.test_request_context("/"):
        for name, call in calls.items():
            call()
            times = []
            for _ in range(15):
                start = time.perf_counter()
                call()
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            lines.append(f"{name}: median {statistics.median(times):.1f} ms, p95 {times[int(0.95 * 14)]:.1f} ms")
    with capsys.disabled():
        print("\n" + "\n".join(lines))


# ---- (b) the browser ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_url(site) -> Iterator[str]:  # noqa: ANN001
    cfg, wh, _ = site
    app = create_app(cfg, warehouse=wh, login_required=False)
    app.enable_dev_tools(debug=True, dev_tools_ui=True, dev_tools_props_check=True, dev_tools_hot_reload=False,
                         dev_tools_disable_version_check=True, dev_tools_serve_dev_bundles=True)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, width: int, height: int):  # noqa: ANN001, ANN202
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def only_loopback(route) -> None:  # noqa: ANN001
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            errors.append(f"outside URL {route.request.url}")
            route.abort()

    page.route("**/*", only_loopback)
    return context, page, errors


def _shot(page, name: str) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.add_style_tag(content=".dash-debug-menu, .dash-debug-menu__outer { display: none !important; }")
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _no_dash_errors(page, errors: list[str]) -> None:  # noqa: ANN001
    assert page.locator(".dash-fe-error-item").count() == 0, "Dash showed an error overlay"
    # dashboard/tables.py passes overlayNoRowsTemplate, which dash-ag-grid blocks with a console error; that is
    # the table component's to fix (reported), not these pages'. Every other console error fails the test.
    assert not [e for e in errors if "overlayNoRowsTemplate" not in e], errors


def _fits(page, width: int) -> None:  # noqa: ANN001
    """Nothing of the page's own content sticks out of the screen (the shell's navbar is checked by its owner)."""
    right = page.evaluate("() => Math.max(...[...document.querySelectorAll('.ranking-page, .county-page')]"
                          ".map(e => e.getBoundingClientRect().left + e.scrollWidth))")
    assert right <= width, f"the page content is {right}px wide at {width}px"


def _first_county(page) -> str:  # noqa: ANN001
    return page.inner_text("#ranking-table-div tbody tr >> nth=0 >> .rk-county-link")


@pytest.mark.browser
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_ranking_and_profile_in_chromium(browser, live_url, site, device):  # noqa: ANN001
    cfg, wh, _ = site
    width, height = VIEWPORTS[device]
    context, page, errors = _open(browser, width, height)
    leader = _mart(wh, "SELECT d.short_zh, d.short_en, r.region_code FROM mart_county_ranking r JOIN dim_region d "
                       "ON d.code = r.region_code WHERE period = :p ORDER BY rank, d.sort_order", p=DEMO_END)

    # Chinese by default, newest month, the leader first in the table.
    page.goto(live_url + "/ranking")
    page.wait_for_selector("#ranking-table-div tbody tr >> nth=10")
    assert _first_county(page) == leader["short_zh"].iloc[0]
    page.wait_for_selector("#ranking-heatmap-graph .main-svg")
    page.wait_for_selector("#ranking-funnel-graph .scatterlayer .trace")
    assert "数据截至" in page.inner_text("#ranking-asof-text")
    _fits(page, width)
    _shot(page, f"ranking-{device}-zh.png")

    # A month change changes the table (the previous month's leader and heading).
    before = page.inner_text("#ranking-table-div")
    page.click("#ranking-month-dropdown")
    page.locator(".dash-dropdown-option", has_text="2026年9月").first.click()
    page.wait_for_function("() => document.querySelector('#ranking-table-heading-text').innerText.includes('9月')")
    page.wait_for_function("() => location.search.includes('month=2026-09')")
    prev = _mart(wh, "SELECT d.short_zh FROM mart_county_ranking r JOIN dim_region d ON d.code = r.region_code "
                     "WHERE period = '2026-09' ORDER BY rank, d.sort_order")
    page.wait_for_function(f"() => document.querySelector('#ranking-table-div tbody .rk-county-link').innerText"
                           f" === {prev['short_zh'].iloc[0]!r}")
    assert page.inner_text("#ranking-table-div") != before

    # Back restores the newest month; forward the chosen one.
    page.go_back()
    page.wait_for_function("() => !location.search.includes('month=2026-09')")
    page.wait_for_function("() => document.querySelector('#ranking-table-heading-text').innerText.includes('10月')")
    page.go_forward()
    page.wait_for_function("() => document.querySelector('#ranking-table-heading-text').innerText.includes('9月')")

    # The language switch changes the visible text.
    page.click("#app-lang-en-button")
    page.wait_for_function("() => document.querySelector('#ranking-heading-text').innerText === 'County ranking'")
    page.wait_for_function("() => document.querySelector('#ranking-table-heading-text').innerText.includes('Sep')")
    assert prev["short_zh"].iloc[0] not in page.inner_text("#ranking-table-div")
    _fits(page, width)
    _shot(page, f"ranking-{device}-en-sep.png")

    # A county link opens that county's profile for the same month.
    target = leader.iloc[-1]
    page.goto(live_url + "/ranking")
    page.wait_for_selector("#ranking-table-div tbody tr >> nth=10")
    page.locator("#ranking-table-div .rk-county-link", has_text=target["short_en"]).first.click()
    page.wait_for_function("() => location.pathname === '/county'")
    assert f"region={target['region_code']}" in page.url
    page.wait_for_selector("#county-summary-row .kpi-card")
    page.wait_for_selector("#county-compare-div tbody tr >> nth=5")
    assert target["short_en"] in page.inner_text("#county-heading-text")
    page.wait_for_selector("#county-trend-graph .scatterlayer .trace")
    _fits(page, width)
    _shot(page, f"county-{device}-en.png")

    # A shared URL restores its filters (a fresh page, Chinese again).
    page.click("#app-lang-zh-button")
    shared = f"{live_url}/county?region=140728&month=2026-09&kpi=overdue_rate"
    fresh = context.new_page()
    fresh.goto(shared)
    fresh.wait_for_selector("#county-summary-row .kpi-card")
    fresh.wait_for_function(_text_has("#county-heading-text", "平遥"))
    fresh.wait_for_function(_text_has("#county-trend-heading-text", "超期率"))
    assert "2026年9月" in fresh.inner_text("#county-compare-heading-text")
    fresh.wait_for_selector("#county-slowest-grid .ag-row")
    _fits(fresh, width)
    _shot(fresh, f"county-{device}-zh.png")
    fresh.goto(f"{live_url}/ranking?month=2026-08&kpi=overdue_rate")
    fresh.wait_for_function(_text_has("#ranking-funnel-heading-text", "超期率"))
    assert "2026年8月" in fresh.inner_text("#ranking-table-heading-text")
    fresh.close()

    _no_dash_errors(page, errors)
    context.close()


def _text_has(selector: str, text: str) -> str:
    """A page function: true once the element exists and its visible text holds `text`."""
    return f"() => (document.querySelector('{selector}') || {{innerText: ''}}).innerText.includes('{text}')"
