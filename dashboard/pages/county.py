"""County profile (县区画像): one county against the city and the best county, why its rank moved, and its cases.

Filters live in the URL (`?region=CODE&month=YYYY-MM&kpi=CODE`), restored by the layout and kept in step with
the dropdowns both ways by one callback, as on the ranking page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from sqlalchemy.orm import Session

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, format_period, name_in, t
from dashboard.context import FACTS, cached_read, current_config, current_lang, current_viewer, warehouse_read
from dashboard.figures import empty_figure
from dashboard.tables import Column, data_table, register_table_source
from dashboard.views import county as views
from dashboard.views import ranking as rviews
from models.config import Config
from models.kpis import current_period, data_as_of
from models.ranking_reads import kpi_comparison, kpi_trend, pillar_scores, rank_story, ranking_periods
from models.scope import Viewer

try:  # case-level reads, scoped by viewer (models/details.py); a missing one shows an empty table with a note
    from models import details as _details
except ImportError:  # pragma: no cover - only while that module is being written
    _details = None

LANG = "app-lang-store"

dash.register_page(__name__, path="/county", order=2, name=t("county.nav", DEFAULT_LANG),
                   title=t("county.title", DEFAULT_LANG), nav_key="county.nav")


# ---- drill-down tables: sources through models/details.py ---------------------------------------------------------

DRILLS: dict[str, tuple[str, str, list[Column]]] = {
    # table id: (details function, title key, columns)
    "county-slowest": ("slowest_items", "county.drill.slowest", [
        Column("item_name", "county.col.item_name", width=220), Column("dept_name", "county.col.dept_name"),
        Column("cases", "county.col.cases", "int"), Column("mean_working_days", "county.col.mean_working_days",
                                                           "float1"),
        Column("max_working_days", "county.col.max_working_days", "int"),
        Column("promised_days", "county.col.promised_days", "int"),
        Column("statutory_days", "county.col.statutory_days", "int"),
        Column("compression", "county.col.compression", "percent"),
    ]),
    "county-overdue-cases": ("overdue_open_cases", "county.drill.overdue_cases", [
        Column("case_id", "county.col.case_id", width=160), Column("item_name", "county.col.item_name", width=200),
        Column("dept_name", "county.col.dept_name"), Column("channel", "county.col.channel"),
        Column("accepted_at", "county.col.accepted_at"), Column("due_date", "county.col.due_date"),
        Column("days_overdue", "county.col.days_overdue", "int"),
    ]),
    "county-bad-reviews": ("unrectified_bad_reviews", "county.drill.bad_reviews", [
        Column("rating_id", "county.col.rating_id", width=150), Column("case_id", "county.col.case_id", width=150),
        Column("rated_at", "county.col.rated_at"), Column("level", "county.col.level"),
        Column("comment", "county.col.comment", width=240), Column("deadline", "county.col.deadline"),
        Column("working_days_since", "county.col.working_days_since", "int"),
    ]),
    "county-overdue-tickets": ("overdue_tickets", "county.drill.overdue_tickets", [
        Column("ticket_id", "county.col.ticket_id", width=150), Column("category", "county.col.category"),
        Column("status", "county.col.status"), Column("received_at", "county.col.received_at"),
        Column("due_at", "county.col.due_at"), Column("days_late", "county.col.days_late", "int"),
        Column("content", "county.col.content", width=260),
    ]),
}


def _details_read(name: str) -> Callable[..., pd.DataFrame] | None:
    return getattr(_details, name, None) if _details is not None else None


def _drill_source(table_id: str) -> Callable[[Session, Viewer, Config, Mapping[str, Any]], pd.DataFrame]:
    function, _title, columns = DRILLS[table_id]
    fields = [c.field for c in columns]

    def source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
        """The table's rows for this viewer; empty (never another county's rows) when the read refuses."""
        read = _details_read(function)
        region, period = filters.get("region"), filters.get("period")
        if read is None or not region or not period:
            return pd.DataFrame(columns=fields)
        try:
            frame = read(session=session, viewer=viewer, config=config, region_code=region, period=period)
        except PermissionError:  # models.details.DetailScopeError: not this viewer's county
            return pd.DataFrame(columns=fields)
        return frame.reindex(columns=fields)

    return source


for _table_id, (_fn, _title, _columns) in DRILLS.items():
    register_table_source(_table_id, _drill_source(_table_id), _columns)


# ---- reads -------------------------------------------------------------------------------------------------------


def periods_newest_first() -> list[str]:
    """Completed months with a ranking, newest first (shared with the ranking page's cache entry)."""
    running = current_period(current_config().timezone)
    return cached_read("ranking.periods", ranking_periods, default=[], version=FACTS, shared=True,
                       viewer=current_viewer(), before=running)


def default_region(config: Config, viewer: Viewer) -> str | None:
    """A county bureau opens on its own county; everyone else on the first configured unit."""
    codes = config.unit_codes()
    return viewer.region_code if viewer.region_code in codes else (codes[0] if codes else None)


# ---- layout ------------------------------------------------------------------------------------------------------


def _selector(label_id: str, dropdown: dcc.Dropdown) -> dbc.Col:
    return dbc.Col([html.Label(id=label_id, htmlFor=dropdown.id, className="form-label small mb-1"), dropdown],
                   xs=12, sm=6, lg=3)


def _card(heading_id: str, body: list, *, note_id: str | None = None) -> dbc.Card:
    parts = [*body] + ([html.P(id=note_id, className="small text-muted mb-0 mt-2")] if note_id else [])
    return dbc.Card([dbc.CardHeader(html.H2(id=heading_id, className="h6 mb-0")),
                     dbc.CardBody(parts, className="p-2 p-md-3")], className="mb-4 rk-card")


def _graph(graph_id: str, height: int) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config=rviews.GRAPH_CONFIG, responsive=True, figure=empty_figure(""),
                     style={"height": f"{height}px"})


def layout(lang: str | None = None, region: str | None = None, month: str | None = None, kpi: str | None = None,
           **_query: str) -> html.Div:
    """Built on every visit; the query string picks the county, the month and the trend KPI."""
    lang = current_lang(lang)
    config = current_config()
    periods = periods_newest_first()
    codes = config.unit_codes()
    kpi_codes = [k.code for k in config.kpis]
    has_data = bool(periods)
    shown = None if has_data else {"display": "none"}
    region_dd = dcc.Dropdown(id="county-region-dropdown", options=views.region_options(config, lang),
                             value=rviews.pick(region, codes, default_region(config, current_viewer())),
                             clearable=False, searchable=False)
    month_dd = dcc.Dropdown(id="county-month-dropdown", options=rviews.month_options(periods, lang),
                            value=rviews.pick(month, periods, periods[0] if periods else None), clearable=False,
                            searchable=False)
    kpi_dd = dcc.Dropdown(id="county-kpi-dropdown", options=rviews.kpi_options(config.kpis, lang),
                          value=rviews.pick(kpi, kpi_codes, kpi_codes[0] if kpi_codes else None), clearable=False,
                          searchable=False)
    drills = [html.Div([html.H3(id=f"{table_id}-title-text", className="h6 mt-3"),
                        html.P(id=f"{table_id}-note-text", className="small text-muted mb-1"),
                        html.Div(id=f"{table_id}-div")]) for table_id in DRILLS]
    return html.Div([
        dcc.Location(id="county-url-location", refresh=False),
        dcc.Link(id="county-back-link", href="/ranking", className="small d-inline-block mb-2"),
        html.Div([
            html.H1(id="county-heading-text", className="h3 mb-1"),
            html.P(id="county-subtitle-text", className="text-muted mb-1"),
            html.P(id="county-asof-text", className="small text-muted mb-3"),
        ]),
        dbc.Alert(id="county-empty-alert", color="info", is_open=not has_data, className="mb-3"),
        dbc.Row([_selector("county-region-label", region_dd), _selector("county-month-label", month_dd)],
                className="g-2 mb-3", style=shown),
        html.Div([
            dbc.Row(id="county-summary-row", className="g-3 mb-4 cp-summary"),
            dbc.Row([
                dbc.Col(_card("county-radar-heading-text", [_graph("county-radar-graph", 400)],
                              note_id="county-radar-note-text"), xs=12, lg=5),
                dbc.Col(_card("county-why-heading-text", [html.Div(id="county-why-div")]), xs=12, lg=7),
            ], className="g-3"),
            _card("county-compare-heading-text", [html.Div(id="county-compare-div")],
                  note_id="county-compare-note-text"),
            _card("county-trend-heading-text", [
                html.Div([html.Label(id="county-kpi-label", htmlFor="county-kpi-dropdown",
                                     className="form-label small mb-1"), kpi_dd], className="mb-2 rk-funnel-pick"),
                _graph("county-trend-graph", 360),
                html.P(id="county-events-text", className="cp-events text-muted mb-0 mt-1"),
            ], note_id="county-trend-note-text"),
            _card("county-drill-heading-text", [html.P(id="county-drill-note-text", className="cp-drill-note mb-1"),
                                                *drills]),
        ], style=shown),
    ], className="county-page")


# ---- callbacks ---------------------------------------------------------------------------------------------------


def render_labels(lang: str | None, month_options: list[dict] | None) -> tuple:
    """Every fixed text of the page, re-rendered when the language changes."""
    lang = current_lang(lang)
    config = current_config()
    periods = [o["value"] for o in month_options or []]
    return (t("county.subtitle", lang), t("county.region_label", lang), t("county.month_label", lang),
            t("county.kpi_label", lang), views.region_options(config, lang), rviews.month_options(periods, lang),
            rviews.kpi_options(config.kpis, lang), dropdown_labels(lang), dropdown_labels(lang),
            dropdown_labels(lang), t("county.empty", lang), t("county.radar.note", lang),
            t("county.why.heading", lang), t("county.compare.note", lang), t("county.trend.note", lang),
            t("county.drill.note", lang), *[t(DRILLS[i][1], lang) for i in DRILLS])


def render_asof(lang: str | None) -> str:
    return rviews.asof_text(cached_read("overview.asof", data_as_of, default=None, shared=True), current_lang(lang))


def sync_url(search: str | None, region: str | None, month: str | None, kpi: str | None,
             region_options: list[dict] | None, month_options: list[dict] | None,
             kpi_options: list[dict] | None) -> tuple:
    """Dropdowns → address bar (a new history entry); address bar (back/forward) → dropdowns."""
    current = {"region": region, "month": month, "kpi": kpi}
    if ctx.triggered_id == "county-url-location":
        query = rviews.parse_search(search)
        out: list = [no_update]
        for key, options in (("region", region_options), ("month", month_options), ("kpi", kpi_options)):
            allowed = [o["value"] for o in options or []]
            value = rviews.pick(query.get(key), allowed, current[key] if key == "region" else
                                (allowed[0] if allowed else None))
            out.append(value if value != current[key] else no_update)
        return tuple(out)
    wanted = rviews.build_search(current)
    same = rviews.parse_search(wanted) == rviews.parse_search(search)
    return (no_update if same else wanted), no_update, no_update, no_update


def render_profile(region: str | None, month: str | None, lang: str | None) -> tuple:
    """Heading, summary cards, radar, comparison table and why the rank moved, for the county and month."""
    lang = current_lang(lang)
    config = current_config()
    unit = views.unit_by_code(config, region)
    back = rviews.build_search({"month": month})
    if unit is None or not month:
        blank = empty_figure(t("figure.no_data", lang))
        return (t("county.title", lang), [], "", blank, [], "", [], "/ranking" + back,
                t("county.back_to_ranking", lang))

    def read(s: Session) -> tuple:
        viewer = current_viewer()
        return (pillar_scores(session=s, viewer=viewer, config=config, period=month, region_code=unit.code),
                kpi_comparison(session=s, viewer=viewer, config=config, period=month, region_code=unit.code),
                rank_story(session=s, viewer=viewer, config=config, region_code=unit.code, period=month))

    # Shared: the three reads ignore the viewer (KPI values and rankings are visible to every role).
    scores, comparison, story = warehouse_read(read, default=({}, pd.DataFrame(), None), version=FACTS,
                                               shared=True, cache_key=("county.profile", unit.code, month))
    if story is None:
        blank = empty_figure(t("figure.no_data", lang))
        return (t("county.heading", lang, county=name_in(unit, lang)), [], "", blank, [], "", [],
                "/ranking" + back, t("county.back_to_ranking", lang))
    best = views.unit_by_code(config, scores.get("best", {}).get("region_code"))
    best_name = name_in(best, lang) if best is not None else None
    period = format_period(month, lang)
    return (
        t("county.heading", lang, county=name_in(unit, lang)),
        views.summary_cards(story=story, scores=scores, comparison=comparison, best_name=best_name, lang=lang),
        t("county.radar.heading", lang, period=period),
        views.radar_figure(scores, county_name=name_in(unit, lang), best_name=best_name, lang=lang),
        views.why_panel(story, config, lang),
        t("county.compare.heading", lang, period=period),
        views.comparison_table(comparison, config, period=month, lang=lang),
        "/ranking" + back, t("county.back_to_ranking", lang),
    )


def render_trend(region: str | None, month: str | None, kpi_code: str | None, lang: str | None) -> tuple:
    """One KPI of the county and the city over 24 months, with the configured policy events."""
    lang = current_lang(lang)
    config = current_config()
    unit, kpi = views.unit_by_code(config, region), config.kpi_by_code.get(kpi_code or "")
    if unit is None or kpi is None or not month:
        return "", empty_figure(t("figure.no_data", lang)), ""
    frame = cached_read("county.trend", kpi_trend, default=pd.DataFrame(columns=["period", "series", "value",
                                                                                "sample_size"]),
                        version=FACTS, shared=True, viewer=current_viewer(), config=config, region_code=unit.code,
                        kpi_code=kpi.code, period=month)
    events = config.dashboard.events
    fig = views.trend_figure(frame, kpi, county_name=name_in(unit, lang), events=events, lang=lang)
    return (t("county.trend.heading", lang, kpi=name_in(kpi, lang)), fig,
            views.events_note(events, sorted(frame["period"].unique()), lang))


def render_drill_heading(region: str | None, month: str | None, lang: str | None) -> str:  # noqa: ARG001
    """The drill-down card's heading; each table fills itself (`render_drill`), so the four reads run side by side."""
    lang = current_lang(lang)
    return t("county.drill.heading", lang, period=format_period(month, lang)) if month else ""


def render_drill(table_id: str) -> Callable[[str | None, str | None, str | None], tuple]:
    """The callback of one drill-down table: its note and its grid, with rows through models/details.py for the
    current viewer. One callback per table keeps each under the time budget and shows each as soon as it is read."""
    function, _title, columns = DRILLS[table_id]

    def render(region: str | None, month: str | None, lang: str | None) -> tuple:
        lang = current_lang(lang)
        config = current_config()
        unit = views.unit_by_code(config, region)
        filters = {"region": unit.code if unit else None, "period": month}
        allowed = unit is not None and current_viewer().can_see_detail(unit.code)
        note = "" if _details_read(function) else t("county.drill.pending", lang)
        if not allowed:
            note = t("county.drill.denied", lang)
        frame = pd.DataFrame(columns=[c.field for c in columns])
        if allowed and unit is not None and month and _details_read(function):
            today = dt.datetime.now(ZoneInfo(config.timezone)).date()
            source = _drill_source(table_id)
            frame = warehouse_read(lambda s: source(s, current_viewer(), config, filters),
                                   default=frame, version=FACTS,
                                   # the day: the running month's lists are judged as of today
                                   cache_key=("county.drill", table_id, unit.code, month, today))
        return note, data_table(table_id=table_id, frame=frame, lang=lang, filters=filters, page_size=10,
                                height=380)

    render.__name__ = f"render_drill_{table_id.replace('-', '_')}"
    return render


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    app.callback(
        Output("county-subtitle-text", "children"), Output("county-region-label", "children"),
        Output("county-month-label", "children"), Output("county-kpi-label", "children"),
        Output("county-region-dropdown", "options"), Output("county-month-dropdown", "options"),
        Output("county-kpi-dropdown", "options"), Output("county-region-dropdown", "labels"),
        Output("county-month-dropdown", "labels"), Output("county-kpi-dropdown", "labels"),
        Output("county-empty-alert", "children"), Output("county-radar-note-text", "children"),
        Output("county-why-heading-text", "children"), Output("county-compare-note-text", "children"),
        Output("county-trend-note-text", "children"), Output("county-drill-note-text", "children"),
        *[Output(f"{table_id}-title-text", "children") for table_id in DRILLS],
        Input(LANG, "data"), State("county-month-dropdown", "options"),
    )(render_labels)
    app.callback(Output("county-asof-text", "children"), Input(LANG, "data"))(render_asof)
    app.callback(
        Output("county-url-location", "search"), Output("county-region-dropdown", "value"),
        Output("county-month-dropdown", "value"), Output("county-kpi-dropdown", "value"),
        Input("county-url-location", "search"), Input("county-region-dropdown", "value"),
        Input("county-month-dropdown", "value"), Input("county-kpi-dropdown", "value"),
        State("county-region-dropdown", "options"), State("county-month-dropdown", "options"),
        State("county-kpi-dropdown", "options"),
        prevent_initial_call=True,
    )(sync_url)
    app.callback(
        Output("county-heading-text", "children"), Output("county-summary-row", "children"),
        Output("county-radar-heading-text", "children"), Output("county-radar-graph", "figure"),
        Output("county-why-div", "children"), Output("county-compare-heading-text", "children"),
        Output("county-compare-div", "children"), Output("county-back-link", "href"),
        Output("county-back-link", "children"),
        Input("county-region-dropdown", "value"), Input("county-month-dropdown", "value"), Input(LANG, "data"),
    )(render_profile)
    app.callback(
        Output("county-trend-heading-text", "children"), Output("county-trend-graph", "figure"),
        Output("county-events-text", "children"),
        Input("county-region-dropdown", "value"), Input("county-month-dropdown", "value"),
        Input("county-kpi-dropdown", "value"), Input(LANG, "data"),
    )(render_trend)
    drill_inputs = (Input("county-region-dropdown", "value"), Input("county-month-dropdown", "value"),
                    Input(LANG, "data"))
    app.callback(Output("county-drill-heading-text", "children"), *drill_inputs)(render_drill_heading)
    for table_id in DRILLS:
        app.callback(Output(f"{table_id}-note-text", "children"), Output(f"{table_id}-div", "children"),
                     *drill_inputs)(render_drill(table_id))
