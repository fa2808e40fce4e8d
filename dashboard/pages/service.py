"""Ratings and hotline (好差评与12345): rating levels, bad-review rectification, hotline KPIs, business tickets.

Filters (region, month range) live in the URL through `dashboard.urlstate`, like on the approvals page: restored
by the layout from the query, a history entry per change, rebuilt from the older query on back/forward.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, format_period, t
from dashboard.context import FACTS, current_config, current_lang, current_viewer, warehouse_read
from dashboard.figures import empty_figure, figure_height
from dashboard.tables import data_table, register_table_source
from dashboard.urlstate import register_url_sync, url_location
from dashboard.views import approvals as common
from dashboard.views import service as views
from models import details
from models.kpis import available_periods, current_period, data_as_of, kpi_cards

LANG = "app-lang-store"
P = "service"
FILTERS = {"region": "service-region-dropdown", "start": "service-start-dropdown", "end": "service-end-dropdown"}
DEFAULT_SPAN = 12  # months shown when the URL names no start month

dash.register_page(__name__, path="/service", order=4, name=t("service.nav", DEFAULT_LANG),
                   title=t("service.title", DEFAULT_LANG), nav_key="service.nav")
register_table_source(views.UNRECTIFIED_TABLE, views.unrectified_source, views.UNRECTIFIED_COLUMNS)


def _periods_desc() -> list[str]:
    running = current_period(current_config().timezone)
    return warehouse_read(lambda s: available_periods(session=s, viewer=current_viewer(), before=running)[::-1],
                          default=[])


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo(current_config().timezone)).date()


def _filters(region, start, end, lang=None) -> dict:  # noqa: ANN001
    start, end = common.ordered_range(start, end)
    return {"region": region, "start": start, "end": end, **({"lang": lang} if lang else {})}


def _read(fn, f: dict, default, **kw):  # noqa: ANN001, ANN202
    """One `models.details` read for the filters, with the current viewer."""
    key = (f"service.{fn.__name__}", f["region"], f["start"], f["end"], *sorted(kw.items()), _today())
    return warehouse_read(lambda s: fn(session=s, viewer=current_viewer(), config=current_config(),
                                       region_code=f["region"], period=f["end"], **kw), default=default,
                          version=FACTS, cache_key=key)


# ---- layout -------------------------------------------------------------------------------------------------------


def _control(name: str, component) -> dbc.Col:  # noqa: ANN001
    return dbc.Col([html.Label(id=f"service-{name}-label", htmlFor=component.id, className="form-label small mb-1"),
                    component], xs=12, sm=4, lg=3)


def _card(name: str, body: list) -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader(html.H2(id=f"service-{name}-heading-text", className="h6 mb-0 detail-heading")),
        dbc.CardBody(body, className="p-2 p-md-3"),
    ], id=f"service-{name}-card", className="mb-3 detail-card")


def layout(lang: str | None = None, **query: str) -> html.Div:
    """Built on every visit; the filters come from the URL query."""
    lang = current_lang(lang)
    config, viewer = current_config(), current_viewer()
    periods = _periods_desc()
    default_start = periods[min(DEFAULT_SPAN, len(periods)) - 1] if periods else None
    f = common.restore_filters({"start": default_start, **query}, periods_desc=periods,
                               regions=common.region_codes(config, viewer))
    has_data = bool(periods)
    dd = dict(clearable=False, searchable=False)
    graph = dict(config=common.GRAPH_CONFIG, responsive=True, figure=empty_figure(""))
    return html.Div([
        url_location(P),
        html.Div([
            html.H1(id="service-heading-text", className="h3 mb-1"),
            html.P(id="service-subtitle-text", className="text-muted mb-1"),
            html.P(id="service-asof-text", className="small text-muted mb-3"),
        ]),
        dbc.Alert(id="service-empty-alert", color="info", is_open=not has_data, className="mb-3"),
        dbc.Row([
            _control("region", dcc.Dropdown(id=FILTERS["region"], value=f["region"],
                                            options=common.region_options(config, viewer, lang), **dd)),
            _control("start", dcc.Dropdown(id=FILTERS["start"], options=common.month_options(periods, lang),
                                           value=f["start"], **dd)),
            _control("end", dcc.Dropdown(id=FILTERS["end"], options=common.month_options(periods, lang),
                                         value=f["end"], **dd)),
        ], className="g-2 mb-3 detail-filters", style=None if has_data else {"display": "none"}),
        html.Div([
            html.H2(id="service-ratings-heading-text", className="h5 mb-2"),
            dbc.Row(id="service-ratings-row", className="g-3 mb-2"),
            html.P(id="service-cards-note-text", className="small text-muted mb-3"),
            dbc.Row([
                dbc.Col(_card("levels", [dcc.Graph(id="service-levels-graph", style={"height": "300px"}, **graph),
                                         html.P(id="service-levels-note-text", className="small text-muted mb-0")]),
                        xs=12, lg=6),
                dbc.Col(_card("rect", [dcc.Graph(id="service-rect-graph", style={"height": "300px"}, **graph),
                                       html.P(id="service-rect-note-text", className="small text-muted mb-0")]),
                        xs=12, lg=6),
            ], className="g-3"),
            _card("unrect", [
                html.P(id="service-unrect-count-text", className="mb-1 detail-summary"),
                html.P(id="service-unrect-note-text", className="small text-muted mb-2"),
                dcc.Loading(html.Div(id="service-unrect-div"), type="dot", delay_show=300),
            ]),
            html.H2(id="service-hotline-heading-text", className="h5 mb-2 mt-2"),
            dbc.Row(id="service-hotline-row", className="g-3 mb-3"),
            _card("cat", [
                html.P(id="service-cat-total-text", className="mb-1 detail-summary"),
                dcc.Graph(id="service-cat-graph", style={"height": "300px"}, **graph),
                html.P(id="service-cat-note-text", className="small text-muted mb-0"),
            ]),
        ], style=None if has_data else {"display": "none"}),
    ], className="detail-page service-page")


# ---- callbacks --------------------------------------------------------------------------------------------------


def render_labels(lang: str | None, month_options: list[dict] | None) -> tuple:
    """Every fixed text and option label, re-rendered when the language changes."""
    lang = current_lang(lang)
    config = current_config()
    months = common.month_options([o["value"] for o in month_options or []], lang)
    days = views.rectify_deadline(config)
    return (t("service.title", lang), t("service.subtitle", lang), t("approvals.empty", lang),
            t("service.filter.region", lang), t("service.filter.start", lang), t("service.filter.end", lang),
            common.region_options(config, current_viewer(), lang), months, months,
            dropdown_labels(lang), dropdown_labels(lang), dropdown_labels(lang),
            t("service.cards.note", lang), t("service.levels.note", lang), t("service.rect.note", lang, days=days),
            t("service.unrect.note", lang, n=views.UNRECTIFIED_LIMIT, days=days), t("service.cat.note", lang))


def render_asof(lang: str | None) -> str:
    return common.asof_text(warehouse_read(lambda s: data_as_of(session=s), default=None), current_lang(lang))


def render_cards(region, end, lang):  # noqa: ANN001, ANN201
    """The ratings and hotline headline cards of the region for the last chosen month, from the marts."""
    lang = current_lang(lang)
    if not end:
        return "", [], "", []
    config = current_config()
    region_code = region or config.city.code
    cards = warehouse_read(lambda s: kpi_cards(session=s, viewer=current_viewer(), config=config, period=end,
                                               region_code=region_code), default=[])
    place, period = common.region_label(region_code, config, lang), format_period(end, lang)
    return (t("service.cards.ratings", lang, region=place, period=period),
            views.pillar_cards(cards, config, "ratings", lang, id_prefix=P),
            t("service.cards.hotline", lang, region=place, period=period),
            views.pillar_cards(cards, config, "hotline", lang, id_prefix=P))


def render_ratings(region, start, end, lang):  # noqa: ANN001, ANN201
    """Rating levels by month and the rectification counts and rates."""
    lang = current_lang(lang)
    if not end:
        blank = empty_figure(t("figure.no_data", lang))
        return "", blank, "", blank
    f = _filters(region, start, end)
    config = current_config()
    levels = _read(details.rating_levels_by_month, f, pd.DataFrame(columns=["period", "level", "ratings"]),
                   start_period=f["start"])
    rect = _read(details.rectification_summary, f, pd.DataFrame(columns=details.RECTIFICATION_COLUMNS),
                 start_period=f["start"])
    place, span = common.region_label(f["region"], config, lang), common.range_text(f["start"], f["end"], lang)
    return (t("service.levels.heading", lang, region=place, range=span), views.levels_figure(levels, lang),
            t("service.rect.heading", lang, region=place, range=span),
            views.rectification_figure(rect, config, lang))


def render_unrectified(region, end, lang):  # noqa: ANN001, ANN201
    """Verified bad reviews not rectified by the last chosen month's end."""
    lang = current_lang(lang)
    if not end:
        return "", "", []
    f = _filters(region, end, end, lang=lang)
    frame = warehouse_read(lambda s: views.unrectified_source(s, current_viewer(), current_config(), f),
                           default=pd.DataFrame(columns=[c.field for c in views.UNRECTIFIED_COLUMNS]),
                           # the day: the running month's list is judged as of today
                           cache_key=("service.unrectified", f["region"], f["end"], lang, _today()), version=FACTS)
    heading = t("service.unrect.heading", lang, region=common.region_label(f["region"], current_config(), lang),
                asof=common.asof_day_text(f["end"], _today(), lang))
    table = data_table(table_id=views.UNRECTIFIED_TABLE, frame=frame, lang=lang, filters=f, page_size=20,
                       height=420)
    return heading, views.unrectified_count(frame, lang), table


def render_categories(region, start, end, lang):  # noqa: ANN001, ANN201
    """Business-environment tickets by category over the chosen months."""
    lang = current_lang(lang)
    if not end:
        return "", "", empty_figure(t("figure.no_data", lang)), {"height": "300px"}
    f = _filters(region, start, end)
    frame = _read(details.ticket_categories, f, pd.DataFrame(columns=["category", "tickets", "share", "late"]),
                  start_period=f["start"])
    fig = views.categories_figure(frame, lang)
    heading = t("service.cat.heading", lang, region=common.region_label(f["region"], current_config(), lang),
                range=common.range_text(f["start"], f["end"], lang))
    height = figure_height(fig)
    return heading, views.categories_total(frame, lang), fig, {"height": f"{height}px"}


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    ids = FILTERS
    app.callback(
        Output("service-heading-text", "children"), Output("service-subtitle-text", "children"),
        Output("service-empty-alert", "children"),
        *[Output(f"service-{n}-label", "children") for n in ("region", "start", "end")],
        *[Output(ids[n], "options") for n in ("region", "start", "end")],
        *[Output(ids[n], "labels") for n in ("region", "start", "end")],
        Output("service-cards-note-text", "children"), Output("service-levels-note-text", "children"),
        Output("service-rect-note-text", "children"), Output("service-unrect-note-text", "children"),
        Output("service-cat-note-text", "children"),
        Input(LANG, "data"), State(ids["end"], "options"),
    )(render_labels)
    app.callback(Output("service-asof-text", "children"), Input(LANG, "data"))(render_asof)
    register_url_sync(app, page=P, fields={n: (ids[n], "value") for n in FILTERS})  # a history entry per change
    app.callback(
        Output("service-ratings-heading-text", "children"), Output("service-ratings-row", "children"),
        Output("service-hotline-heading-text", "children"), Output("service-hotline-row", "children"),
        Input(ids["region"], "value"), Input(ids["end"], "value"), Input(LANG, "data"),
    )(render_cards)
    app.callback(
        Output("service-levels-heading-text", "children"), Output("service-levels-graph", "figure"),
        Output("service-rect-heading-text", "children"), Output("service-rect-graph", "figure"),
        Input(ids["region"], "value"), Input(ids["start"], "value"), Input(ids["end"], "value"), Input(LANG, "data"),
    )(render_ratings)
    app.callback(
        Output("service-unrect-heading-text", "children"), Output("service-unrect-count-text", "children"),
        Output("service-unrect-div", "children"),
        Input(ids["region"], "value"), Input(ids["end"], "value"), Input(LANG, "data"),
    )(render_unrectified)
    app.callback(
        Output("service-cat-heading-text", "children"), Output("service-cat-total-text", "children"),
        Output("service-cat-graph", "figure"), Output("service-cat-graph", "style"),
        Input(ids["region"], "value"), Input(ids["start"], "value"), Input(ids["end"], "value"), Input(LANG, "data"),
    )(render_categories)
