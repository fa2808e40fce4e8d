"""County ranking (县区排名): the composite ranking with rank intervals, 红黑榜, scores heatmap, bump chart, funnel.

Filters live in the URL (`?month=YYYY-MM&kpi=CODE`): the layout restores them from the query, and one callback
keeps the dropdowns and the address bar in step both ways, so a shared link and back/forward both work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from plotly.graph_objects import Figure
from sqlalchemy.orm import Session

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, format_period, name_in, t
from dashboard.context import FACTS, cached_read, current_config, current_lang, current_viewer
from dashboard.figures import empty_figure, figure_height
from dashboard.tables import Column, data_table, register_table_source
from dashboard.views import ranking as views
from models.config import PILLARS, Config
from models.kpis import current_period, data_as_of
from models.ranking_reads import (
    county_ranking,
    funnel_kpis,
    funnel_rows,
    indicator_scores,
    list_size,
    rank_history,
    ranking_periods,
)
from models.scope import Viewer

LANG = "app-lang-store"  # the shell's language store, see dashboard/app.py
TABLE_ID = "ranking-table"

dash.register_page(__name__, path="/ranking", order=1, name=t("ranking.nav", DEFAULT_LANG),
                   title=t("ranking.title", DEFAULT_LANG), nav_key="ranking.nav")


# ---- reads (through models, one session each) ------------------------------------------------------------------


def periods_newest_first() -> list[str]:
    """Completed months with a ranking, newest first (the running month would mislead)."""
    running = current_period(current_config().timezone)
    return cached_read("ranking.periods", ranking_periods, default=[], version=FACTS, shared=True,
                       viewer=current_viewer(), before=running)


def _ranking(month: str) -> pd.DataFrame:
    """The month's ranking with names and lists, one cache entry shared by the table and the heatmap."""
    return cached_read("ranking.ranking", county_ranking, default=pd.DataFrame(), version=FACTS, shared=True,
                       viewer=current_viewer(), config=current_config(), period=month)


def _ranking_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The download's rows: the month's ranking read again for the current viewer."""
    period = str(filters.get("period") or "")
    return views.ranking_export(county_ranking(session=session, viewer=viewer, config=config, period=period))


register_table_source(TABLE_ID, _ranking_source, [
    Column("rank", "ranking.col.rank", "int", 90),
    Column("region_code", "ranking.col.code", width=110),
    Column("name_zh", "ranking.col.name_zh", width=110),
    Column("name_en", "ranking.col.name_en", width=140),
    Column("composite", "ranking.col.composite", "float1"),
    *[Column(f"score_{p}", f"ranking.pillar.{p}", "float1") for p in PILLARS],
    Column("rank_change", "ranking.col.change", "int"),
    Column("rank_low", "ranking.col.rank_low", "int"),
    Column("rank_high", "ranking.col.rank_high", "int"),
    Column("tie_group", "ranking.col.tie_group", "int"),
    Column("listed", "ranking.col.listed"),
])


# ---- layout ------------------------------------------------------------------------------------------------------


def _selector(label_id: str, dropdown: dcc.Dropdown) -> dbc.Col:
    return dbc.Col([html.Label(id=label_id, htmlFor=dropdown.id, className="form-label small mb-1"), dropdown],
                   xs=12, sm=6, lg=3)


def _card(heading_id: str, body: list, *, card_id: str | None = None, note_id: str | None = None) -> dbc.Card:
    parts = [*body] + ([html.P(id=note_id, className="small text-muted mb-0 mt-2")] if note_id else [])
    return dbc.Card([dbc.CardHeader(html.H2(id=heading_id, className="h6 mb-0")),
                     dbc.CardBody(parts, className="p-2 p-md-3")], className="mb-4 rk-card",
                    **({"id": card_id} if card_id else {}))


def _graph(graph_id: str, height: int, *, scroll: bool = False) -> html.Div:
    graph = dcc.Graph(id=graph_id, config=views.GRAPH_CONFIG, responsive=True, figure=empty_figure(""),
                      style={"height": f"{height}px"})
    return html.Div(graph, className="rk-graph-scroll" if scroll else "rk-graph")


def layout(lang: str | None = None, month: str | None = None, kpi: str | None = None, **_query: str) -> html.Div:
    """Built on every visit: months are read fresh, and the query string picks the month and funnel KPI."""
    lang = current_lang(lang)
    periods = periods_newest_first()
    rates = funnel_kpis(current_config())
    has_data = bool(periods)
    month_dd = dcc.Dropdown(id="ranking-month-dropdown", options=views.month_options(periods, lang),
                            value=views.pick(month, periods, periods[0] if periods else None), clearable=False,
                            searchable=False)
    codes = [k.code for k in rates]
    kpi_dd = dcc.Dropdown(id="ranking-kpi-dropdown", options=views.kpi_options(rates, lang),
                          value=views.pick(kpi, codes, codes[0] if codes else None), clearable=False,
                          searchable=False)
    shown = None if has_data else {"display": "none"}
    return html.Div([
        dcc.Location(id="ranking-url-location", refresh=False),
        html.Div([
            html.H1(id="ranking-heading-text", className="h3 mb-1"),
            html.P(id="ranking-subtitle-text", className="text-muted mb-1"),
            html.P(id="ranking-asof-text", className="small text-muted mb-3"),
        ]),
        dbc.Alert(id="ranking-empty-alert", color="info", is_open=not has_data, className="mb-3"),
        dbc.Row([_selector("ranking-month-label", month_dd)], className="g-2 mb-3", style=shown),
        html.Div([
            _card("ranking-lists-heading-text", [html.Div(id="ranking-lists-div")]),
            _card("ranking-table-heading-text", [
                html.Div(id="ranking-table-div"),
                html.P(id="ranking-table-note-text", className="small text-muted mb-2 mt-2"),
                html.Details([html.Summary(id="ranking-details-summary-text", className="small"),
                              html.Div(id="ranking-export-div", className="mt-2")], className="rk-details"),
            ]),
            _card("ranking-heatmap-heading-text", [_graph("ranking-heatmap-graph", 560, scroll=True)],
                  note_id="ranking-heatmap-note-text"),
            dbc.Row([
                dbc.Col(_card("ranking-bump-heading-text", [_graph("ranking-bump-graph", 480)],
                              note_id="ranking-bump-note-text"), xs=12, xl=6),
                dbc.Col(_card("ranking-funnel-heading-text", [
                    html.Div([html.Label(id="ranking-kpi-label", htmlFor="ranking-kpi-dropdown",
                                         className="form-label small mb-1"), kpi_dd], className="mb-2 rk-funnel-pick"),
                    _graph("ranking-funnel-graph", 420),
                ], note_id="ranking-funnel-note-text"), xs=12, xl=6),
            ], className="g-3"),
        ], style=shown),
    ], className="ranking-page")


# ---- callbacks: read inputs, call models, build, return ----------------------------------------------------------


def render_labels(lang: str | None, month_options: list[dict] | None) -> tuple:
    """Every fixed text of the page, re-rendered when the language changes."""
    lang = current_lang(lang)
    periods = [o["value"] for o in month_options or []]
    return (t("ranking.title", lang), t("ranking.subtitle", lang), t("ranking.month_label", lang),
            t("ranking.funnel_kpi_label", lang), views.month_options(periods, lang),
            views.kpi_options(funnel_kpis(current_config()), lang), dropdown_labels(lang), dropdown_labels(lang),
            t("ranking.empty", lang), t("ranking.table.note", lang), t("ranking.table.details", lang),
            t("ranking.heatmap.note", lang), t("ranking.bump.heading", lang), t("ranking.bump.note", lang),
            t("ranking.funnel.note", lang))


def render_asof(lang: str | None) -> str:
    """"数据截至 …": when the last successful ETL run finished."""
    return views.asof_text(cached_read("overview.asof", data_as_of, default=None, shared=True), current_lang(lang))


def sync_url(search: str | None, month: str | None, kpi: str | None, month_options: list[dict] | None,
             kpi_options: list[dict] | None) -> tuple:
    """Dropdowns → address bar (a new history entry); address bar (back/forward) → dropdowns."""
    if ctx.triggered_id == "ranking-url-location":
        query = views.parse_search(search)
        months = [o["value"] for o in month_options or []]
        kpis = [o["value"] for o in kpi_options or []]
        new_month = views.pick(query.get("month"), months, months[0] if months else None)
        new_kpi = views.pick(query.get("kpi"), kpis, kpis[0] if kpis else None)
        return (no_update, new_month if new_month != month else no_update,
                new_kpi if new_kpi != kpi else no_update)
    wanted = views.build_search({"month": month, "kpi": kpi})
    same = views.parse_search(wanted) == views.parse_search(search)
    return (no_update if same else wanted), no_update, no_update


def render_ranking(month: str | None, lang: str | None) -> tuple:
    """The ranking table, its downloadable twin and the red and black lists for the month."""
    lang = current_lang(lang)
    if not month:
        return "", [], "", [], []
    config = current_config()
    frame = _ranking(month)
    period = format_period(month, lang)
    if frame.empty:
        empty = html.P(t("figure.no_data", lang), className="text-muted mb-0")
        return t("ranking.table.heading", lang, period=period), empty, t("ranking.lists.heading", lang,
                                                                          period=period), empty, []
    export = data_table(table_id=TABLE_ID, frame=views.ranking_export(frame), lang=lang, filters={"period": month},
                        page_size=11, height=420)
    return (t("ranking.table.heading", lang, period=period), views.ranking_table(frame, period=month, lang=lang),
            t("ranking.lists.heading", lang, period=period),
            views.red_black_lists(frame, period=month, lang=lang, size=list_size(config)), export)


def render_heatmap(month: str | None, lang: str | None) -> tuple[str, Figure, dict]:
    """Counties × indicators, coloured by score."""
    lang = current_lang(lang)
    if not month:
        return "", empty_figure(t("figure.no_data", lang)), {"height": "240px"}
    config = current_config()
    scores = cached_read("ranking.scores", indicator_scores, default=pd.DataFrame(), version=FACTS, shared=True,
                         viewer=current_viewer(), config=config, period=month)
    ranking = _ranking(month)
    fig = views.heatmap_figure(scores, ranking, config, lang)
    return (t("ranking.heatmap.heading", lang, period=format_period(month, lang)), fig,
            {"height": f"{figure_height(fig)}px"})


def render_bump(month: str | None, lang: str | None) -> tuple[Figure, dict]:
    """Rank over the 12 months ending with the chosen one."""
    lang = current_lang(lang)
    if not month:
        return empty_figure(t("figure.no_data", lang)), {"height": "240px"}
    history = cached_read("ranking.history", rank_history, default=pd.DataFrame(), version=FACTS, shared=True,
                          viewer=current_viewer(), config=current_config(), period=month)
    fig = views.bump_figure(history, lang) if len(history) else empty_figure(t("figure.no_data", lang))
    return fig, {"height": f"{figure_height(fig)}px"}


def render_funnel(month: str | None, kpi_code: str | None, lang: str | None) -> tuple[str, Figure]:
    """The funnel plot of one rate KPI for the month."""
    lang = current_lang(lang)
    kpi = current_config().kpi_by_code.get(kpi_code or "")
    if not month or kpi is None:
        return "", empty_figure(t("figure.no_data", lang))
    rows = cached_read("ranking.funnel", funnel_rows, default=pd.DataFrame(), version=FACTS, shared=True,
                       viewer=current_viewer(), config=current_config(), period=month, kpi_code=kpi.code)
    fig = views.funnel_figure(rows, kpi, lang) if len(rows) else empty_figure(t("figure.no_data", lang))
    return t("ranking.funnel.heading", lang, kpi=name_in(kpi, lang), period=format_period(month, lang)), fig


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    app.callback(
        Output("ranking-heading-text", "children"), Output("ranking-subtitle-text", "children"),
        Output("ranking-month-label", "children"), Output("ranking-kpi-label", "children"),
        Output("ranking-month-dropdown", "options"), Output("ranking-kpi-dropdown", "options"),
        Output("ranking-month-dropdown", "labels"), Output("ranking-kpi-dropdown", "labels"),
        Output("ranking-empty-alert", "children"), Output("ranking-table-note-text", "children"),
        Output("ranking-details-summary-text", "children"), Output("ranking-heatmap-note-text", "children"),
        Output("ranking-bump-heading-text", "children"), Output("ranking-bump-note-text", "children"),
        Output("ranking-funnel-note-text", "children"),
        Input(LANG, "data"), State("ranking-month-dropdown", "options"),
    )(render_labels)
    app.callback(Output("ranking-asof-text", "children"), Input(LANG, "data"))(render_asof)
    app.callback(
        Output("ranking-url-location", "search"), Output("ranking-month-dropdown", "value"),
        Output("ranking-kpi-dropdown", "value"),
        Input("ranking-url-location", "search"), Input("ranking-month-dropdown", "value"),
        Input("ranking-kpi-dropdown", "value"),
        State("ranking-month-dropdown", "options"), State("ranking-kpi-dropdown", "options"),
        prevent_initial_call=True,
    )(sync_url)
    app.callback(
        Output("ranking-table-heading-text", "children"), Output("ranking-table-div", "children"),
        Output("ranking-lists-heading-text", "children"), Output("ranking-lists-div", "children"),
        Output("ranking-export-div", "children"),
        Input("ranking-month-dropdown", "value"), Input(LANG, "data"),
    )(render_ranking)
    app.callback(
        Output("ranking-heatmap-heading-text", "children"), Output("ranking-heatmap-graph", "figure"),
        Output("ranking-heatmap-graph", "style"),
        Input("ranking-month-dropdown", "value"), Input(LANG, "data"),
    )(render_heatmap)
    app.callback(
        Output("ranking-bump-graph", "figure"), Output("ranking-bump-graph", "style"),
        Input("ranking-month-dropdown", "value"), Input(LANG, "data"),
    )(render_bump)
    app.callback(
        Output("ranking-funnel-heading-text", "children"), Output("ranking-funnel-graph", "figure"),
        Input("ranking-month-dropdown", "value"), Input("ranking-kpi-dropdown", "value"), Input(LANG, "data"),
    )(render_funnel)
