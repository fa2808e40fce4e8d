"""City overview (全市总览): the month's KPIs by pillar, the composite index, a county map, alerts, a comparison.

A leader on a phone reads, top to bottom: how many targets are met, each pillar's key indicators (value, target
status, MoM/YoY, 12-month trend), then where the counties stand. Filters (month, indicator) live in the URL.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html
from plotly.graph_objects import Figure

from bizenv.i18n import (
    DEFAULT_LANG,
    describe_alert,
    dropdown_labels,
    format_datetime,
    format_period,
    name_in,
    t,
)
from dashboard.components import pillar_section, status_legend
from dashboard.context import FACTS, cached_read, current_config, current_lang, current_viewer
from dashboard.figures import (
    composite_trend_figure,
    county_choropleth,
    county_comparison_figure,
    county_tile_map,
    empty_figure,
    figure_height,
    load_geojson,
)
from dashboard.urlstate import register_url_sync, restore, url_location
from models.alerts import kpi_alerts
from models.config import PILLARS, Config, KpiDefinition
from models.kpis import available_periods, county_comparison, current_period, data_as_of
from models.ops_reads import composite_trend, kpi_snapshots

LANG = "app-lang-store"  # the shell's language store, see dashboard/app.py
GRAPH_CONFIG = {"displayModeBar": False, "displaylogo": False, "scrollZoom": False}
# The key indicators shown as large cards, per pillar; the others are listed compactly under them. A code missing
# from config is skipped, and a pillar with none of these shows its first indexed KPIs instead.
HEADLINE = {
    "approval": ("on_time_rate", "avg_processing_days"),
    "ratings": ("positive_rate", "bad_reviews_per_10k"),
    "hotline": ("hotline_satisfaction_rate", "hotline_on_time_closure_rate"),
    "county_development": ("market_entities_new", "funds_in_place_rate"),
}
ALERTS_SHOWN = 5

dash.register_page(__name__, path="/", order=0, name=t("nav.overview", DEFAULT_LANG),
                   title=t("overview.title", DEFAULT_LANG), nav_key="nav.overview")


# ---- reads (through models, cached per data version) ------------------------------------------------------------


def periods_newest_first() -> list[str]:
    """Completed months with KPI values, newest first: a month still running would mislead at a glance."""
    running = current_period(current_config().timezone)
    return cached_read("overview.periods", available_periods, default=[], version=FACTS, shared=True,
                       viewer=current_viewer(), before=running)[::-1]


def pillar_kpis(config: Config) -> dict[str, list[KpiDefinition]]:
    """Each pillar's KPIs, headline ones first (in HEADLINE order), then the rest in config order."""
    out: dict[str, list[KpiDefinition]] = {}
    for pillar in PILLARS:
        kpis = [k for k in config.kpis if k.pillar == pillar]
        if not kpis:
            continue
        top = [config.kpi_by_code[c] for c in HEADLINE.get(pillar, ()) if c in config.kpi_by_code]
        top = top or [k for k in kpis if k.index][:2] or kpis[:2]
        out[pillar] = top + [k for k in kpis if k not in top]
    return out


def _headline_count(config: Config, pillar: str) -> int:
    present = [c for c in HEADLINE.get(pillar, ()) if c in config.kpi_by_code]
    return len(present) or 2


@lru_cache(maxsize=4)
def _geojson(path: str, mtime: float, codes: tuple[str, ...]) -> dict:
    del mtime  # part of the cache key only: a replaced file is read again
    return load_geojson(path, codes)


def configured_geojson(config: Config) -> dict | None:
    """The bureau's GeoJSON when config names one that exists, else None (the tile map is drawn)."""
    if not config.dashboard.geojson:
        return None
    path = config.resolve_path(config.dashboard.geojson)
    if not path.is_file():
        return None
    return _geojson(str(path), os.path.getmtime(path), tuple(config.unit_codes()))


# ---- layout ------------------------------------------------------------------------------------------------------


def _month_options(periods: list[str], lang: str) -> list[dict[str, str]]:
    return [{"label": format_period(p, lang), "value": p} for p in periods]


def _kpi_options(lang: str) -> list[dict[str, str]]:
    return [{"label": f"{t(f'pillar.{k.pillar}', lang)} · {name_in(k, lang)}", "value": k.code}
            for k in current_config().kpis]


def _selector(label_id: str, dropdown: dcc.Dropdown, **widths: int) -> dbc.Col:
    return dbc.Col([html.Label(id=label_id, htmlFor=dropdown.id, className="form-label small mb-1"), dropdown],
                   xs=12, **widths)


def _graph_card(prefix: str, graph_height: int, *, note: bool = True) -> dbc.Card:
    body = [dcc.Graph(id=f"overview-{prefix}-graph", config=GRAPH_CONFIG, responsive=True,
                      figure=empty_figure(""), style={"height": f"{graph_height}px"})]
    if note:
        body.append(html.P(id=f"overview-{prefix}-note-text", className="small text-muted mb-0 mt-2"))
    return dbc.Card([dbc.CardHeader(html.H2(id=f"overview-{prefix}-title-text", className="h6 mb-0")),
                     dbc.CardBody(body, className="p-2 p-md-3")], className="h-100")


def layout(lang: str | None = None, month: str | None = None, kpi: str | None = None, **_query: str) -> html.Div:
    """Built on every visit so a newly loaded month shows up; `month` and `kpi` come from a shared link."""
    lang = current_lang(lang)
    periods = periods_newest_first()
    kpis = current_config().kpis
    has_data = bool(periods)
    month = restore(month, allowed=periods, default=periods[0] if periods else None)
    kpi = restore(kpi, allowed=[k.code for k in kpis], default=kpis[0].code if kpis else None)
    hidden = None if has_data else {"display": "none"}
    return html.Div([
        url_location("overview"),
        html.Div([
            html.H1(id="overview-heading-text", className="h3 mb-1"),
            html.P(id="overview-subtitle-text", className="text-muted mb-1 d-none d-sm-block"),
            html.P(id="overview-asof-text", className="small text-muted mb-2"),
        ]),
        dbc.Alert(id="overview-empty-alert", color="info", is_open=not has_data, className="mb-3"),
        dbc.Row([_selector("overview-month-label",
                           dcc.Dropdown(id="overview-month-dropdown", options=_month_options(periods, lang),
                                        value=month, clearable=False, searchable=False), sm=4, lg=3),
                 _selector("overview-kpi-label",
                           dcc.Dropdown(id="overview-kpi-dropdown", options=_kpi_options(lang), value=kpi,
                                        clearable=False, searchable=True), sm=8, lg=5)],
                className="g-2 mb-3 overview-filters", style=hidden),
        html.Div([
            html.H2(id="overview-cards-heading-text", className="h5 mb-1"),
            html.P(id="overview-summary-text", className="overview-summary mb-1"),
            html.Div(id="overview-legend-container", className="mb-2"),
        ], style=hidden),
        dbc.Row(id="overview-cards-row", className="g-3 mb-3"),
        dbc.Row([
            dbc.Col(_graph_card("composite", 280), xs=12, lg=6),
            dbc.Col(dbc.Card([dbc.CardHeader(html.H2(id="overview-alerts-title-text", className="h6 mb-0")),
                              dbc.CardBody(id="overview-alerts-container", className="p-2 p-md-3")],
                             className="h-100"), xs=12, lg=6),
        ], className="g-3 mb-3", style=hidden),
        dbc.Row([
            dbc.Col(_graph_card("map", 380), xs=12, lg=5),
            dbc.Col(_graph_card("county", 240, note=True), xs=12, lg=7, id="overview-chart-card"),
        ], className="g-3 mb-4", style=hidden),
    ], className="overview-page")


# ---- callbacks: read inputs, call models, format, return ---------------------------------------------------------


def render_labels(lang: str | None, month_options: list[dict] | None) -> tuple:
    """Every fixed text of the page, re-rendered when the language changes."""
    lang = current_lang(lang)
    periods = [o["value"] for o in month_options or []]
    return (t("overview.title", lang), t("overview.subtitle", lang), t("overview.month_label", lang),
            t("overview.kpi_label", lang), _month_options(periods, lang), _kpi_options(lang),
            dropdown_labels(lang), dropdown_labels(lang), t("overview.empty", lang),
            t("overview.chart_note", lang), t("overview.composite_title", lang), t("overview.composite_note", lang),
            status_legend(lang))


def render_asof(lang: str | None) -> str:
    """"数据截至 …": when the last successful ETL run finished."""
    when = cached_read("overview.asof", data_as_of, default=None, shared=True)
    lang = current_lang(lang)
    return t("overview.asof", lang, when=format_datetime(when, lang)) if when else t("overview.asof_unknown", lang)


def render_cards(month: str | None, lang: str | None) -> tuple[str, list, str]:
    """The city's KPIs for the month, grouped by pillar, and the count of targets met, near and missed."""
    lang = current_lang(lang)
    if not month:
        return "", [], ""
    config = current_config()
    snaps = {s.kpi_code: s for s in cached_read("overview.snapshots", kpi_snapshots, default=[], version=FACTS,
                                                shared=True, viewer=current_viewer(), config=config,
                                                period=month)}
    if not snaps:
        return t("overview.cards_heading", lang, period=format_period(month, lang)), [], ""
    sections = [dbc.Col(pillar_section(pillar, [(snaps[k.code], k) for k in kpis], lang,
                                       headline=_headline_count(config, pillar)), xs=12, lg=6)
                for pillar, kpis in pillar_kpis(config).items()]
    targeted = [s for s in snaps.values() if s.target is not None and s.target_status]
    counts = {s: sum(1 for x in targeted if x.target_status == s) for s in ("met", "near", "missed")}
    summary = t("overview.summary", lang, total=len(targeted), **counts)
    return t("overview.cards_heading", lang, period=format_period(month, lang)), sections, summary


def render_composite(month: str | None, lang: str | None) -> Figure:
    """The counties' composite index over the 12 months to the chosen one."""
    lang = current_lang(lang)
    if not month:
        return empty_figure(t("figure.no_data", lang))
    frame = cached_read("overview.composite", composite_trend, default=pd.DataFrame(), version=FACTS, shared=True,
                        config=current_config(), until=month)
    return composite_trend_figure(frame, lang)


def render_alerts(month: str | None, lang: str | None) -> tuple[str, list]:
    """The month's alerts, most severe first: the first few, the rest behind a tap."""
    lang = current_lang(lang)
    if not month:
        return "", []
    config = current_config()
    # `today` in the key: the running month's alerts count what is open today, whatever the data version.
    alerts = cached_read("overview.alerts", kpi_alerts, default=[], version=FACTS, shared=True, config=config,
                         period=month, today=dt.datetime.now(ZoneInfo(config.timezone)).date())
    title = t("overview.alerts_title", lang, period=format_period(month, lang))
    if not alerts:
        return title, [html.P(t("overview.alerts_none", lang), className="text-muted mb-0")]

    def item(alert) -> html.Li:  # noqa: ANN001 - models.alerts.Alert
        return html.Li([html.Span(t(f"alert.severity.{alert.severity}", lang),
                                  className=f"alert-severity alert-severity-{alert.severity}"),
                        html.Span(describe_alert(alert, lang, config))], className="alert-item")

    high = sum(1 for a in alerts if a.severity == "high")
    children: list = [html.P(t("overview.alerts_count", lang, high=high, medium=len(alerts) - high),
                             className="small text-muted mb-2"),
                      html.Ul([item(a) for a in alerts[:ALERTS_SHOWN]], className="alert-list")]
    if len(alerts) > ALERTS_SHOWN:
        children.append(html.Details([html.Summary(t("overview.alerts_more", lang, n=len(alerts) - ALERTS_SHOWN)),
                                      html.Ul([item(a) for a in alerts[ALERTS_SHOWN:]], className="alert-list")],
                                     className="alerts-more"))
    return title, children


def _county_frame(month: str, kpi: KpiDefinition) -> pd.DataFrame | None:
    return cached_read("overview.county", county_comparison, default=None, version=FACTS, shared=True,
                       viewer=current_viewer(), config=current_config(), period=month, kpi_code=kpi.code)


def render_map(month: str | None, kpi_code: str | None, lang: str | None) -> tuple[str, Figure, str, dict]:
    """The counties coloured by one KPI: the bureau's GeoJSON if configured, else tiles placed by centroids."""
    lang = current_lang(lang)
    config = current_config()
    kpi = config.kpi_by_code.get(kpi_code or "")
    if not month or kpi is None:
        return "", empty_figure(t("figure.no_data", lang)), "", {"height": "240px"}
    frame = _county_frame(month, kpi)
    title = t("overview.map_title", lang, kpi=name_in(kpi, lang), period=format_period(month, lang))
    if frame is None:
        return title, empty_figure(t("figure.no_data", lang)), "", {"height": "240px"}
    geojson = configured_geojson(config)
    if geojson is not None:
        fig = county_choropleth(frame, kpi, lang, geojson)
        note = t("overview.map_note_geo", lang)
    else:
        centroids = {u.code: u.centroid for u in config.city.units if u.centroid}
        fig = county_tile_map(frame, kpi, lang, centroids)
        note = t("overview.map_note", lang)
    return title, fig, note, {"height": f"{figure_height(fig)}px"}


def render_chart(month: str | None, kpi_code: str | None, lang: str | None) -> tuple[str, Figure, dict]:
    """The counties compared on one KPI for the chosen month, with the city as the reference line."""
    lang = current_lang(lang)
    kpi = current_config().kpi_by_code.get(kpi_code or "")
    if not month or kpi is None:
        return "", empty_figure(t("figure.no_data", lang)), {"height": "240px"}
    frame = _county_frame(month, kpi)
    fig = empty_figure(t("figure.no_data", lang)) if frame is None else county_comparison_figure(frame, kpi, lang)
    title = t("overview.chart_title", lang, kpi=name_in(kpi, lang), period=format_period(month, lang))
    return title, fig, {"height": f"{figure_height(fig)}px"}


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app (per app, so several apps can live in one process)."""
    app.callback(
        Output("overview-heading-text", "children"), Output("overview-subtitle-text", "children"),
        Output("overview-month-label", "children"), Output("overview-kpi-label", "children"),
        Output("overview-month-dropdown", "options"), Output("overview-kpi-dropdown", "options"),
        Output("overview-month-dropdown", "labels"), Output("overview-kpi-dropdown", "labels"),
        Output("overview-empty-alert", "children"), Output("overview-county-note-text", "children"),
        Output("overview-composite-title-text", "children"), Output("overview-composite-note-text", "children"),
        Output("overview-legend-container", "children"),
        Input(LANG, "data"), State("overview-month-dropdown", "options"),
    )(render_labels)
    app.callback(Output("overview-asof-text", "children"), Input(LANG, "data"))(render_asof)
    app.callback(
        Output("overview-cards-heading-text", "children"), Output("overview-cards-row", "children"),
        Output("overview-summary-text", "children"),
        Input("overview-month-dropdown", "value"), Input(LANG, "data"),
    )(render_cards)
    app.callback(Output("overview-composite-graph", "figure"),
                 Input("overview-month-dropdown", "value"), Input(LANG, "data"))(render_composite)
    app.callback(Output("overview-alerts-title-text", "children"), Output("overview-alerts-container", "children"),
                 Input("overview-month-dropdown", "value"), Input(LANG, "data"))(render_alerts)
    app.callback(
        Output("overview-map-title-text", "children"), Output("overview-map-graph", "figure"),
        Output("overview-map-note-text", "children"), Output("overview-map-graph", "style"),
        Input("overview-month-dropdown", "value"), Input("overview-kpi-dropdown", "value"), Input(LANG, "data"),
    )(render_map)
    app.callback(
        Output("overview-county-title-text", "children"), Output("overview-county-graph", "figure"),
        Output("overview-county-graph", "style"),
        Input("overview-month-dropdown", "value"), Input("overview-kpi-dropdown", "value"), Input(LANG, "data"),
    )(render_chart)
    register_url_sync(app, page="overview", fields={"month": ("overview-month-dropdown", "value"),
                                                    "kpi": ("overview-kpi-dropdown", "value")})
