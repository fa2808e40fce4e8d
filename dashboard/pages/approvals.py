"""Approvals (审批时效): how long cases take, which are overdue, online handling and visits, items ranked.

Filters (region, month range, department, channel, item order) live in the URL through `dashboard.urlstate`: the
layout restores them from the query, each change pushes a history entry, and back/forward rebuild the page from the
older query.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, name_in, t
from dashboard.context import FACTS, current_config, current_lang, current_viewer, warehouse_read
from dashboard.figures import empty_figure
from dashboard.tables import data_table, register_table_source
from dashboard.urlstate import register_url_sync, url_location
from dashboard.views import approvals as views
from models import details
from models.kpis import available_periods, current_period, data_as_of, read_kpi_monthly

LANG = "app-lang-store"
P = "approvals"
CHANNELS = ("window", "online", "mobile", "kiosk", "other")
FILTERS = {"region": "approvals-region-dropdown", "start": "approvals-start-dropdown",
           "end": "approvals-end-dropdown", "dept": "approvals-dept-dropdown",
           "channel": "approvals-channel-dropdown", "order": "approvals-order-radio"}

dash.register_page(__name__, path="/approvals", order=3, name=t("approvals.nav", DEFAULT_LANG),
                   title=t("approvals.title", DEFAULT_LANG), nav_key="approvals.nav")
register_table_source(views.OVERDUE_TABLE, views.overdue_source, views.OVERDUE_COLUMNS)
register_table_source(views.ITEMS_TABLE, views.items_source, views.ITEMS_COLUMNS)


# ---- reads (through models, with the current viewer) ------------------------------------------------------------


def _periods_desc() -> list[str]:
    """Completed months with KPI values, newest first."""
    running = current_period(current_config().timezone)
    return warehouse_read(lambda s: available_periods(session=s, viewer=current_viewer(), before=running)[::-1],
                          default=[])


def _departments() -> pd.DataFrame:
    return warehouse_read(lambda s: details.department_options(session=s, viewer=current_viewer(),
                                                               config=current_config()),
                          default=pd.DataFrame(columns=["dept_code", "dept_name"]),
                          cache_key=("approvals.departments",), version=FACTS, shared=True)


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo(current_config().timezone)).date()


def _filters(region, start, end, dept, channel, order=None, lang=None) -> dict:  # noqa: ANN001
    start, end = views.ordered_range(start, end)
    return {"region": region, "start": start, "end": end, "dept": dept or None, "channel": channel or None,
            "order": order or "time", **({"lang": lang} if lang else {})}


# ---- layout -------------------------------------------------------------------------------------------------------


def _control(name: str, component, *, md: int = 4, lg: int = 2) -> dbc.Col:  # noqa: ANN001
    return dbc.Col([html.Label(id=f"approvals-{name}-label", htmlFor=component.id, className="form-label small mb-1"),
                    component], xs=12, sm=6, md=md, lg=lg)


def _card(name: str, body: list, *, heading_kind: str = "text") -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader(html.H2(id=f"approvals-{name}-heading-{heading_kind}", className="h6 mb-0 detail-heading")),
        dbc.CardBody(body, className="p-2 p-md-3"),
    ], id=f"approvals-{name}-card", className="mb-3 detail-card")


def layout(lang: str | None = None, **query: str) -> html.Div:
    """Built on every visit (fresh months); the filters come from the URL query."""
    lang = current_lang(lang)
    config, viewer = current_config(), current_viewer()
    periods = _periods_desc()
    depts = _departments()
    f = views.restore_filters(query, periods_desc=periods, regions=views.region_codes(config, viewer),
                              depts=depts["dept_code"].tolist(), channels=CHANNELS)
    has_data = bool(periods)
    dd = dict(clearable=False, searchable=False)
    controls = dbc.Row([
        _control("region", dcc.Dropdown(id=FILTERS["region"], options=views.region_options(config, viewer, lang),
                                        value=f["region"], **dd)),
        _control("start", dcc.Dropdown(id=FILTERS["start"], options=views.month_options(periods, lang),
                                       value=f["start"], **dd)),
        _control("end", dcc.Dropdown(id=FILTERS["end"], options=views.month_options(periods, lang), value=f["end"],
                                     **dd)),
        _control("dept", dcc.Dropdown(id=FILTERS["dept"], options=views.dept_options(depts), value=f["dept"],
                                      clearable=True, searchable=True), md=6, lg=3),
        _control("channel", dcc.Dropdown(id=FILTERS["channel"], options=views.channel_options(CHANNELS, lang),
                                         value=f["channel"], clearable=True, searchable=False), md=6, lg=3),
    ], className="g-2 mb-1")
    graph = dict(config=views.GRAPH_CONFIG, responsive=True, figure=empty_figure(""))
    trend_cols = [dbc.Col(_card(f"trend{i}", [
        dcc.Graph(id=f"approvals-trend{i}-graph", style={"height": "260px"}, **graph)]), xs=12, lg=6)
        for i in (1, 2)]
    return html.Div([
        url_location(P),
        html.Div([
            html.H1(id="approvals-heading-text", className="h3 mb-1"),
            html.P(id="approvals-subtitle-text", className="text-muted mb-1"),
            html.P(id="approvals-asof-text", className="small text-muted mb-3"),
        ]),
        dbc.Alert(id="approvals-empty-alert", color="info", is_open=not has_data, className="mb-3"),
        html.Div([controls, html.P(id="approvals-filter-note-text", className="small text-muted mb-3")],
                 className="detail-filters", style=None if has_data else {"display": "none"}),
        html.Div([
            _card("dist", [
                html.P(id="approvals-dist-summary-text", className="mb-1 detail-summary"),
                dcc.Graph(id="approvals-dist-graph", style={"height": "300px"}, **graph),
                html.P(id="approvals-dist-note-text", className="small text-muted mb-0 mt-2"),
            ]),
            dbc.Row(trend_cols, className="g-3"),
            html.P(id="approvals-trend-note-text", className="small text-muted mt-n2 mb-3"),
            _card("overdue", [
                html.P(id="approvals-overdue-count-text", className="mb-1 detail-summary"),
                html.P(id="approvals-overdue-note-text", className="small text-muted mb-2"),
                dcc.Loading(html.Div(id="approvals-overdue-div"), type="dot", delay_show=300),
            ]),
            _card("items", [
                html.Div([
                    html.Label(id="approvals-order-label", htmlFor=FILTERS["order"], className="small me-2 mb-0"),
                    dbc.RadioItems(id=FILTERS["order"], options=views.order_options(lang), value=f["order"],
                                   inline=True, className="detail-order"),
                ], className="d-flex flex-wrap align-items-center mb-1"),
                html.P(id="approvals-items-note-text", className="small text-muted mb-2"),
                dcc.Loading(html.Div(id="approvals-items-div"), type="dot", delay_show=300),
            ]),
        ], style=None if has_data else {"display": "none"}),
    ], className="detail-page approvals-page")


# ---- callbacks: read inputs, call models through views, return ----------------------------------------------------


def render_labels(lang: str | None, month_options: list[dict] | None) -> tuple:
    """Every fixed text and option label, re-rendered when the language changes."""
    lang = current_lang(lang)
    config, viewer = current_config(), current_viewer()
    periods = [o["value"] for o in month_options or []]
    months = views.month_options(periods, lang)
    return (t("approvals.title", lang), t("approvals.subtitle", lang), t("approvals.empty", lang),
            t("approvals.filter.region", lang), t("approvals.filter.start", lang), t("approvals.filter.end", lang),
            t("approvals.filter.dept", lang), t("approvals.filter.channel", lang), t("approvals.filter.note", lang),
            views.region_options(config, viewer, lang), months, months, views.channel_options(CHANNELS, lang),
            t("approvals.filter.all_depts", lang), t("approvals.filter.all_channels", lang),
            dropdown_labels(lang), dropdown_labels(lang), dropdown_labels(lang), dropdown_labels(lang),
            dropdown_labels(lang), t("approvals.items.order", lang), views.order_options(lang),
            t("approvals.dist.note", lang, limit=views.DIST_LIMIT), t("approvals.trend.note", lang),
            t("approvals.overdue.note", lang, n=views.OVERDUE_LIMIT),
            t("approvals.items.note", lang, n=views.ITEMS_LIMIT))


def render_asof(lang: str | None) -> str:
    return views.asof_text(warehouse_read(lambda s: data_as_of(session=s), default=None), current_lang(lang))


def _key(f: dict) -> tuple:
    """What a filtered read depends on besides the viewer and the data version (which every cache key holds);
    the day matters for the as-of day of the running month."""
    return (*sorted((k, v) for k, v in f.items() if k != "lang"), _today())


def render_distribution(region, start, end, dept, channel, lang):  # noqa: ANN001, ANN201
    """The distribution of working days of the cases completed in the chosen months."""
    lang = current_lang(lang)
    if not end:
        return "", "", empty_figure(t("figure.no_data", lang))
    f = _filters(region, start, end, dept, channel)
    frame = warehouse_read(lambda s: details.working_days_distribution(
        session=s, viewer=current_viewer(), config=current_config(), region_code=f["region"], period=f["end"],
        start_period=f["start"], dept_code=f["dept"], channel=f["channel"], limit=views.DIST_LIMIT),
        default=pd.DataFrame(columns=["working_days", "cases", "within_limit", "beyond_limit", "no_limit"]),
        cache_key=("approvals.distribution", *_key(f)), version=FACTS)
    heading = t("approvals.dist.heading", lang, region=views.region_label(f["region"], current_config(), lang),
                range=views.range_text(f["start"], f["end"], lang))
    return heading, views.distribution_summary(frame, lang), views.distribution_figure(frame, lang)


def render_trends(region, start, end, lang):  # noqa: ANN001, ANN201
    """Online rate and visits by month from the KPI marts, for the 12 months up to the last chosen month."""
    lang = current_lang(lang)
    config = current_config()
    kpis = views.trend_kpis(config)
    if not end or not kpis:
        blank = empty_figure(t("figure.no_data", lang))
        return "", "", blank, blank
    region_code = region or config.city.code
    periods = views.trend_periods(end)
    frame = warehouse_read(lambda s: read_kpi_monthly(session=s, viewer=current_viewer(),
                                                      kpi_codes=[k.code for k in kpis], periods=periods,
                                                      region_codes=[region_code]), default=pd.DataFrame(),
                           cache_key=("approvals.trends", region_code, tuple(periods), tuple(k.code for k in kpis)),
                           version=FACTS, shared=True)
    region_text = views.region_label(region_code, config, lang)
    out_titles, out_figs = [], []
    for i in range(2):
        if i >= len(kpis):
            out_titles.append("")
            out_figs.append(empty_figure(t("figure.no_data", lang)))
            continue
        kpi = kpis[i]
        out_titles.append(views.titled(t("approvals.trend.heading", lang, kpi=name_in(kpi, lang), region=region_text),
                                       views.kpi_help(kpi, lang, id_prefix=P, period=end)))
        out_figs.append(views.trend_figure(frame, kpi, config, lang, band=(start, end)))
    return out_titles[0], out_titles[1], out_figs[0], out_figs[1]


def render_overdue(region, end, dept, channel, lang):  # noqa: ANN001, ANN201
    """Cases open past their due date at the last chosen month's end."""
    lang = current_lang(lang)
    if not end:
        return "", "", []
    f = _filters(region, end, end, dept, channel, lang=lang)
    frame = warehouse_read(lambda s: views.overdue_source(s, current_viewer(), current_config(), f),
                           default=pd.DataFrame(columns=[c.field for c in views.OVERDUE_COLUMNS]),
                           cache_key=("approvals.overdue", *_key(f)), version=FACTS)
    heading = t("approvals.overdue.heading", lang, region=views.region_label(f["region"], current_config(), lang),
                asof=views.asof_day_text(f["end"], _today(), lang))
    table = data_table(table_id=views.OVERDUE_TABLE, frame=frame, lang=lang, filters=f, page_size=20, height=420)
    return heading, t("approvals.overdue.count", lang, n=f"{len(frame):,}"), table


def render_items(region, start, end, dept, channel, order, lang):  # noqa: ANN001, ANN201
    """Items ranked by mean working days or by limit compression over the chosen months."""
    lang = current_lang(lang)
    if not end:
        return "", []
    f = _filters(region, start, end, dept, channel, order, lang=lang)
    frame = warehouse_read(lambda s: views.items_source(s, current_viewer(), current_config(), f),
                           default=pd.DataFrame(columns=details.SLOWEST_COLUMNS),
                           cache_key=("approvals.items", *_key(f)), version=FACTS)
    heading = t("approvals.items.heading", lang, region=views.region_label(f["region"], current_config(), lang),
                range=views.range_text(f["start"], f["end"], lang))
    return heading, data_table(table_id=views.ITEMS_TABLE, frame=frame, lang=lang, filters=f, page_size=20,
                               height=420)


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    ids = FILTERS
    app.callback(
        Output("approvals-heading-text", "children"), Output("approvals-subtitle-text", "children"),
        Output("approvals-empty-alert", "children"),
        *[Output(f"approvals-{n}-label", "children") for n in ("region", "start", "end", "dept", "channel")],
        Output("approvals-filter-note-text", "children"),
        Output(ids["region"], "options"), Output(ids["start"], "options"), Output(ids["end"], "options"),
        Output(ids["channel"], "options"), Output(ids["dept"], "placeholder"), Output(ids["channel"], "placeholder"),
        *[Output(ids[n], "labels") for n in ("region", "start", "end", "dept", "channel")],
        Output("approvals-order-label", "children"), Output(ids["order"], "options"),
        Output("approvals-dist-note-text", "children"), Output("approvals-trend-note-text", "children"),
        Output("approvals-overdue-note-text", "children"), Output("approvals-items-note-text", "children"),
        Input(LANG, "data"), State(ids["end"], "options"),
    )(render_labels)
    app.callback(Output("approvals-asof-text", "children"), Input(LANG, "data"))(render_asof)
    # Filters → address bar, one history entry per change; the default order stays out of plain links.
    register_url_sync(app, page=P, fields={n: (ids[n], "value") for n in FILTERS}, defaults={"order": "time"})
    filters = [Input(ids[n], "value") for n in ("region", "start", "end", "dept", "channel")]
    app.callback(
        Output("approvals-dist-heading-text", "children"), Output("approvals-dist-summary-text", "children"),
        Output("approvals-dist-graph", "figure"), *filters, Input(LANG, "data"),
    )(render_distribution)
    app.callback(
        Output("approvals-trend1-heading-text", "children"), Output("approvals-trend2-heading-text", "children"),
        Output("approvals-trend1-graph", "figure"), Output("approvals-trend2-graph", "figure"),
        Input(ids["region"], "value"), Input(ids["start"], "value"), Input(ids["end"], "value"), Input(LANG, "data"),
    )(render_trends)
    app.callback(
        Output("approvals-overdue-heading-text", "children"), Output("approvals-overdue-count-text", "children"),
        Output("approvals-overdue-div", "children"),
        Input(ids["region"], "value"), Input(ids["end"], "value"), Input(ids["dept"], "value"),
        Input(ids["channel"], "value"), Input(LANG, "data"),
    )(render_overdue)
    app.callback(
        Output("approvals-items-heading-text", "children"), Output("approvals-items-div", "children"),
        *filters, Input(ids["order"], "value"), Input(LANG, "data"),
    )(render_items)
