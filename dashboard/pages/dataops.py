"""Data operations (数据运行), for staff: how fresh each source is, the ETL runs, the schedule, the quarantine.

The quarantine browser pages on the server (50 rows a page) with the reason in the reader's language; dataset,
reason and page live in the URL so a link to "the unknown-region rows of the approvals" can be sent around.

"Run now" (analysts and admins): a job runs in a background thread (dashboard.etl_runner, one at a time per
process) and the page polls it with an interval that is switched off while nothing runs. The role is checked on
the server from the session on every click; a leader's or county's click (even a forged one) runs nothing, gets a
note and is audited as refused. The runs table reads again when a run ends.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import flask
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import MissingCallbackContextException
from sqlalchemy.orm import Session

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, format_datetime, t
from dashboard.context import (
    cached_read,
    current_config,
    current_lang,
    current_viewer,
    current_warehouse,
    warehouse_read,
)
from dashboard.etl_runner import RunState, may_run, runner_for
from dashboard.tables import Column, data_table, register_table_source
from dashboard.urlstate import register_url_sync, restore, url_location
from models.config import Config
from models.ops_reads import etl_runs, job_schedule, quarantine_page, quarantine_reasons, source_freshness
from models.scope import Viewer

LANG = "app-lang-store"
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
RUNS, QUARANTINE = "dataops-runs", "dataops-quarantine"
STATE_LOOK = {"fresh": ("status-met", "✓"), "stale": ("status-near", "◷"), "failed": ("status-missed", "✗"),
              "never": ("status-none", "–")}
ALL = "__all__"
POLL_MS = 1500

dash.register_page(__name__, path="/dataops", order=6, name=t("nav.dataops", DEFAULT_LANG),
                   title=t("dataops.title", DEFAULT_LANG), nav_key="nav.dataops")


def may_browse_quarantine(viewer: Viewer) -> bool:
    """Quarantined rows are raw records of any county: city staff only."""
    return viewer.role != "county"


def _now(config: Config) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None)


def _dataset_text(code: str, lang: str) -> str:
    key = f"dataops.dataset.{code}"
    from bizenv.i18n import MESSAGES

    return t(key, lang) if key in MESSAGES else code


def runs_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The latest ETL runs with the status in the reader's language."""
    del viewer, config
    lang = filters.get("lang", DEFAULT_LANG)
    frame = etl_runs(session=session)
    frame["status_text"] = frame["status"].map(lambda s: t(f"dataops.run_status.{s}", lang)
                                               if s in ("success", "failed", "running", "abandoned") else s)
    return frame


def quarantine_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """Quarantined rows for the filters (one page, or everything up to EXPORT_LIMIT for a download)."""
    del config
    lang = filters.get("lang", DEFAULT_LANG)
    if not may_browse_quarantine(viewer):
        return pd.DataFrame(columns=["run_id", "dataset_text", "source", "source_line", "reason", "raw"])
    page, size = (int(filters.get("page", 1)), PAGE_SIZE) if filters.get("paged") else (1, EXPORT_LIMIT)
    frame, _ = quarantine_page(session=session, dataset=filters.get("dataset"), reason_code=filters.get("reason"),
                               page=page, page_size=size)
    frame["dataset_text"] = frame["dataset"].map(lambda d: _dataset_text(d, lang))
    frame["reason"] = frame["reason_zh" if lang == "zh" else "reason_en"]
    frame["raw"] = frame["raw"].map(_compact_raw)
    frame["source"] = frame["source"].map(lambda s: str(s).rsplit("/", 1)[-1])
    return frame


def _compact_raw(raw: str) -> str:
    """The raw values as `key=value; …` (text, never HTML), so a row reads at a glance."""
    try:
        values = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    if not isinstance(values, dict):
        return str(values)
    return "; ".join(f"{k}={v}" for k, v in values.items() if v not in (None, ""))


register_table_source(RUNS, runs_source, [
    Column("id", "dataops.col.id", "int", 80), Column("job", "dataops.col.job", width=130),
    Column("trigger", "dataops.col.trigger", width=100),
    Column("started_at", "dataops.col.started", "datetime", 150),
    Column("seconds", "dataops.col.seconds", "float1", 100), Column("status_text", "dataops.col.status", width=100),
    Column("rows_read", "dataops.col.read", "int", 100), Column("rows_inserted", "dataops.col.inserted", "int", 100),
    Column("rows_rejected", "dataops.col.rejected", "int", 100), Column("error", "dataops.col.error"),
])
register_table_source(QUARANTINE, quarantine_source, [
    Column("run_id", "dataops.col.run", "int", 90), Column("dataset_text", "dataops.col.dataset", width=120),
    Column("source", "dataops.col.source", width=160), Column("source_line", "dataops.col.line", "int", 80),
    Column("reason", "dataops.col.reason", width=180), Column("raw", "dataops.col.raw", width=420),
])


# ---- layout ------------------------------------------------------------------------------------------------------


def _card(prefix: str, body_id: str, **body: Any) -> dbc.Card:
    return dbc.Card([dbc.CardHeader(html.H2(id=f"dataops-{prefix}-title-text", className="h6 mb-0")),
                     dbc.CardBody(id=body_id, className="p-2 p-md-3", **body)], className="mb-3 h-100")


def layout(lang: str | None = None, dataset: str | None = None, reason: str | None = None,
           page: str | None = None, **_query: str) -> html.Div:
    """Built on every visit; the quarantine filters come from a shared link."""
    lang = current_lang(lang)
    reasons = cached_read("dataops.reasons", quarantine_reasons, default=pd.DataFrame())
    datasets = sorted(set(reasons["dataset"])) if not reasons.empty else []
    dataset = restore(dataset, allowed=datasets, default=ALL)
    codes = sorted(set(reasons["reason_code"])) if not reasons.empty else []
    reason = restore(reason, allowed=codes, default=ALL)
    page = restore(page, default=1, cast=int)
    return html.Div([
        url_location("dataops"),
        html.H1(id="dataops-heading-text", className="h3 mb-1"),
        html.P(id="dataops-subtitle-text", className="text-muted mb-3"),
        dbc.Row([
            dbc.Col(_card("freshness", "dataops-freshness-container"), xs=12, lg=7),
            dbc.Col(_card("schedule", "dataops-schedule-container"), xs=12, lg=5),
        ], className="g-3 mb-3"),
        _run_card(lang),
        dbc.Card([dbc.CardHeader(html.H2(id="dataops-runs-title-text", className="h6 mb-0")),
                  dbc.CardBody(id="dataops-runs-container", className="p-2 p-md-3")], className="mb-3"),
        dbc.Card([
            dbc.CardHeader(html.H2(id="dataops-quarantine-title-text", className="h6 mb-0")),
            dbc.CardBody([
                dbc.Row([
                    dbc.Col([html.Label(id="dataops-dataset-label", htmlFor="dataops-dataset-dropdown",
                                        className="form-label small mb-1"),
                             dcc.Dropdown(id="dataops-dataset-dropdown", value=dataset, clearable=False,
                                          searchable=False, options=_dataset_options(datasets, lang))],
                            xs=12, sm=6, lg=4),
                    dbc.Col([html.Label(id="dataops-reason-label", htmlFor="dataops-reason-dropdown",
                                        className="form-label small mb-1"),
                             dcc.Dropdown(id="dataops-reason-dropdown", value=reason, clearable=False,
                                          searchable=False, options=_reason_options(reasons, dataset, lang))],
                            xs=12, sm=6, lg=4),
                ], className="g-2 mb-2"),
                html.P(id="dataops-quarantine-count-text", className="small text-muted mb-1"),
                dbc.Pagination(id="dataops-quarantine-pagination", active_page=page, max_value=1,
                               fully_expanded=False, first_last=True, previous_next=True, size="sm",
                               className="mb-2 flex-wrap"),
                html.Div(id="dataops-quarantine-container"),
            ], className="p-2 p-md-3"),
        ], className="mb-4"),
    ], className="dataops-page")


def _run_card(lang: str) -> dbc.Card:
    """Job dropdown, "run now" button and the run's status; disabled for roles that may not run jobs."""
    config = current_config()
    allowed = may_run(current_viewer())
    jobs = list(config.jobs)
    state = runner_for(flask.current_app).state()
    return dbc.Card([
        dbc.CardHeader(html.H2(t("dataops.run_title", lang), id="dataops-run-title-text", className="h6 mb-0")),
        dbc.CardBody([
            dbc.Row([
                dbc.Col([html.Label(t("dataops.run_job_label", lang), id="dataops-run-job-label",
                                    htmlFor="dataops-run-job-dropdown", className="form-label small mb-1"),
                         dcc.Dropdown(id="dataops-run-job-dropdown", value=jobs[0] if jobs else None,
                                      clearable=False, searchable=False, disabled=not allowed,
                                      options=[{"label": j, "value": j} for j in jobs])], xs=12, sm=6, lg=4),
                dbc.Col(dbc.Button(t("dataops.run_button", lang), id="dataops-run-button", color="primary",
                                   size="sm", n_clicks=0, disabled=not allowed or state.running),
                        xs="auto", className="align-self-end"),
            ], className="g-2 mb-2"),
            html.P(id="dataops-run-status-text", role="status", className="small mb-0"),
            dcc.Interval(id="dataops-run-interval", interval=POLL_MS, n_intervals=0, disabled=not state.running),
            dcc.Store(id="dataops-run-done-store", data=state.generation),
        ], className="p-2 p-md-3"),
    ], className="mb-3")


def _dataset_options(datasets: list[str], lang: str) -> list[dict]:
    return [{"label": t("dataops.all", lang), "value": ALL}] + [
        {"label": _dataset_text(d, lang), "value": d} for d in datasets]


def _reason_options(reasons: pd.DataFrame, dataset: str | None, lang: str) -> list[dict]:
    rows = reasons if reasons.empty or dataset in (None, ALL) else reasons[reasons["dataset"] == dataset]
    seen: dict[str, str] = {}
    for r in rows.to_dict("records"):
        seen.setdefault(r["reason_code"], r["reason_zh" if lang == "zh" else "reason_en"])
    return [{"label": t("dataops.all", lang), "value": ALL}] + [{"label": v, "value": k} for k, v in seen.items()]


# ---- callbacks ---------------------------------------------------------------------------------------------------


def _duration(hours: float, lang: str) -> str:
    if hours < 1:
        return t("dataops.minutes", lang, n=max(1, round(hours * 60)))
    if hours < 48:
        return t("dataops.hours", lang, n=round(hours, 1) if hours < 10 else round(hours))
    return t("dataops.days", lang, n=round(hours / 24))


def render_status(lang: str | None, run_generation: int | None = None) -> tuple:
    """The page's texts, the freshness of each source, the schedule and the runs table.

    `run_generation` changes when a UI run ends: a failed run does not change the data version, so the runs
    table's cache key carries it too.
    """
    lang = current_lang(lang)
    config = current_config()
    now = _now(config).replace(second=0, microsecond=0)
    fresh = cached_read("dataops.freshness", source_freshness, default=pd.DataFrame(), config=config, now=now)
    items = []
    for r in fresh.to_dict("records"):
        css, icon = STATE_LOOK[r["state"]]
        when = (t("dataops.last_success", lang, when=format_datetime(r["last_success_at"], lang),
                  age=_duration(r["age_hours"], lang)) if not pd.isna(r["last_success_at"])
                else t("dataops.never_success", lang))
        items.append(html.Li([
            html.Div([html.Span(r["job"], className="fw-semibold me-2"),
                      html.Span(_dataset_text(r["dataset"], lang), className="text-muted small"),
                      html.Div(f"{when} · {t('dataops.every', lang, interval=_duration(r['interval_hours'], lang))}",
                               className="small")], className="ops-list-main"),
            html.Span([html.Span(icon, className="status-icon", **{"aria-hidden": "true"}),
                       t(f"dataops.state.{r['state']}", lang)], className=f"status-badge {css}"),
        ]))
    schedule = [html.Li([html.Span(s.job, className="fw-semibold ops-list-main"),
                         html.Span(t("dataops.schedule_next", lang, when=format_datetime(s.next_fire, lang),
                                     cron=s.schedule), className="small")])
                for s in job_schedule(config=config, now=now)]
    runs = warehouse_read(lambda s: runs_source(s, current_viewer(), config, {"lang": lang}),
                          default=pd.DataFrame(), cache_key=("dataops.runs", lang, run_generation))
    return (
        t("dataops.title", lang), t("dataops.subtitle", lang), t("dataops.freshness_title", lang),
        html.Ul(items, className="ops-list"), t("dataops.schedule_title", lang),
        [html.Ul(schedule, className="ops-list"),
         html.P(t("dataops.schedule_note", lang, tz=config.timezone), className="small text-muted mt-2 mb-0")],
        t("dataops.runs_title", lang),
        data_table(table_id=RUNS, frame=runs, lang=lang, filters={"lang": lang}, page_size=10, height=380)
        if not runs.empty else html.P(t("table.no_rows", lang), className="text-muted mb-0"),
        t("dataops.quarantine_title", lang), t("dataops.dataset_label", lang), t("dataops.reason_label", lang),
        dropdown_labels(lang), dropdown_labels(lang),
    )


def render_quarantine(dataset: str | None, reason: str | None, page: int | None, lang: str | None) -> tuple:
    """One page of quarantined rows for the filters, the page count and the filter options in the language."""
    lang = current_lang(lang)
    viewer = current_viewer()
    reasons = cached_read("dataops.reasons", quarantine_reasons, default=pd.DataFrame())
    datasets = sorted(set(reasons["dataset"])) if not reasons.empty else []
    options = (_dataset_options(datasets, lang), _reason_options(reasons, dataset, lang))
    if not may_browse_quarantine(viewer):
        return (*options, t("dataops.no_access", lang), 1, 1, None)
    filters = {"dataset": None if dataset in (None, ALL) else dataset,
               "reason": None if reason in (None, ALL) else reason}
    total = cached_read("dataops.quarantine_total", _quarantine_total, default=0, **filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if _triggered_by() in ("dataops-dataset-dropdown", "dataops-reason-dropdown"):
        page = 1  # a new filter starts at its first page
    page = min(max(1, int(page or 1)), pages)
    query = {**filters, "page": page, "paged": True, "lang": lang}
    frame = warehouse_read(lambda s: quarantine_source(s, viewer, current_config(), query), default=pd.DataFrame(),
                           cache_key=("dataops.quarantine", tuple(sorted(query.items()))))
    table = data_table(table_id=QUARANTINE, frame=frame, lang=lang, page_size=PAGE_SIZE, height=460,
                       filters={**filters, "lang": lang})
    count = t("dataops.quarantine_count", lang, n=f"{total:,}", page=page, pages=pages)
    return (*options, count, pages, page, table)


def _run_text(state: RunState, lang: str) -> str:
    """What the status line says about the latest run."""
    if state.running:
        return t("dataops.run_running", lang, job=state.job, user=state.username or "—",
                 when=format_datetime(state.started_at, lang))
    if state.status == "idle":
        return t("dataops.run_hint", lang)
    return t(f"dataops.run_done.{state.status if state.status in ('success', 'busy') else 'failed'}", lang,
             job=state.job, read=f"{state.rows_read:,}", loaded=f"{state.rows_loaded:,}",
             rejected=f"{state.rows_rejected:,}", error=state.error or "—")


def _audited() -> bool:
    return bool(flask.current_app.config.get("BIZENV_AUTH"))


def _record(success: bool, details: dict[str, Any]) -> None:
    """An `etl_run` audit entry of the current user; nothing to write to when the login is not installed."""
    if _audited():
        from dashboard.auth import record

        record("etl_run", success=success, details=details)


def _requester() -> tuple[str | None, str | None]:
    """Who clicked, from the server-side session, and from where: the background run audits its end with these."""
    if not _audited():
        return None, None
    from dashboard.auth import current_username

    return current_username(), flask.request.remote_addr


def run_control(n_clicks: int | None, n_intervals: int | None, lang: str | None, job: str | None,
                seen_generation: int | None) -> tuple:
    """Start a run on a click (analysts and admins only, checked here), and report it while the interval polls.

    Returns (title, job label, button text, status text, interval disabled, button disabled, runs generation).
    """
    del n_intervals
    lang = current_lang(lang)
    texts = (t("dataops.run_title", lang), t("dataops.run_job_label", lang), t("dataops.run_button", lang))
    runner = runner_for(flask.current_app)
    clicked = _triggered_by() == "dataops-run-button" and bool(n_clicks)
    if not may_run(current_viewer()):  # the session's role, whatever the browser sends
        if clicked:
            _record(False, {"job": job, "trigger": "ui", "reason": "role"})
        return *texts, t("dataops.run_refused", lang), True, True, no_update
    config = current_config()
    if clicked:
        if job not in config.jobs:
            return *texts, t("dataops.run_unknown_job", lang), True, False, no_update
        username, ip = _requester()
        if not runner.start(warehouse=current_warehouse(), config=config, job=job, username=username, ip=ip,
                            audited=_audited()):
            return *texts, t("dataops.run_busy", lang, job=runner.state().job), False, True, no_update
        _record(True, {"job": job, "trigger": "ui", "stage": "started", "status": "running"})
    state = runner.state()
    generation = state.generation if state.generation != seen_generation else no_update
    return *texts, _run_text(state, lang), not state.running, state.running, generation


def _triggered_by() -> str | None:
    """The id of the input that fired the callback (None when called directly, as tests do)."""
    try:
        return ctx.triggered_id
    except MissingCallbackContextException:
        return None


def _quarantine_total(*, session: Session, dataset: str | None, reason: str | None) -> int:
    return quarantine_page(session=session, dataset=dataset, reason_code=reason, page=1, page_size=1)[1]


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    app.callback(
        Output("dataops-heading-text", "children"), Output("dataops-subtitle-text", "children"),
        Output("dataops-freshness-title-text", "children"), Output("dataops-freshness-container", "children"),
        Output("dataops-schedule-title-text", "children"), Output("dataops-schedule-container", "children"),
        Output("dataops-runs-title-text", "children"), Output("dataops-runs-container", "children"),
        Output("dataops-quarantine-title-text", "children"), Output("dataops-dataset-label", "children"),
        Output("dataops-reason-label", "children"), Output("dataops-dataset-dropdown", "labels"),
        Output("dataops-reason-dropdown", "labels"),
        Input(LANG, "data"), Input("dataops-run-done-store", "data"),
    )(render_status)
    app.callback(
        Output("dataops-run-title-text", "children"), Output("dataops-run-job-label", "children"),
        Output("dataops-run-button", "children"), Output("dataops-run-status-text", "children"),
        Output("dataops-run-interval", "disabled"), Output("dataops-run-button", "disabled"),
        Output("dataops-run-done-store", "data"),
        Input("dataops-run-button", "n_clicks"), Input("dataops-run-interval", "n_intervals"), Input(LANG, "data"),
        State("dataops-run-job-dropdown", "value"), State("dataops-run-done-store", "data"),
    )(run_control)
    app.callback(
        Output("dataops-dataset-dropdown", "options"), Output("dataops-reason-dropdown", "options"),
        Output("dataops-quarantine-count-text", "children"), Output("dataops-quarantine-pagination", "max_value"),
        Output("dataops-quarantine-pagination", "active_page"), Output("dataops-quarantine-container", "children"),
        Input("dataops-dataset-dropdown", "value"), Input("dataops-reason-dropdown", "value"),
        Input("dataops-quarantine-pagination", "active_page"), Input(LANG, "data"),
    )(render_quarantine)
    register_url_sync(app, page="dataops", fields={"dataset": ("dataops-dataset-dropdown", "value"),
                                                   "reason": ("dataops-reason-dropdown", "value"),
                                                   "page": ("dataops-quarantine-pagination", "active_page")},
                      defaults={"dataset": ALL, "reason": ALL, "page": 1})
