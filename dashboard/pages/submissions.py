"""County submissions (县区报送): who has sent a month's county figures, who is late, what was refused; the template.

A month's figures are due by `dashboard.submission_deadline_day` of the following month. The blank workbook is
written by `etl.template.write_template`, the same code `bizenv template` uses, so the page never drifts from the
loader.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update
from sqlalchemy.orm import Session

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, format_datetime, format_period, name_in, t
from dashboard.context import cached_read, current_config, current_lang, current_viewer, warehouse_read
from dashboard.tables import Column, data_table, register_table_source
from dashboard.urlstate import register_url_sync, restore, url_location
from models.config import Config
from models.kpis import current_period, previous_period
from models.ops_reads import submission_rejections, submission_status
from models.scope import Viewer

LANG = "app-lang-store"
MONTHS_SHOWN = 12
TABLE = "submissions-rejections"
# A submission state in the one colour language: the status class and an icon, always with a word.
STATE_LOOK = {"on_time": ("status-met", "✓"), "late": ("status-near", "◷"), "rejected": ("status-missed", "✗"),
              "overdue": ("status-missed", "!"), "pending": ("status-none", "…")}

dash.register_page(__name__, path="/submissions", order=5, name=t("nav.submissions", DEFAULT_LANG),
                   title=t("submissions.title", DEFAULT_LANG), nav_key="nav.submissions")


def _today(config: Config) -> dt.date:
    return dt.datetime.now(ZoneInfo(config.timezone)).date()


def reporting_months(config: Config, today: dt.date | None = None) -> list[str]:
    """The months whose figures can be due, newest first: the month before the running one and the 11 before it."""
    period = previous_period(current_period(config.timezone, today))
    out = []
    for _ in range(MONTHS_SHOWN):
        out.append(period)
        period = previous_period(period)
    return out


def template_bytes(*, config: Config, region_code: str, period: str) -> tuple[str, bytes]:
    """The blank county workbook for a month as (file name, bytes), written by etl.template (never duplicated)."""
    from etl.template import write_template  # the writer lives with the loader it mirrors

    with tempfile.TemporaryDirectory() as folder:
        path = write_template(config=config, region_code=region_code, period=period, out_dir=Path(folder))
        return path.name, path.read_bytes()


def _unit_names(config: Config, lang: str) -> dict[str, str]:
    return {u.code: name_in(u, lang) for u in config.city.units}


def rejections_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The refused files and rows of a month, with the county and the reason in the reader's language."""
    lang = filters.get("lang", DEFAULT_LANG)
    frame = submission_rejections(session=session, viewer=viewer, config=config, period=filters.get("month", ""))
    frame["county"] = frame["region_code"].map(_unit_names(config, lang)).fillna(frame["region_code"])
    frame["kind_text"] = frame["kind"].map(lambda k: t(f"submissions.kind.{k}", lang))
    frame["reason"] = frame["reason_zh" if lang == "zh" else "reason_en"]
    return frame


register_table_source(TABLE, rejections_source, [
    Column("county", "submissions.col.county", width=110), Column("filename", "submissions.col.file"),
    Column("kind_text", "submissions.col.kind", width=110), Column("source_line", "submissions.col.line", "int", 90),
    Column("reason", "submissions.col.reason"), Column("received_at", "submissions.col.received", "datetime"),
])


# ---- layout ------------------------------------------------------------------------------------------------------


def layout(lang: str | None = None, month: str | None = None, **_query: str) -> html.Div:
    """Built on every visit; `month` comes from a shared link."""
    lang = current_lang(lang)
    config = current_config()
    months = reporting_months(config)
    month = restore(month, allowed=months, default=months[0])
    units = [{"label": name_in(u, lang), "value": u.code} for u in config.city.units]
    return html.Div([
        url_location("submissions"),
        html.H1(id="submissions-heading-text", className="h3 mb-1"),
        html.P(id="submissions-subtitle-text", className="text-muted mb-2"),
        dbc.Row([dbc.Col([html.Label(id="submissions-month-label", htmlFor="submissions-month-dropdown",
                                     className="form-label small mb-1"),
                          dcc.Dropdown(id="submissions-month-dropdown", value=month, clearable=False,
                                       searchable=False,
                                       options=[{"label": format_period(m, lang), "value": m} for m in months])],
                         xs=12, sm=6, lg=4)], className="g-2 mb-2"),
        html.P(id="submissions-deadline-text", className="mb-1 fw-semibold"),
        html.P(id="submissions-summary-text", className="mb-3"),
        html.H2(id="submissions-units-title-text", className="h5"),
        dbc.Row(id="submissions-units-row", className="g-2 mb-4"),
        dbc.Card([dbc.CardHeader(html.H2(id="submissions-rejections-title-text", className="h6 mb-0")),
                  dbc.CardBody(id="submissions-rejections-container", className="p-2 p-md-3")], className="mb-4"),
        dbc.Card([
            dbc.CardHeader(html.H2(id="submissions-template-title-text", className="h6 mb-0")),
            dbc.CardBody([
                html.P(id="submissions-template-help-text", className="small text-muted"),
                dbc.Row([
                    dbc.Col([html.Label(id="submissions-county-label", htmlFor="submissions-county-dropdown",
                                        className="form-label small mb-1"),
                             dcc.Dropdown(id="submissions-county-dropdown", options=units, value=units[0]["value"],
                                          clearable=False, searchable=False)], xs=12, sm=6, lg=4),
                    dbc.Col(dbc.Button(id="submissions-template-button", color="primary", n_clicks=0,
                                       className="w-100"), xs=12, sm=6, lg=3, className="d-flex align-items-end"),
                ], className="g-2"),
                dcc.Download(id="submissions-template-download"),
            ]),
        ], className="mb-4"),
    ], className="submissions-page")


# ---- callbacks ---------------------------------------------------------------------------------------------------


def _unit_card(row: Mapping[str, Any], lang: str) -> dbc.Col:
    css, icon = STATE_LOOK[row["status"]]
    received = row.get("received_at")
    when = (t("submissions.received", lang, when=format_datetime(pd.Timestamp(received).to_pydatetime(), lang))
            if received is not None and not pd.isna(received) else t("submissions.not_received", lang))
    return dbc.Col(html.Div([
        html.Div([html.Span(row["name_zh"] if lang == "zh" else row["name_en"], className="fw-semibold"),
                  html.Span([html.Span(icon, className="status-icon", **{"aria-hidden": "true"}),
                             t(f"submissions.status.{row['status']}", lang)], className=f"status-badge {css}")],
                 className="d-flex justify-content-between align-items-center gap-2"),
        html.Div(when, className="small text-muted mt-1"),
    ], className=f"submission-unit {css}-edge"), xs=12, sm=6, lg=4, xl=3)


def render(month: str | None, lang: str | None) -> tuple:
    """Every text of the page, one card per county and the table of refusals, for a month."""
    lang = current_lang(lang)
    config = current_config()
    months = reporting_months(config)
    month = month if month in months else months[0]
    status = cached_read("submissions.status", submission_status, default=pd.DataFrame(), shared=True,
                         viewer=current_viewer(), config=config, period=month, today=_today(config))
    counts = status["status"].value_counts().to_dict() if not status.empty else {}
    n = {k: int(counts.get(k, 0)) for k in STATE_LOOK}
    deadline = status["deadline"].iloc[0] if not status.empty else None
    summary = t("submissions.summary", lang, done=n["on_time"] + n["late"], total=len(status), **n)
    frame = warehouse_read(lambda s: rejections_source(s, current_viewer(), config, {"month": month, "lang": lang}),
                           default=pd.DataFrame(), cache_key=("submissions.rejections", month, lang))
    table = (data_table(table_id=TABLE, frame=frame, lang=lang, filters={"month": month, "lang": lang},
                        page_size=10, height=360)
             if not frame.empty else html.P(t("submissions.rejections_none", lang), className="text-muted mb-0"))
    return (
        t("submissions.title", lang), t("submissions.subtitle", lang), t("submissions.month_label", lang),
        [{"label": format_period(m, lang), "value": m} for m in months], dropdown_labels(lang),
        t("submissions.deadline", lang, date=_date_text(deadline, lang)) if deadline else "", summary,
        t("submissions.units_title", lang), [_unit_card(r, lang) for r in status.to_dict("records")],
        t("submissions.rejections_title", lang), table,
        t("submissions.template_title", lang), t("submissions.template_help", lang),
        t("submissions.template_county", lang), t("submissions.template_button", lang),
        [{"label": name_in(u, lang), "value": u.code} for u in config.city.units],
    )


def _date_text(day: dt.date, lang: str) -> str:
    return t("submissions.date", lang, period=format_period(f"{day.year}-{day.month:02d}", lang), day=day.day)


def download_template(n_clicks: int | None, region: str | None, month: str | None) -> Any:
    """Send the blank workbook for the chosen county and month."""
    config = current_config()
    if not n_clicks or region not in config.unit_codes() or month not in reporting_months(config):
        return no_update
    name, data = template_bytes(config=config, region_code=region, period=month)
    return dcc.send_bytes(data, name)


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    app.callback(
        Output("submissions-heading-text", "children"), Output("submissions-subtitle-text", "children"),
        Output("submissions-month-label", "children"), Output("submissions-month-dropdown", "options"),
        Output("submissions-month-dropdown", "labels"), Output("submissions-deadline-text", "children"),
        Output("submissions-summary-text", "children"), Output("submissions-units-title-text", "children"),
        Output("submissions-units-row", "children"), Output("submissions-rejections-title-text", "children"),
        Output("submissions-rejections-container", "children"), Output("submissions-template-title-text", "children"),
        Output("submissions-template-help-text", "children"), Output("submissions-county-label", "children"),
        Output("submissions-template-button", "children"), Output("submissions-county-dropdown", "options"),
        Input("submissions-month-dropdown", "value"), Input(LANG, "data"),
    )(render)
    app.callback(Output("submissions-template-download", "data"), Input("submissions-template-button", "n_clicks"),
                 State("submissions-county-dropdown", "value"), State("submissions-month-dropdown", "value"),
                 prevent_initial_call=True)(download_template)
    register_url_sync(app, page="submissions", fields={"month": ("submissions-month-dropdown", "value")})
