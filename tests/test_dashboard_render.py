"""The dashboard renders from a real warehouse: every callback id exists, cards show hand-checked numbers, both
languages are complete, and the page asks for nothing outside the server."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import sys
from pathlib import Path

import dash
import pandas as pd
import plotly.graph_objects as go
import pytest

from bizenv.i18n import (
    LANGS,
    MESSAGES,
    format_change,
    format_datetime,
    format_period,
    format_value,
    region_name,
    t,
    value_parts,
)
from dashboard.app import create_app
from dashboard.figures import BETTER, WORSE, county_comparison_figure
from tests.conftest_dashboard import (
    AS_OF,
    LATEST,
    PREVIOUS,
    SHORT_ZH,
    all_text,
    as_plain,
    build_warehouse,
    class_count,
    component_ids,
    dashboard_app,
    dashboard_config,
    dashboard_warehouse,
    pattern_ids,
)

__all__ = ["dashboard_app", "dashboard_config", "dashboard_warehouse"]  # fixtures used by name below

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")


def _overview():
    """The overview page module as Dash imported it for the most recent app."""
    return sys.modules[dash.page_registry["dashboard.pages.overview"]["module"]]


def _callback_ids(deps: list[dict]) -> set[str]:
    """Every component id named by the app's callbacks, from the renderer's own /_dash-dependencies.

    Pattern-matching ids come as their JSON text, e.g. '{"format":"csv","table":["MATCH"],"type":"table-download"}'.
    """
    ids: set[str] = set()
    for dep in deps:
        outputs = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
        ids |= {o.rsplit(".", 1)[0] for o in outputs}
        ids |= {i["id"] if isinstance(i["id"], str) else json.dumps(i["id"], separators=(",", ":"), sort_keys=True)
                for i in dep["inputs"] + dep["state"]}
    return ids


def _matches(pattern: dict, concrete: dict) -> bool:
    """A rendered dict id fits a callback's pattern: same keys, equal values where the pattern is not a wildcard."""
    return set(pattern) == set(concrete) and all(isinstance(v, list) or concrete[k] == v for k, v in pattern.items())


# ---- (a) every id a callback uses exists in the shell or a page -----------------------------------------------------


def test_every_callback_id_exists_in_shell_or_a_page(dashboard_app):
    client = dashboard_app.server.test_client()
    assert client.get("/").status_code == 200
    deps = client.get("/_dash-dependencies").get_json()
    assert len(deps) >= 6
    known = component_ids(dashboard_app.layout)
    with dashboard_app.server.test_request_context("/"):
        for page in dash.page_registry.values():
            layout = page["layout"]() if callable(page["layout"]) else page["layout"]
            known |= component_ids(layout)
    # Tables are rendered by callbacks (their rows follow the filters), so their pattern ids come from the table
    # component itself, rendered here for one registered table.
    from dashboard import tables

    table_id = next(iter(tables._COLUMNS))
    frame = pd.DataFrame(columns=[c.field for c in tables._COLUMNS[table_id]])
    with dashboard_app.server.test_request_context("/"):
        rendered = pattern_ids(tables.data_table(table_id=table_id, frame=frame, lang="zh"))
    assert rendered
    callback_ids = _callback_ids(deps)
    patterns = {i for i in callback_ids if i.startswith("{")}
    missing = sorted(callback_ids - patterns - known)
    missing += [p for p in sorted(patterns) if not any(_matches(json.loads(p), r) for r in rendered)]
    assert len(patterns) >= 5  # button, filters store and download target, for CSV and XLSX
    assert not missing, f"callbacks name ids that no layout has: {missing}"


def test_ids_follow_the_naming_rule(dashboard_app):
    with dashboard_app.server.test_request_context("/"):
        ids = component_ids(dashboard_app.layout) | component_ids(_overview().layout())
    ours = {i for i in ids if not i.startswith("_pages")}
    bad = [i for i in ours if not re.fullmatch(r"(app|overview)-[a-z0-9_-]+-[a-z]+", i)]
    assert not bad, bad


def test_two_apps_in_one_process_each_get_their_callbacks(dashboard_config, tmp_path):
    first, second = (create_app(dashboard_config, warehouse=build_warehouse(tmp_path / name, dashboard_config),
                                login_required=False) for name in ("a.db", "b.db"))
    for app in (first, second):
        deps = app.server.test_client().get("/_dash-dependencies").get_json()
        assert any("overview-cards-row" in d["output"] for d in deps)


# ---- (b) the overview callbacks render hand-checked numbers ---------------------------------------------------------


def test_cards_in_chinese_show_hand_checked_values(dashboard_app):
    with dashboard_app.server.test_request_context("/"):
        heading, sections, summary = _overview().render_cards(LATEST, "zh")
    text = all_text(sections)
    assert heading == "全市核心指标（2026年10月）"
    kpis = dashboard_app.server.config["BIZENV"].config.kpis
    assert len(sections) == len({k.pillar for k in kpis})  # one section per pillar
    # Every configured KPI appears once: large cards for the headline ones, a compact row for the rest.
    assert class_count(sections, "kpi-card") + class_count(sections, "kpi-row") == len(kpis)
    assert class_count(sections, "kpi-card") == 2 * len(sections)  # two headline cards per pillar
    assert len(kpis) > 2 and "—" in text  # KPIs without mart rows show "—"
    # Two KPIs have a status: on time 99.2% ≥ 98.5% met, 4.3 days > 2.0 missed.
    assert summary == "2 项有目标的指标：1 项达标，0 项接近，1 项未达标"
    for expected in ("审批时效", "按时办结率", "99.2%", "▲ +0.5 个百分点", "向好", "目标 ≥ 98.5%", "达标",
                     "平均办理时长", "4.3", "个工作日", "▼ -0.2 个工作日", "目标 ≤ 2.0 个工作日", "未达标",
                     "近12个月走势：98.7% → 99.2%", "近12个月走势：4.5 个工作日 → 4.3 个工作日",
                     "同比\n—"):  # no 2025 rows, so no YoY
        assert expected in text, (expected, text)
    assert "On-time" not in text


def test_cards_in_english_show_hand_checked_values(dashboard_app):
    with dashboard_app.server.test_request_context("/"):
        heading, sections, summary = _overview().render_cards(PREVIOUS, "en")
    text = all_text(sections)
    assert heading == "City headline indicators (Sep 2026)"
    assert summary == "2 indicators with a target: 1 met, 0 near, 1 missed"
    for expected in ("Approval", "On-time completion rate", "98.7%", "Average processing time", "4.5",
                     "working days", "MoM\n—",  # the warehouse starts in Sep 2026: no previous month
                     "Target ≥ 98.5%", "Target ≤ 2.0 working days", "met", "missed",
                     "Last 12 months: 4.5 working days → 4.5 working days"):
        assert expected in text, (expected, text)
    assert "按时办结率" not in text and "99.2%" not in text


def test_cards_through_the_dash_endpoint(dashboard_app):
    """The same render, but as the browser asks for it: a POST to /_dash-update-component."""
    payload = {
        "output": "..overview-cards-heading-text.children...overview-cards-row.children..."
                  "overview-summary-text.children..",
        "outputs": [{"id": "overview-cards-heading-text", "property": "children"},
                    {"id": "overview-cards-row", "property": "children"},
                    {"id": "overview-summary-text", "property": "children"}],
        "inputs": [{"id": "overview-month-dropdown", "property": "value", "value": LATEST},
                   {"id": "app-lang-store", "property": "data", "value": "en"}],
        "changedPropIds": ["overview-month-dropdown.value"], "state": [],
    }
    response = dashboard_app.server.test_client().post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()["response"]
    assert body["overview-cards-heading-text"]["children"] == "City headline indicators (Oct 2026)"
    text = all_text(body["overview-cards-row"]["children"])
    assert "99.2%" in text and "+0.5 pp" in text and "better" in text and "On-time completion rate" in text
    assert body["overview-summary-text"]["children"] == "2 indicators with a target: 1 met, 0 near, 1 missed"


def test_chart_puts_the_best_county_first_and_marks_the_city(dashboard_app):
    with dashboard_app.server.test_request_context("/"):
        title, fig, style = _overview().render_chart(LATEST, "on_time_rate", "zh")
    fig = go.Figure(fig)  # the plain JSON sent is a valid plotly figure: a mistyped property raises here
    assert title == "各县（市、区）对比：按时办结率（2026年10月）"
    order = list(fig.layout.yaxis.categoryarray)
    assert sorted(order) == sorted(SHORT_ZH)
    assert order[:3] == ["榆社", "祁县", "灵石"] and order[-1] == "和顺"  # 99.9%, 99.7%, 99.6% … 97.5%
    texts = {y: x for trace in fig.data for y, x in zip(trace.y, trace.text, strict=True)}
    assert texts["榆社"] == "99.9%" and texts["和顺"] == "97.5%"
    colours = {trace.marker.color: set(trace.y) for trace in fig.data}
    assert colours[BETTER] == {"榆次", "榆社", "昔阳", "祁县", "灵石"}  # at or above the city's 99.2%
    assert "和顺" in colours[WORSE]
    assert any(a.text == "全市 99.2%" for a in fig.layout.annotations)
    assert style == {"height": f"{fig.layout.height}px"}


def test_chart_in_english_uses_english_short_names(dashboard_app):
    with dashboard_app.server.test_request_context("/"):
        _, fig, _ = _overview().render_chart(LATEST, "avg_processing_days", "en")
    fig = go.Figure(fig)
    order = list(fig.layout.yaxis.categoryarray)
    assert order[0] == "Yushe" and order[-1] == "Heshun"  # 3.2 days is best, 5.6 worst
    assert any(a.text == "City 4.3" for a in fig.layout.annotations)


def test_labels_and_freshness_follow_the_language(dashboard_app):
    overview = _overview()
    options = [{"label": "x", "value": LATEST}, {"label": "y", "value": PREVIOUS}]
    with dashboard_app.server.test_request_context("/"):
        zh = overview.render_labels("zh", options)
        en = overview.render_labels("en", options)
        asof_zh, asof_en = overview.render_asof("zh"), overview.render_asof("en")
    assert len(zh) == len(en) == 13  # one per output of the labels callback
    assert zh[0] == "全市总览" and en[0] == "City overview"
    assert zh[4] == [{"label": "2026年10月", "value": LATEST}, {"label": "2026年9月", "value": PREVIOUS}]
    assert en[4][0] == {"label": "Oct 2026", "value": LATEST}
    labels = [o["label"] for o in en[5]]
    # Each indicator is named with its pillar, so the long list reads in groups.
    assert labels[:3] == ["Approval · Average processing time", "Approval · Median processing time",
                          "Approval · On-time completion rate"]
    assert labels == [f"{t(f'pillar.{k.pillar}', 'en')} · {k.name_en}"
                      for k in dashboard_app.server.config["BIZENV"].config.kpis]
    assert zh[5][2] == {"label": "审批时效 · 按时办结率", "value": "on_time_rate"}
    assert zh[9] == "蓝色为优于全市，橙色为差于全市；虚线为全市水平。"  # the county chart's note
    assert en[10] == "Composite index, last 12 months"
    assert "met" in all_text(en[12]) and "达标" in all_text(zh[12])  # the colour legend
    assert asof_zh == "数据截至 2026年11月2日 07:45"  # the failed run after it does not count
    assert asof_en == "Data as of 2 Nov 2026 07:45"


def test_layout_defaults_to_the_latest_month(dashboard_app):
    with dashboard_app.server.test_request_context("/"):
        tree = as_plain(_overview().layout())
    found = {}

    def walk(item):
        if isinstance(item, dict):
            if item.get("props", {}).get("id") in ("overview-month-dropdown", "overview-empty-alert"):
                found[item["props"]["id"]] = item["props"]
            for v in item.values():
                walk(v)
        elif isinstance(item, list):
            for v in item:
                walk(v)

    walk(tree)
    assert found["overview-month-dropdown"]["value"] == LATEST
    assert [o["value"] for o in found["overview-month-dropdown"]["options"]] == [LATEST, PREVIOUS]
    assert found["overview-empty-alert"]["is_open"] is False


def test_shell_texts_follow_the_language(dashboard_app):
    from dashboard.app import render_shell

    with dashboard_app.server.test_request_context("/"):
        zh, en = render_shell("zh"), render_shell("en")
        stale = render_shell("fr")  # an old localStorage value falls back to the configured default
    # [title, one text per nav link, zh outline, en outline, switch title, logout]
    nav = [p for p in dash.page_registry.values() if p.get("nav_key")]
    assert len(nav) >= 7 and len(zh) == len(en) == 1 + len(nav) + 4  # pages may be added
    assert zh[:2] == ["晋中市营商环境监测平台", "全市总览"] and zh[1:-4] == [t(p["nav_key"], "zh") for p in nav]
    assert en[:2] == ["Jinzhong Business Environment Monitor", "City overview"]
    assert zh[-4:-2] == [False, True] and en[-4:-2] == [True, False]
    assert zh[-1] == "退出登录" and en[-1] == "Sign out"
    assert stale == zh


@pytest.mark.parametrize("migrated", [True, False])
def test_empty_warehouse_shows_a_friendly_message(dashboard_config, tmp_path, migrated):
    if migrated:
        warehouse = build_warehouse(tmp_path / "empty.db", dashboard_config, with_rows=False)
    else:
        from models.db import Warehouse

        warehouse = Warehouse(f"sqlite:///{tmp_path / 'bare.db'}")
    app = create_app(dashboard_config, warehouse=warehouse, login_required=False)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    with app.server.test_request_context("/"):
        overview = _overview()
        tree = overview.layout()
        labels = overview.render_labels("zh", [])
        assert overview.render_cards(None, "zh") == ("", [], "")
        _, fig, _ = overview.render_chart(None, "on_time_rate", "zh")
        assert overview.render_asof("zh") == "数据截至：尚无成功的数据更新记录"
    assert "暂无数据，请先运行 ETL" in labels
    assert go.Figure(fig).layout.annotations[0].text == "暂无数据"
    assert "overview-empty-alert" in component_ids(tree)
    assert all_text(tree) is not None


# ---- offline: nothing outside the server --------------------------------------------------------------------------


def test_index_page_loads_nothing_from_outside(dashboard_app):
    html = dashboard_app.server.test_client().get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
    assert "/assets/00-bootstrap-5.3.6.min.css" in html
    for css in (DASHBOARD_DIR / "assets").glob("*.css"):
        body = css.read_text(encoding="utf-8")
        assert "@import" not in body and not re.search(r"url\((['\"]?)https?:", body), css.name


# ---- (c) the catalogue and the formatting helpers ---------------------------------------------------------------


def test_catalogue_has_every_key_in_both_languages():
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGS), key
        assert all(texts[lang].strip() for lang in LANGS), key
        fields = [set(re.findall(r"{(\w+)}", texts[lang])) for lang in LANGS]
        assert fields[0] == fields[1], f"{key}: placeholders differ between zh and en"


def test_no_ui_literal_outside_the_catalogue():
    """Chinese text in dashboard code (other than docstrings and comments) must live in i18n.MESSAGES."""
    offenders = []
    for path in DASHBOARD_DIR.rglob("*.py"):
        if path.name == "i18n.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        offenders += [f"{path.name}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)
                      and id(node) not in docstrings and CJK.search(node.value)]
    assert not offenders, offenders


@pytest.mark.parametrize(("value", "unit", "zh", "en"), [
    (0.987, "ratio", "98.7%", "98.7%"),
    (0.991, "ratio", "99.1%", "99.1%"),
    (0.99996, "ratio", "99.996%", "99.996%"),  # never rounded up to a false 100.0%
    (1.0, "ratio", "100.0%", "100.0%"),
    (4.3, "working_days", "4.3 个工作日", "4.3 working days"),
    (1234, "count", "1,234 件", "1,234"),
    (12.5, "yi_yuan", "12.50 亿元", "CNY 1.25 bn"),
    (None, "count", "—", "—"),
    (float("nan"), "ratio", "—", "—"),
])
def test_format_value(value, unit, zh, en):
    assert format_value(value, unit, "zh") == zh
    assert format_value(value, unit, "en") == en


@pytest.mark.parametrize(("change", "unit", "zh", "en"), [
    (0.004, "ratio", "+0.4 个百分点", "+0.4 pp"),
    (-0.0123, "ratio", "-1.2 个百分点", "-1.2 pp"),
    (-0.2, "working_days", "-0.2 个工作日", "-0.2 working days"),
    (-0.00001, "working_days", "+0.0 个工作日", "+0.0 working days"),  # no "-0.0"
    (15, "count", "+15 件", "+15"),
    (None, "ratio", "—", "—"),
])
def test_format_change(change, unit, zh, en):
    assert format_change(change, unit, "zh") == zh
    assert format_change(change, unit, "en") == en


def test_period_datetime_region_and_parts():
    assert format_period("2026-10", "zh") == "2026年10月"
    assert format_period("2026-01", "en") == "Jan 2026"
    assert format_datetime(dt.datetime(2026, 11, 2, 7, 45), "zh") == "2026年11月2日 07:45"
    assert format_datetime(AS_OF, "en") == "2 Nov 2026 07:45"
    row = {"name_zh": "榆次区", "name_en": "Yuci District", "short_zh": "榆次", "short_en": "Yuci"}
    assert region_name(row, "zh") == "榆次" and region_name(row, "en") == "Yuci"
    assert region_name(row, "en", short=False) == "Yuci District"
    assert value_parts(4.3, "working_days", "zh") == ("", "4.3", " 个工作日")
    assert value_parts(12.5, "yi_yuan", "en") == ("CNY ", "1.25", " bn")
    assert t("overview.asof", "xx", when="x") == "数据截至 x"  # unknown language → default
    with pytest.raises(KeyError):
        t("no.such.key", "zh")


def test_figure_builder_on_a_tiny_frame(dashboard_config):
    kpi = dashboard_config.kpi_by_code["avg_processing_days"]
    frame = pd.DataFrame({
        "region_code": ["a", "b", "c"], "name_zh": ["甲区", "乙县", "丙县"], "name_en": ["A", "B", "C"],
        "short_zh": ["甲", "乙", "丙"], "short_en": ["A", "B", "C"], "sort_order": [1, 2, 3],
        "value": [3.0, 5.0, float("nan")], "sample_size": [50, 60, 0], "city_value": [4.0, 4.0, 4.0],
    })
    fig = go.Figure(county_comparison_figure(frame, kpi, "zh"))
    by_colour = {trace.marker.color: list(trace.y) for trace in fig.data}
    assert by_colour[BETTER] == ["甲"] and by_colour[WORSE] == ["乙"]
    assert list(fig.layout.yaxis.categoryarray) == ["甲", "乙", "丙"]
    assert fig.layout.yaxis.autorange == "reversed"  # best at top
    assert fig.layout.shapes[0].x0 == 4.0 and fig.layout.shapes[0].line.dash == "dash"
    assert "Noto Sans CJK SC" in fig.layout.font.family
    assert [tr.text for tr in fig.data if tr.marker.color not in (BETTER, WORSE)][0] == ("—",)


def test_wsgi_module_exposes_a_flask_server(monkeypatch, tmp_path, dashboard_config):
    import importlib

    import flask

    build_warehouse(tmp_path / "wsgi.db", dashboard_config)
    monkeypatch.setenv("BIZENV_DATABASE_URL", f"sqlite:///{tmp_path / 'wsgi.db'}")
    monkeypatch.setenv("BIZENV_SECRET_KEY", "0123456789abcdef" * 4)  # production refuses to start without one
    wsgi = importlib.reload(importlib.import_module("dashboard.wsgi"))
    assert isinstance(wsgi.server, flask.Flask)
    client = wsgi.server.test_client()
    response = client.get("/")  # the production entry point requires a login
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login = client.get("/login")
    assert login.status_code == 200 and "晋中市营商环境监测平台" in login.get_data(as_text=True)


@pytest.mark.parametrize(("value", "target", "unit", "shown"), [
    (2.04, 2.0, "working_days", "2.04"),       # misses a 2.0 target: must not read "2.0"
    (2.0, 2.0, "working_days", "2.0"),         # exactly on target: no extra digits
    (3.1, 2.0, "working_days", "3.1"),         # clearly apart: the usual one decimal
    (0.98496, 0.985, "ratio", "98.496%"),      # 98.5% would hide the miss
])
def test_values_next_to_a_target_keep_the_digits_that_show_the_miss(value, target, unit, shown) -> None:
    from bizenv.i18n import format_number

    assert format_number(value, unit, "zh", distinct_from=target) == shown
