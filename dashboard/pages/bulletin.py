"""Monthly bulletin (月度通报): build an edition in the background, download it, browse the archive.

- Building runs `bizenv.bulletin.generate_bulletins` as a job of `dashboard.bulletin_jobs` (a worker thread); the
  page polls it with an interval that is switched off while nothing runs. Admins and analysts may build; every
  request is audited (`bulletin_generate`), and the job audits its end.
- Files are served by `GET /download/bulletin/<id>` (`register_routes`), which opens the archive as the logged-in
  viewer: a county account gets 403 for the city's or another county's edition, whatever id it asks for.
- The archive grid lists what the viewer may open, newest first, with a download link built from the archive id
  only (the grid's markdown renderer never sees user text).

Month, edition and format live in the URL (`?month=2026-10&scope=140728&format=pdf`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import MissingCallbackContextException
from sqlalchemy.orm import Session

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, format_datetime, format_period, name_in, t
from dashboard.bulletin_jobs import JobBusy, JobState, may_generate, registry_for, start_bulletin_job
from dashboard.context import (
    FACTS,
    cached_read,
    current_config,
    current_lang,
    current_viewer,
    current_warehouse,
    warehouse_read,
)
from dashboard.tables import Column, data_table, register_table_source
from dashboard.urlstate import register_url_sync, restore, url_location
from models.config import Config
from models.kpis import available_periods, current_period, data_as_of
from models.scope import Viewer

LANG = "app-lang-store"
ARCHIVE = "bulletin-archive"
ARCHIVE_LIMIT = 500
FORMATS = ("pdf", "xlsx", "docx")
ALL = "all"  # every edition of the month (city and counties): the scheduler's pack, on demand
POLL_MS = 800
DOWNLOAD_PATH = "/download/bulletin/"
log = logging.getLogger(__name__)

dash.register_page(__name__, path="/bulletin", order=7, name=t("bulletin.page.nav", DEFAULT_LANG),
                   title=t("bulletin.page.title", DEFAULT_LANG), nav_key="bulletin.page.nav")


# ---- who is asking ----------------------------------------------------------------------------------------------


def _login_installed() -> bool:
    return bool(flask.current_app.config.get("BIZENV_AUTH"))


def current_username() -> str | None:
    """The logged-in account (None in an app built without login, which only page-rendering tests build)."""
    if not _login_installed():
        return None
    from dashboard.auth import current_username as logged_in

    return logged_in()


def audit_action(action: str, *, success: bool = True, details: Mapping[str, Any] | None = None) -> None:
    """`dashboard.auth.record` for the current user; an app without login has no audit trail to write to."""
    if not _login_installed():
        return
    from dashboard.auth import record

    record(action, success=success, details=dict(details or {}))


# ---- choices ----------------------------------------------------------------------------------------------------


def months_newest_first() -> list[str]:
    """Completed months with KPI values, newest first (a month still running has no bulletin)."""
    running = current_period(current_config().timezone)
    return cached_read("bulletin.periods", available_periods, default=[], version=FACTS, shared=True,
                       viewer=current_viewer(), before=running)[::-1]


def scope_choices(config: Config, viewer: Viewer) -> list[str]:
    """Editions the viewer may pick: a county account its own county only; others the city, each county, and (to
    those who build) every edition at once."""
    if viewer.role == "county":
        return [viewer.region_code]
    return [config.city.code, *config.unit_codes(), *([ALL] if may_generate(viewer) else [])]


def edition_name(config: Config, region_code: str, lang: str) -> str:
    """全市版 / 平遥县版 (City edition / Pingyao County edition)."""
    if region_code == config.city.code:
        return t("bulletin.edition.city", lang)
    unit = next((u for u in config.city.units if u.code == region_code), None)
    return t("bulletin.edition.county", lang, county=name_in(unit, lang) if unit else region_code)


def _scope_options(config: Config, viewer: Viewer, lang: str) -> list[dict]:
    out = []
    for code in scope_choices(config, viewer):
        if code == ALL:
            label = t("bulletin.page.scope.all", lang, n=len(config.unit_codes()))
        elif code == config.city.code:
            label = t("bulletin.page.scope.city", lang, city=name_in(config.city, lang))
        else:
            label = edition_name(config, code, lang)
        out.append({"label": label, "value": code})
    return out


def _month_options(months: list[str], lang: str) -> list[dict]:
    return [{"label": format_period(m, lang), "value": m} for m in months]


def _format_options(lang: str) -> list[dict]:
    return [{"label": t(f"bulletin.page.format.{f}", lang), "value": f} for f in FORMATS]


def _lang_options(lang: str) -> list[dict]:
    return [{"label": t(f"bulletin.page.lang.{code}", lang), "value": code} for code in ("zh", "en")]


def regions_of(scope: str, config: Config) -> list[str]:
    """The editions a scope choice builds."""
    return [config.city.code, *config.unit_codes()] if scope == ALL else [scope]


# ---- the archive table --------------------------------------------------------------------------------------------


def download_href(report_id: int) -> str:
    return f"{DOWNLOAD_PATH}{int(report_id)}"


def archive_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The archived files the viewer may open, newest build first, with texts in the reader's language."""
    from bizenv.bulletin import list_archive

    lang = filters.get("lang", DEFAULT_LANG)
    entries = list_archive(session=session, viewer=viewer, limit=ARCHIVE_LIMIT)
    entries.sort(key=lambda e: (e.generated_at, e.id), reverse=True)
    link = t("bulletin.page.download_link", lang)
    # Months and times as 2026-10 / 2026-11-26 08:30 in both languages: short, and they sort as text.
    rows = [{
        "id": e.id,
        "period_text": e.period,
        "scope_text": edition_name(config, e.region_code, lang),
        "format_text": f"{e.format.upper()} · "
                       f"{t(f'bulletin.page.lang.{e.lang}', lang) if e.lang in ('zh', 'en') else e.lang}",
        "version": e.version,
        "generated_text": _stamp(e.generated_at),
        "data_as_of_text": _stamp(e.data_as_of),
        "size_kb": round(e.size_bytes / 1024, 1),
        "checksum_short": e.checksum[:8],
        # Markdown built from the integer id and a catalogue word only: no user text reaches the renderer.
        "download": f"[{link}]({download_href(e.id)})",
    } for e in entries]
    return pd.DataFrame(rows, columns=[c.field for c in ARCHIVE_COLUMNS] + ["id"])


def _stamp(when: Any) -> str | None:
    return None if when is None else f"{when:%Y-%m-%d %H:%M}"


# Widths are also minimum widths (see _finish_grid): a narrow screen scrolls the grid instead of clipping cells.
ARCHIVE_COLUMNS = (
    Column("period_text", "bulletin.page.col.period", width=95),
    Column("scope_text", "bulletin.page.col.scope", width=125),
    Column("format_text", "bulletin.page.col.format", width=115),
    Column("version", "bulletin.page.col.version", "int", 75),
    Column("generated_text", "bulletin.page.col.generated", width=165),
    Column("data_as_of_text", "bulletin.page.col.data_as_of", width=165),
    Column("size_kb", "bulletin.page.col.size", "float1", 105),
    Column("checksum_short", "bulletin.page.col.checksum", width=105),
    Column("download", "bulletin.page.col.download", width=85),
)
# English edition and format names are longer ("Taigu District edition", "PDF · Chinese").
EN_WIDTHS = {"scope_text": 195, "format_text": 135, "period_text": 100}
register_table_source(ARCHIVE, archive_source, ARCHIVE_COLUMNS)


def _finish_grid(node: Any, lang: str) -> Any:
    """Render the download column as a link (AG Grid's markdown renderer; the rest stays plain text), and keep
    every column at least its width."""
    if isinstance(node, dag.AgGrid):
        defs = []
        for d in node.columnDefs or []:
            width = (EN_WIDTHS.get(d.get("field")) if lang == "en" else None) or d.get("width")
            d = {**d, "width": width, "minWidth": width} if width else d
            if d.get("field") == "download":
                d = {**d, "cellRenderer": "markdown", "sortable": False, "linkTarget": "_self"}
            defs.append(d)
        node.columnDefs = defs
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        _finish_grid(child, lang)
    return node


def render_archive(_version: Any, lang: str | None) -> tuple:
    """The archive grid for the viewer, read fresh (a build changes it without any ETL run)."""
    lang = current_lang(lang)
    viewer, config = current_viewer(), current_config()
    frame = warehouse_read(lambda s: archive_source(s, viewer, config, {"lang": lang}), default=pd.DataFrame())
    if frame.empty:
        return t("bulletin.page.archive_empty", lang), None
    height = min(560, 150 + 42 * len(frame))  # a short archive gets a short grid
    table = data_table(table_id=ARCHIVE, frame=frame, lang=lang, filters={"lang": lang}, page_size=20, height=height)
    return t("bulletin.page.archive_count", lang, n=len(frame)), _finish_grid(table, lang)


# ---- layout -------------------------------------------------------------------------------------------------------


def _field(label_id: str, control: Any, target: str, **col: Any) -> dbc.Col:
    return dbc.Col([html.Label(id=label_id, htmlFor=target, className="form-label small mb-1"), control], **col)


def layout(lang: str | None = None, month: str | None = None, scope: str | None = None,
           format: str | None = None, **_query: str) -> html.Div:  # noqa: A002 - the query key is "format"
    """Built on every visit; month, edition and format come from a shared link."""
    lang = current_lang(lang)
    config, viewer = current_config(), current_viewer()
    months = months_newest_first()
    month = restore(month, allowed=months, default=months[0] if months else None)
    scopes = scope_choices(config, viewer)
    scope = restore(scope, allowed=scopes, default=scopes[0])
    fmt = restore(format, allowed=FORMATS, default="pdf")
    allowed = may_generate(viewer)
    # A page opened again while its build runs follows that build instead of offering a second one.
    job = registry_for(flask.current_app).latest_for(current_username()) if allowed else None
    following = job is not None and not job.finished
    return html.Div([
        url_location("bulletin"),
        html.H1(id="bulletin-heading-text", className="h3 mb-1"),
        html.P(id="bulletin-subtitle-text", className="text-muted mb-1"),
        html.P(id="bulletin-asof-text", className="small text-muted mb-3"),
        dbc.Card([
            dbc.CardHeader(html.H2(id="bulletin-generate-title-text", className="h6 mb-0")),
            dbc.CardBody([
                dbc.Row([
                    _field("bulletin-month-label",
                           dcc.Dropdown(id="bulletin-month-dropdown", value=month, clearable=False, searchable=False,
                                        options=_month_options(months, lang)),
                           "bulletin-month-dropdown", xs=12, sm=6, lg=3),
                    _field("bulletin-scope-label",
                           dcc.Dropdown(id="bulletin-scope-dropdown", value=scope, clearable=False, searchable=False,
                                        options=_scope_options(config, viewer, lang)),
                           "bulletin-scope-dropdown", xs=12, sm=6, lg=3),
                    _field("bulletin-format-label",
                           dbc.RadioItems(id="bulletin-format-radio", value=fmt, inline=True,
                                          options=_format_options(lang)),
                           "bulletin-format-radio", xs=12, sm=6, lg=4),
                    _field("bulletin-lang-label",
                           dbc.RadioItems(id="bulletin-lang-radio", value=config.bulletin.language, inline=True,
                                          options=_lang_options(lang)),
                           "bulletin-lang-radio", xs=12, sm=6, lg=2),
                ], className="g-2 mb-2"),
                dbc.Row([
                    dbc.Col(dbc.Button(id="bulletin-generate-button", color="primary", n_clicks=0, className="w-100",
                                       disabled=not allowed or not months or following), xs=12, sm=4, lg=2),
                    dbc.Col(html.P(id="bulletin-generate-help-text", className="small text-muted mb-0"),
                            xs=12, sm=8, lg=10, className="d-flex align-items-center"),
                ], className="g-2 mb-2"),
                html.Div(id="bulletin-progress-container", role="status", **{"aria-live": "polite"}),
                dcc.Interval(id="bulletin-poll-interval", interval=POLL_MS, disabled=not following),
                dcc.Store(id="bulletin-job-store", data=job.id if following else None),
            ], className="p-2 p-md-3"),
        ], className="mb-3"),
        dbc.Card([
            dbc.CardHeader(html.H2(id="bulletin-archive-title-text", className="h6 mb-0")),
            dbc.CardBody([
                html.P(id="bulletin-archive-help-text", className="small text-muted mb-1"),
                html.P(id="bulletin-archive-count-text", className="small mb-2"),
                html.Div(id="bulletin-archive-container"),
                dcc.Store(id="bulletin-archive-version-store"),
            ], className="p-2 p-md-3"),
        ], className="mb-4"),
    ], className="bulletin-page")


# ---- callbacks ----------------------------------------------------------------------------------------------------


def render_texts(lang: str | None) -> tuple:
    """The page's texts and the choices' labels in the reader's language."""
    lang = current_lang(lang)
    config, viewer = current_config(), current_viewer()
    when = cached_read("bulletin.asof", data_as_of, default=None, shared=True)
    asof = t("bulletin.page.asof", lang, when=format_datetime(when, lang)) if when else \
        t("bulletin.page.asof_unknown", lang)
    months = months_newest_first()
    if not months:
        help_text = t("bulletin.page.no_months", lang)
    elif not may_generate(viewer):
        help_text = t("bulletin.page.no_permission", lang)
    else:
        help_text = t("bulletin.page.generate_help", lang)
    archive_help = t("bulletin.page.archive_help", lang)
    if viewer.role == "county":
        archive_help += " " + t("bulletin.page.archive_help_county", lang)
    return (
        t("bulletin.page.title", lang), t("bulletin.page.subtitle", lang), asof,
        t("bulletin.page.generate_title", lang), t("bulletin.page.month_label", lang),
        t("bulletin.page.scope_label", lang), t("bulletin.page.format_label", lang),
        t("bulletin.page.lang_label", lang), t("bulletin.page.generate_button", lang), help_text,
        t("bulletin.page.archive_title", lang), archive_help,
        _month_options(months, lang), _scope_options(config, viewer, lang), _format_options(lang),
        _lang_options(lang), dropdown_labels(lang), dropdown_labels(lang),
    )


def _triggered_by() -> str | None:
    try:
        return ctx.triggered_id
    except MissingCallbackContextException:  # called directly, as tests do
        return None


def _alert(text: Any, color: str) -> dbc.Alert:
    return dbc.Alert(text, color=color, className="mb-0 py-2 small")


def _files_of(job: JobState, lang: str) -> list:
    """Links to the files a finished job wrote (read as the current viewer: it only lists what it may open)."""
    from bizenv.bulletin import list_archive

    config, viewer = current_config(), current_viewer()
    ids = set(job.report_ids)
    entries = warehouse_read(lambda s: [e for e in list_archive(session=s, viewer=viewer, period=job.period)
                                        if e.id in ids], default=[])
    return [html.Li(html.A(t("bulletin.page.file", lang, edition=edition_name(config, e.region_code, lang),
                             period=format_period(e.period, lang), fmt=e.format.upper(), version=e.version),
                           href=download_href(e.id), id=f"bulletin-file-{e.id}-link"))
            for e in sorted(entries, key=lambda e: e.id)]


def job_view(job: JobState | None, lang: str) -> Any:
    """What the progress area shows for a job: a bar while it runs, then its files or its error."""
    if job is None:
        return None
    config = current_config()
    seconds = round(job.elapsed())
    if not job.finished:
        what = (t("bulletin.page.scope.all", lang, n=len(config.unit_codes())) if len(job.region_codes) > 1
                else edition_name(config, job.region_codes[0], lang))
        pct = 100 * job.done / job.total if job.total else 0
        return html.Div([
            dbc.Progress(id="bulletin-progress-bar", value=max(pct, 6), striped=True, animated=True,
                         label=f"{job.done}/{job.total}", className="mb-1", style={"height": "1.25rem"}),
            html.P(t("bulletin.page.running", lang, what=what, done=job.done, total=job.total, s=seconds),
                   id="bulletin-progress-text", className="small mb-0"),
        ])
    if job.status == "done":
        files = _files_of(job, lang)
        head = t("bulletin.page.done_one", lang, s=seconds) if len(files) == 1 else \
            t("bulletin.page.done", lang, n=len(files), s=seconds)
        return _alert([html.Span(head, id="bulletin-progress-text"), html.Ul(files, className="mb-0 mt-1")],
                      "success")
    error = t("bulletin.page.failed", lang, error=job.error) if job.error else t("bulletin.page.failed_internal", lang)
    return _alert(html.Span(error, id="bulletin-progress-text"), "danger")


def start_generation(month: str | None, scope: str | None, fmt: str | None, bulletin_lang: str | None,
                     lang: str) -> tuple[JobState | None, Any]:
    """Start a build for the current user, or say why not: (the job, or None with a message to show)."""
    config, viewer = current_config(), current_viewer()
    months = months_newest_first()
    details = {"period": month, "scope": scope, "format": fmt, "lang": bulletin_lang}
    if not may_generate(viewer):
        audit_action("bulletin_generate", success=False, details={**details, "reason": "role"})
        return None, _alert(t("bulletin.page.no_permission", lang), "warning")
    if month not in months or scope not in scope_choices(config, viewer) or fmt not in FORMATS:
        return None, _alert(t("bulletin.page.no_months", lang), "warning")
    registry = registry_for(flask.current_app)
    try:
        job = start_bulletin_job(registry, warehouse=current_warehouse(), config=config, viewer=viewer,
                                 username=current_username(), ip=flask.request.remote_addr, period=month,
                                 region_codes=regions_of(scope, config), formats=[fmt],
                                 lang=bulletin_lang if bulletin_lang in ("zh", "en") else config.bulletin.language)
    except JobBusy as busy:
        audit_action("bulletin_generate", success=False, details={**details, "reason": "busy",
                                                                  "running": busy.running.id})
        return None, _alert(t("bulletin.page.busy", lang), "warning")
    audit_action("bulletin_generate", details={**details, "job": job.id, "stage": "started",
                                               "regions": list(job.region_codes)})
    return job, job_view(job, lang)


def control(_clicks: int | None, _ticks: int | None, lang: str | None, month: str | None, scope: str | None,
            fmt: str | None, bulletin_lang: str | None, job_id: str | None) -> tuple:
    """Start a build on a click; otherwise follow the job: (job id, interval off?, progress, archive version,
    button disabled?)."""
    lang = current_lang(lang)
    allowed = may_generate(current_viewer()) and bool(months_newest_first())
    if _triggered_by() == "bulletin-generate-button":
        job, view = start_generation(month, scope, fmt, bulletin_lang, lang)
        if job is None:
            return no_update, True, view, no_update, not allowed
        return job.id, False, view, no_update, True
    job = registry_for(flask.current_app).get(job_id)
    if job is not None and job.owner != current_username():
        job = None  # a job id from the browser shows only its own owner's build
    if job is None:
        return None, True, no_update if _triggered_by() == LANG else None, no_update, not allowed
    running = not job.finished
    version = job.id if job.finished and _triggered_by() == "bulletin-poll-interval" else no_update
    return no_update, not running, job_view(job, lang), version, running or not allowed


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    app.callback(
        Output("bulletin-heading-text", "children"), Output("bulletin-subtitle-text", "children"),
        Output("bulletin-asof-text", "children"), Output("bulletin-generate-title-text", "children"),
        Output("bulletin-month-label", "children"), Output("bulletin-scope-label", "children"),
        Output("bulletin-format-label", "children"), Output("bulletin-lang-label", "children"),
        Output("bulletin-generate-button", "children"), Output("bulletin-generate-help-text", "children"),
        Output("bulletin-archive-title-text", "children"), Output("bulletin-archive-help-text", "children"),
        Output("bulletin-month-dropdown", "options"), Output("bulletin-scope-dropdown", "options"),
        Output("bulletin-format-radio", "options"), Output("bulletin-lang-radio", "options"),
        Output("bulletin-month-dropdown", "labels"), Output("bulletin-scope-dropdown", "labels"),
        Input(LANG, "data"),
    )(render_texts)
    app.callback(
        Output("bulletin-job-store", "data"), Output("bulletin-poll-interval", "disabled"),
        Output("bulletin-progress-container", "children"), Output("bulletin-archive-version-store", "data"),
        Output("bulletin-generate-button", "disabled"),
        Input("bulletin-generate-button", "n_clicks"), Input("bulletin-poll-interval", "n_intervals"),
        Input(LANG, "data"),
        State("bulletin-month-dropdown", "value"), State("bulletin-scope-dropdown", "value"),
        State("bulletin-format-radio", "value"), State("bulletin-lang-radio", "value"),
        State("bulletin-job-store", "data"),
    )(control)
    app.callback(
        Output("bulletin-archive-count-text", "children"), Output("bulletin-archive-container", "children"),
        Input("bulletin-archive-version-store", "data"), Input(LANG, "data"),
    )(render_archive)
    register_url_sync(app, page="bulletin", fields={"month": ("bulletin-month-dropdown", "value"),
                                                    "scope": ("bulletin-scope-dropdown", "value"),
                                                    "format": ("bulletin-format-radio", "value")},
                      defaults={"format": "pdf"})


# ---- the download route -----------------------------------------------------------------------------------------


def download_name(config: Config, *, period: str, region_code: str, version: int, fmt: str, lang: str) -> str:
    """A file name a person recognises: 晋中市月度通报_2026年10月_平遥县_第2版.pdf (English: ASCII)."""
    if region_code == config.city.code:
        scope = t("bulletin.edition.city", lang)
    else:
        unit = next((u for u in config.city.units if u.code == region_code), None)
        scope = (unit.name_zh if lang == "zh" else unit.short_en) if unit else region_code
    city = config.city.name_zh if lang == "zh" else config.city.name_en
    stem = t("bulletin.page.filename", lang, city=city, version=version, scope=scope,
             period=format_period(period, "zh") if lang == "zh" else period)
    return re.sub(r'[\s/\\:*?"<>|]+', "-", stem) + f".{fmt}"


def content_disposition(filename: str, fallback: str) -> str:
    """`attachment` with an ASCII name for old clients and the UTF-8 name (RFC 5987/6266) for the rest."""
    ascii_name = fallback.encode("ascii", "ignore").decode() or "bulletin"
    ascii_name = ascii_name.replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _plain(status: int, key: str) -> flask.Response:
    body = f"{t(key, 'zh')} / {t(key, 'en')}"
    return flask.Response(body, status=status, mimetype="text/plain")


def download_bulletin(report_id: int) -> flask.Response:
    """The archived file's exact bytes for the logged-in viewer; 403 outside its scope, 404 for an unknown id."""
    from bizenv.bulletin import BulletinAccessDenied, BulletinError, open_archived

    config, viewer = current_config(), current_viewer()
    try:
        with current_warehouse().session() as session:
            archived = open_archived(session=session, viewer=viewer, report_id=report_id, config=config)
    except BulletinAccessDenied:
        audit_action("bulletin_download", success=False, details={"report_id": report_id, "reason": "forbidden"})
        return _plain(403, "bulletin.error.forbidden")
    except LookupError:
        audit_action("bulletin_download", success=False, details={"report_id": report_id, "reason": "not_found"})
        return _plain(404, "bulletin.page.not_found")
    except BulletinError:
        log.exception("archived bulletin %s cannot be served", report_id)
        audit_action("bulletin_download", success=False, details={"report_id": report_id, "reason": "unreadable"})
        return _plain(500, "bulletin.page.unreadable")
    e = archived.entry
    audit_action("bulletin_download", details={"report_id": e.id, "period": e.period, "region": e.region_code,
                                               "format": e.format, "lang": e.lang, "version": e.version,
                                               "checksum": e.checksum})
    response = flask.Response(archived.content, mimetype=archived.media_type)
    name = download_name(config, period=e.period, region_code=e.region_code, version=e.version, fmt=e.format,
                         lang=e.lang)
    response.headers["Content-Disposition"] = content_disposition(name, e.filename)
    response.headers["Cache-Control"] = "private, no-store"  # a county's figures stay off shared caches
    return response


def register_routes(server: flask.Flask) -> None:
    """The download route, and this server's job registry (called once by dashboard.app.create_app)."""
    registry_for(server)
    server.add_url_rule(f"{DOWNLOAD_PATH}<int:report_id>", "bizenv_bulletin_download", download_bulletin,
                        methods=["GET"])
