"""City overview (全市总览): the city's headline KPIs for a month and the counties compared on one KPI."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html
from plotly.graph_objects import Figure

from bizenv.i18n import (
    DEFAULT_LANG,
    dropdown_labels,
    format_datetime,
    format_period,
    name_in,
    t,
)
from dashboard.components import kpi_cards_row
from dashboard.context import current_config, current_lang, current_viewer, warehouse_read
from dashboard.figures import county_comparison_figure, empty_figure
from models.kpis import available_periods, county_comparison, current_period, data_as_of, kpi_cards

LANG = "app-lang-store"  # the shell's language store, see dashboard/app.py
GRAPH_CONFIG = {"displayModeBar": False, "displaylogo": False, "scrollZoom": False}

dash.register_page(__name__, path="/", order=0, name=t("nav.overview", DEFAULT_LANG),
                   title=t("overview.title", DEFAULT_LANG), nav_key="nav.overview")


# ---- reads (through models, in one session each) ---------------------------------------------------------------


def periods_newest_first() -> list[str]:
    """Completed months with KPI values, newest first: a month still running would mislead at a glance."""
    running = current_period(current_config().timezone)
    return warehouse_read(lambda s: available_periods(session=s, viewer=current_viewer(), before=running)[::-1],
                          default=[])


def _month_options(periods: list[str], lang: str) -> list[dict[str, str]]:
    return [{"label": format_period(p, lang), "value": p} for p in periods]


def _kpi_options(lang: str) -> list[dict[str, str]]:
    return [{"label": name_in(k, lang), "value": k.code} for k in current_config().kpis]


# ---- layout ------------------------------------------------------------------------------------------------------


def _selector(label_id: str, dropdown: dcc.Dropdown) -> dbc.Col:
    return dbc.Col([html.Label(id=label_id, htmlFor=dropdown.id, className="form-label small mb-1"), dropdown],
                   xs=12, sm=6, lg=3)


def layout(lang: str | None = None, **_query: str) -> html.Div:
    """Built on every visit so a newly loaded month shows up without a restart."""
    lang = current_lang(lang)
    periods = periods_newest_first()
    kpis = current_config().kpis
    has_data = bool(periods)
    month = dcc.Dropdown(id="overview-month-dropdown", options=_month_options(periods, lang),
                         value=periods[0] if periods else None, clearable=False, searchable=False)
    kpi = dcc.Dropdown(id="overview-kpi-dropdown", options=_kpi_options(lang),
                       value=kpis[0].code if kpis else None, clearable=False, searchable=False)
    return html.Div([
        html.Div([
            html.H1(id="overview-heading-text", className="h3 mb-1"),
            html.P(id="overview-subtitle-text", className="text-muted mb-1"),
            html.P(id="overview-asof-text", className="small text-muted mb-3"),
        ]),
        dbc.Alert(id="overview-empty-alert", color="info", is_open=not has_data, className="mb-3"),
        dbc.Row([_selector("overview-month-label", month), _selector("overview-kpi-label", kpi)],
                className="g-2 mb-3", style=None if has_data else {"display": "none"}),
        html.H2(id="overview-cards-heading-text", className="h5 mb-2"),
        dbc.Row(id="overview-cards-row", className="g-3 mb-4"),
        dbc.Card([
            dbc.CardHeader(html.H2(id="overview-chart-title-text", className="h6 mb-0")),
            dbc.CardBody([
                dcc.Graph(id="overview-county-graph", config=GRAPH_CONFIG, responsive=True,
                          figure=empty_figure(""), style={"height": "240px"}),
                html.P(id="overview-chart-note-text", className="small text-muted mb-0 mt-2"),
            ], className="p-2 p-md-3"),
        ], id="overview-chart-card", className="mb-4", style=None if has_data else {"display": "none"}),
    ], className="overview-page")


# ---- callbacks: read inputs, call models, format, return ---------------------------------------------------------


def render_labels(lang: str | None, month_options: list[dict] | None) -> tuple:
    """Every fixed text of the page, re-rendered when the language changes."""
    lang = current_lang(lang)
    periods = [o["value"] for o in month_options or []]
    return (t("overview.title", lang), t("overview.subtitle", lang), t("overview.month_label", lang),
            t("overview.kpi_label", lang), _month_options(periods, lang), _kpi_options(lang),
            dropdown_labels(lang), dropdown_labels(lang), t("overview.empty", lang),
            t("overview.chart_note", lang))


def render_asof(lang: str | None) -> str:
    """"数据截至 …": when the last successful ETL run finished."""
    when = warehouse_read(lambda s: data_as_of(session=s), default=None)
    lang = current_lang(lang)
    return t("overview.asof", lang, when=format_datetime(when, lang)) if when else t("overview.asof_unknown", lang)


def render_cards(month: str | None, lang: str | None) -> tuple[str, list]:
    """The city's headline cards for the chosen month."""
    lang = current_lang(lang)
    if not month:
        return "", []
    cards = warehouse_read(lambda s: kpi_cards(session=s, viewer=current_viewer(), config=current_config(),
                                               period=month), default=[])
    return t("overview.cards_heading", lang, period=format_period(month, lang)), kpi_cards_row(cards, lang)


def render_chart(month: str | None, kpi_code: str | None, lang: str | None) -> tuple[str, Figure, dict]:
    """The counties compared on one KPI for the chosen month, with the city as the reference line."""
    lang = current_lang(lang)
    kpi = current_config().kpi_by_code.get(kpi_code or "")
    if not month or kpi is None:
        return "", empty_figure(t("figure.no_data", lang)), {"height": "240px"}
    frame = warehouse_read(lambda s: county_comparison(session=s, viewer=current_viewer(), config=current_config(),
                                                       period=month, kpi_code=kpi.code), default=None)
    fig = empty_figure(t("figure.no_data", lang)) if frame is None else county_comparison_figure(frame, kpi, lang)
    title = t("overview.chart_title", lang, kpi=name_in(kpi, lang), period=format_period(month, lang))
    return title, fig, {"height": f"{fig.layout.height}px"}


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app (per app, so several apps can live in one process)."""
    app.callback(
        Output("overview-heading-text", "children"), Output("overview-subtitle-text", "children"),
        Output("overview-month-label", "children"), Output("overview-kpi-label", "children"),
        Output("overview-month-dropdown", "options"), Output("overview-kpi-dropdown", "options"),
        Output("overview-month-dropdown", "labels"), Output("overview-kpi-dropdown", "labels"),
        Output("overview-empty-alert", "children"), Output("overview-chart-note-text", "children"),
        Input(LANG, "data"), State("overview-month-dropdown", "options"),
    )(render_labels)
    app.callback(Output("overview-asof-text", "children"), Input(LANG, "data"))(render_asof)
    app.callback(
        Output("overview-cards-heading-text", "children"), Output("overview-cards-row", "children"),
        Input("overview-month-dropdown", "value"), Input(LANG, "data"),
    )(render_cards)
    app.callback(
        Output("overview-chart-title-text", "children"), Output("overview-county-graph", "figure"),
        Output("overview-county-graph", "style"),
        Input("overview-month-dropdown", "value"), Input("overview-kpi-dropdown", "value"), Input(LANG, "data"),
    )(render_chart)
