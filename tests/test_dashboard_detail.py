"""The approvals (审批时效) and ratings/hotline (好差评与12345) pages on the session's small demo warehouse.

1. Rendering: every layout in both languages, every id the pages' callbacks name exists, every callback runs and
   its texts are in the reader's language; server-side callback times are printed (pytest -s) for the report.
2. Headless Chromium at 1280 and 390 px: no console or callback errors, the language switch, a filter change that
   changes the figures and tables, a shared URL that restores its filters, back/forward, and a CSV download that
   holds only the rows of the (county) viewer the server knows. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dash
import pytest
from werkzeug.serving import make_server

from bizenv.bench.browser import CHROMIUM_ARGS
from dashboard.app import create_app
from models.scope import Viewer
from tests.conftest import DEMO_END
from tests.conftest_dashboard import all_text, as_plain, component_ids

PAGES = {"approvals": "dashboard.pages.approvals", "service": "dashboard.pages.service"}
CJK = re.compile(r"[\u3400-\u9fff]")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
YUCI, TAIGU = "140702", "140703"


def _module(name: str):  # noqa: ANN202
    return sys.modules[dash.page_registry[PAGES[name]]["module"]]


@pytest.fixture(scope="module")
def app(demo_site):  # noqa: ANN001, ANN201
    cfg, wh = demo_site
    return create_app(cfg, warehouse=wh, login_required=False)


def _callback_ids(deps: list[dict]) -> set[str]:
    ids: set[str] = set()
    for dep in deps:
        outputs = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
        ids |= {o.rsplit(".", 1)[0] for o in outputs}
        ids |= {i["id"] for i in dep["inputs"] + dep["state"]}
    return {i for i in ids if i.startswith(("approvals-", "service-"))}


# ---- 1. rendering -------------------------------------------------------------------------------------------------


def test_layouts_have_every_callback_id_in_both_languages(app):  # noqa: ANN001
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    wanted = _callback_ids(deps)
    assert {"approvals-dist-graph", "approvals-overdue-div", "service-levels-graph", "service-cat-graph"} <= wanted
    with app.server.test_request_context("/"):
        for lang in ("zh", "en"):
            known: set[str] = set()
            for name in PAGES:
                known |= component_ids(_module(name).layout(lang=lang))
            missing = wanted - known
            assert not missing, f"{lang}: callbacks name ids no layout has: {sorted(missing)}"
            bad = sorted(i for i in known if i.split("-")[0] in PAGES and not re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", i))
            assert not bad, bad


def _approvals_calls(m, f: dict, lang: str) -> dict:  # noqa: ANN001
    return {
        "labels": lambda: m.render_labels(lang, [{"value": f["end"]}, {"value": f["start"]}]),
        "asof": lambda: m.render_asof(lang),
        "distribution": lambda: m.render_distribution(f["region"], f["start"], f["end"], None, None, lang),
        "trends": lambda: m.render_trends(f["region"], f["start"], f["end"], lang),
        "overdue": lambda: m.render_overdue(f["region"], f["end"], None, None, lang),
        "items": lambda: m.render_items(f["region"], f["start"], f["end"], None, None, "time", lang),
    }


def _service_calls(m, f: dict, lang: str) -> dict:  # noqa: ANN001
    return {
        "labels": lambda: m.render_labels(lang, [{"value": f["end"]}]),
        "asof": lambda: m.render_asof(lang),
        "cards": lambda: m.render_cards(f["region"], f["end"], lang),
        "ratings": lambda: m.render_ratings(f["region"], f["start"], f["end"], lang),
        "unrectified": lambda: m.render_unrectified(f["region"], f["end"], lang),
        "categories": lambda: m.render_categories(f["region"], f["start"], f["end"], lang),
    }


def test_every_callback_renders_in_both_languages_and_is_timed(app, demo_site):  # noqa: ANN001
    cfg, _ = demo_site
    timings: dict[str, list[float]] = {}
    texts: dict[str, str] = {}
    with app.server.test_request_context("/"):
        for lang in ("zh", "en"):
            for name, calls in (("approvals", _approvals_calls), ("service", _service_calls)):
                for region in (cfg.city.code, YUCI):
                    f = {"region": region, "start": "2026-05", "end": DEMO_END}
                    for key, call in calls(_module(name), f, lang).items():
                        started = time.perf_counter()
                        out = call()
                        timings.setdefault(f"{name}.{key}", []).append((time.perf_counter() - started) * 1000)
                        texts[f"{name}.{key}.{lang}"] = all_text(as_plain(out))
    for key in ("approvals.labels", "approvals.distribution", "service.labels", "service.cards"):
        assert CJK.search(texts[f"{key}.zh"]), key
        assert not CJK.search(texts[f"{key}.en"].replace("好差评", "")), (key, texts[f"{key}.en"][:300])
    assert "Approval times" in texts["approvals.labels.en"] and "审批时效" in texts["approvals.labels.zh"]
    assert "working days" in texts["approvals.distribution.en"]
    print("\nserver-side callback times on the demo warehouse (ms): median / p95 / max")
    for key, values in sorted(timings.items()):
        p95 = sorted(values)[max(0, int(len(values) * 0.95) - 1)]
        print(f"  {key:28s} {statistics.median(values):7.1f} {p95:7.1f} {max(values):7.1f}")


def test_a_bad_url_falls_back_to_defaults(app):  # noqa: ANN001
    with app.server.test_request_context("/"):
        layout = _module("approvals").layout(lang="zh", region="<script>", start="2026-99", dept="x", order="zz")
        plain = as_plain(layout)
        text = all_text(plain)
    assert "<script>" not in text


# ---- 2. in Chromium -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_url(demo_site) -> Iterator[str]:  # noqa: ANN001
    # Its own app: Flask refuses dev tools' setup on an app that has served a request (the rendering tests above).
    cfg, wh = demo_site
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
    from tests.test_dashboard_browser import _chromium

    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page(browser, device: str, errors: list[str]):  # noqa: ANN001, ANN202
    width, height = VIEWPORTS[device]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname in
               ("127.0.0.1", "localhost") else route.abort())
    return context, page


def _screenshot(page, name: str) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.add_style_tag(content=".dash-debug-menu, .dash-debug-menu__outer { display: none !important; }")
    page.wait_for_timeout(400)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _no_errors(page, errors: list[str], width: int) -> None:  # noqa: ANN001
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "the page is wider than the screen"
    assert page.locator(".dash-fe-error-item").count() == 0, "Dash showed a callback error"
    assert not errors, errors


def _graph_data(page, graph_id: str) -> str:  # noqa: ANN001
    return page.evaluate(f"""() => {{ const p = document.querySelector('#{graph_id} .js-plotly-plot');
        return p && p.data ? JSON.stringify(p.data.map(t => [t.x, t.y])) : ''; }}""")


def _wait_graph(page, graph_id: str) -> None:  # noqa: ANN001
    page.wait_for_function(f"""() => {{ const p = document.querySelector('#{graph_id} .js-plotly-plot');
        return p && p.data && p.data.length > 0; }}""")


def _pick(page, dropdown_id: str, option_text: str) -> None:  # noqa: ANN001
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option_text, exact=True).click()


@pytest.mark.browser
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_approvals_in_chromium(browser, live_url, device, monkeypatch):  # noqa: ANN001
    width = VIEWPORTS[device][0]
    errors: list[str] = []
    context, page = _page(browser, device, errors)
    page.goto(live_url + "/approvals")
    page.wait_for_selector("#approvals-overdue-div .ag-row")
    _wait_graph(page, "approvals-dist-graph")
    _wait_graph(page, "approvals-trend1-graph")
    assert "审批时效" in page.inner_text("#approvals-heading-text")
    assert "数据截至" in page.inner_text("#approvals-asof-text")
    _no_errors(page, errors, width)
    _screenshot(page, f"approvals-{device}-zh.png")

    # English, then a filter change: Yuci only. The URL gets the filter, the figure and the table change.
    page.click("#app-lang-en-button")
    page.wait_for_function("() => document.querySelector('#approvals-heading-text').innerText === 'Approval times'")
    page.wait_for_function("() => document.querySelector('#approvals-dist-heading-text').innerText"
                           ".includes('Whole city')")
    city_dist = _graph_data(page, "approvals-dist-graph")
    city_count = page.inner_text("#approvals-overdue-count-text")
    _pick(page, "approvals-region-dropdown", "Yuci District")
    page.wait_for_function("() => document.querySelector('#approvals-dist-heading-text').innerText.includes('Yuci')")
    page.wait_for_function("() => document.querySelector('#approvals-overdue-heading-text').innerText"
                           ".includes('Yuci')")
    page.wait_for_function(f"() => location.search.includes('region={YUCI}')")
    assert _graph_data(page, "approvals-dist-graph") != city_dist
    assert page.inner_text("#approvals-overdue-count-text") != city_count
    _screenshot(page, f"approvals-{device}-en-yuci.png")

    # Back returns to the whole city; forward to Yuci.
    page.go_back()
    page.wait_for_function("() => document.querySelector('#approvals-dist-heading-text') && document.querySelector("
                           "'#approvals-dist-heading-text').innerText.includes('Whole city')")
    page.go_forward()
    page.wait_for_function("() => document.querySelector('#approvals-dist-heading-text') && document.querySelector("
                           "'#approvals-dist-heading-text').innerText.includes('Yuci')")

    # A shared link restores every filter in a fresh tab.
    shared = f"{live_url}/approvals?region={TAIGU}&start=2026-08&end=2026-09&channel=online&order=compression"
    other = context.new_page()
    other.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    other.goto(shared)
    other.wait_for_function("() => document.querySelector('#approvals-dist-heading-text') && document.querySelector("
                            "'#approvals-dist-heading-text').innerText.includes('Taigu')")  # null until the page paints
    heading = other.inner_text("#approvals-dist-heading-text")
    assert "Aug 2026 to Sep 2026" in heading, heading
    assert other.is_checked("#approvals-order-radio input[value='compression']")
    assert "Online" in other.inner_text("#approvals-channel-dropdown")
    query = parse_qs(urlparse(other.url).query)
    assert query["region"] == [TAIGU] and query["channel"] == ["online"]
    other.close()

    # Downloads are re-read on the server for the viewer it knows: a county bureau (榆次) gets only its rows even
    # though the page in the browser shows the whole city.
    page.goto(live_url + "/approvals")
    page.wait_for_selector("#approvals-overdue-div .ag-row")
    import dashboard.tables as tables

    monkeypatch.setattr(tables, "current_viewer", lambda: Viewer(role="county", region_code=YUCI))
    with page.expect_download() as info:
        page.click("#approvals-overdue-div button:has-text('CSV')")
    body = Path(info.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows, "the download is empty"
    region_header = next(h for h in rows[0] if h in ("Area", "区域"))
    assert {r[region_header] for r in rows} == {"Yuci District"}, {r[region_header] for r in rows}
    monkeypatch.undo()

    page.click("#app-lang-zh-button")
    page.wait_for_function("() => document.querySelector('#approvals-heading-text').innerText === '审批时效'")
    _no_errors(page, errors, width)
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_service_in_chromium(browser, live_url, device):  # noqa: ANN001
    width = VIEWPORTS[device][0]
    errors: list[str] = []
    context, page = _page(browser, device, errors)
    page.goto(live_url + "/service")
    page.wait_for_selector("#service-hotline-row .kpi-card")
    page.wait_for_selector("#service-unrect-div .ag-root")
    for graph in ("service-levels-graph", "service-rect-graph", "service-cat-graph"):
        _wait_graph(page, graph)
    assert "好差评" in page.inner_text("#service-heading-text")
    _no_errors(page, errors, width)
    _screenshot(page, f"service-{device}-zh.png")

    # The definition of a KPI is one tap away.
    page.locator("#service-hotline-row .detail-help-button").first.click()
    page.wait_for_selector(".detail-help-popover")
    page.keyboard.press("Escape")
    page.locator("#service-hotline-row .detail-help-button").first.click()

    page.click("#app-lang-en-button")
    page.wait_for_function("() => document.querySelector('#service-heading-text').innerText"
                           ".includes('Ratings and the 12345 hotline')")
    page.wait_for_function("() => document.querySelector('#service-hotline-heading-text').innerText"
                           ".includes('Oct 2026')")
    cards = page.inner_text("#service-hotline-row")
    levels = _graph_data(page, "service-levels-graph")
    _pick(page, "service-end-dropdown", "Aug 2026")
    page.wait_for_function("() => document.querySelector('#service-hotline-heading-text').innerText"
                           ".includes('Aug 2026')")
    page.wait_for_function("() => location.search.includes('end=2026-08')")
    page.wait_for_function(f"() => document.querySelector('#service-hotline-row').innerText !== {cards!r}")
    assert _graph_data(page, "service-levels-graph") != levels
    _screenshot(page, f"service-{device}-en-aug.png")

    page.reload()
    page.wait_for_function("() => document.querySelector('#service-hotline-heading-text') && document.querySelector("
                           "'#service-hotline-heading-text').innerText.includes('Aug 2026')")
    _no_errors(page, errors, width)
    context.close()
