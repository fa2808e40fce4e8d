"""The audit log (审计日志), for admins: who signed in, exported, administered users or ran data operations.

Every read goes through `models.accounts.read_audit` with the viewer from the server-side session, and that read
refuses anyone but an admin (PermissionError). So the page, a forged table callback and the table's download all
hold nothing for other roles: the page shows a polite "admins only" note (its filters hidden and empty, so every
role gets the same component ids), the callback answers without rows, and the shared download handler
(dashboard.tables) turns the refusal into no file.

Filters (user, action, since date) live in the URL. Details are shown as `key=value; …` plain text in the grid
(AG Grid renders text, never HTML), so a username or ticket text in an entry cannot inject markup.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, dcc, html
from sqlalchemy.orm import Session

from bizenv.i18n import DEFAULT_LANG, dropdown_labels, t
from dashboard.context import current_config, current_lang, current_viewer, warehouse_read
from dashboard.tables import Column, data_table, register_table_source
from dashboard.urlstate import register_url_sync, restore, url_location
from models.accounts import list_users, read_audit
from models.config import Config
from models.scope import Viewer

LANG = "app-lang-store"
TABLE = "audit-log"
ALL = "__all__"
VIEW_LIMIT = 1_000  # the grid pages through these on the client, 25 a page
EXPORT_LIMIT = 100_000
PAGE_SIZE = 25
ACTIONS = ("login", "logout", "export", "bulletin_download", "bulletin_generate", "user_add", "user_disable",
           "user_enable", "user_reset_password", "etl_run")
COLUMNS = ["at", "username", "ip", "action_text", "result", "details_text"]

dash.register_page(__name__, path="/audit", order=8, name=t("auth.nav.audit", DEFAULT_LANG),
                   title=t("auth.audit.title", DEFAULT_LANG), nav_key="auth.nav.audit")


def is_admin(viewer: Viewer) -> bool:
    """Only an admin reads the log (read_audit enforces it; this only chooses what the page shows)."""
    return viewer.role == "admin"


def parse_since(value: Any) -> dt.datetime | None:
    """A `YYYY-MM-DD` date as the start of that day; anything else means no lower bound."""
    try:
        return dt.datetime.combine(dt.date.fromisoformat(str(value)), dt.time())
    except (TypeError, ValueError):
        return None


def details_text(raw: str | None) -> str:
    """The JSON details as `key=value; …` text (never HTML), so an entry reads at a glance."""
    try:
        values = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return str(raw)
    if not isinstance(values, dict):
        return str(values)
    return "; ".join(f"{k}={json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v}"
                     for k, v in values.items() if v not in (None, "", [], {}))


def _action_text(action: str, lang: str) -> str:
    return t(f"auth.audit.action.{action}", lang) if action in ACTIONS else action


def audit_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The entries for the filters, newest first; raises PermissionError for anyone but an admin."""
    del config
    lang = filters.get("lang", DEFAULT_LANG)
    action = filters.get("action")
    entries = read_audit(session=session, viewer=viewer, username=filters.get("user") or None,
                         action=action if action in ACTIONS else None, since=parse_since(filters.get("since")),
                         limit=VIEW_LIMIT if filters.get("paged") else EXPORT_LIMIT)
    rows = [{"at": e.at.strftime("%Y-%m-%d %H:%M:%S") if e.at else "", "username": e.username or "",
             "ip": e.ip or "", "action_text": _action_text(e.action, lang),
             "result": t("auth.audit.ok" if e.success else "auth.audit.failed", lang),
             "details_text": details_text(e.details)} for e in entries]
    return pd.DataFrame(rows, columns=COLUMNS)


register_table_source(TABLE, audit_source, [
    Column("at", "auth.audit.col.at", width=170), Column("username", "auth.audit.col.user", width=130),
    Column("ip", "auth.audit.col.ip", width=130), Column("action_text", "auth.audit.col.action", width=140),
    Column("result", "auth.audit.col.result", width=90), Column("details_text", "auth.audit.col.details", width=480),
])


# ---- layout ------------------------------------------------------------------------------------------------------


def _usernames() -> list[str]:
    """Every account, plus names the log holds that are not accounts (failed sign-ins, the demo's setup)."""
    viewer = current_viewer()

    def read(session: Session) -> list[str]:
        logged = {e.username for e in read_audit(session=session, viewer=viewer, limit=2_000) if e.username}
        return sorted({u.username for u in list_users(session=session)} | logged)

    return warehouse_read(read, default=[])


def layout(lang: str | None = None, user: str | None = None, action: str | None = None, since: str | None = None,
           **_query: str) -> html.Div:
    """Built on every visit; the filters come from a shared link. Other roles get the note and nothing read."""
    lang = current_lang(lang)
    admin = is_admin(current_viewer())
    users = _usernames() if admin else []
    user = restore(user, allowed=users, default=ALL)
    action = restore(action, allowed=ACTIONS, default=ALL)
    since = since if parse_since(since) else None
    return html.Div([
        url_location("audit"),
        html.H1(t("auth.audit.title", lang), id="audit-heading-text", className="h3 mb-1"),
        html.P(id="audit-subtitle-text", className="text-muted mb-3"),
        dbc.Alert(t("auth.audit.admins_only", lang), id="audit-denied-text", color="info", is_open=not admin,
                  className="mb-4"),
        dbc.Card(dbc.CardBody([
            dbc.Row([
                dbc.Col([html.Label(id="audit-user-label", htmlFor="audit-user-dropdown",
                                    className="form-label small mb-1"),
                         dcc.Dropdown(id="audit-user-dropdown", value=user, clearable=False, searchable=True,
                                      options=_user_options(users, lang))], xs=12, sm=6, lg=4),
                dbc.Col([html.Label(id="audit-action-label", htmlFor="audit-action-dropdown",
                                    className="form-label small mb-1"),
                         dcc.Dropdown(id="audit-action-dropdown", value=action, clearable=False, searchable=False,
                                      options=_action_options(lang))], xs=12, sm=6, lg=4),
                dbc.Col([html.Label(id="audit-since-label", htmlFor="audit-since-input",
                                    className="form-label small mb-1"),
                         dcc.Input(id="audit-since-input", type="date", value=since, debounce=True,
                                   className="form-control form-control-sm")], xs=12, sm=6, lg=3),
            ], className="g-2 mb-2"),
            html.P(id="audit-count-text", className="small text-muted mb-1", role="status"),
            html.Div(id="audit-table-container"),
        ], className="p-2 p-md-3"), id="audit-filters-card", className="mb-4",
            style=None if admin else {"display": "none"}),
    ], className="audit-page")


def _user_options(users: list[str], lang: str) -> list[dict]:
    return [{"label": t("auth.audit.all", lang), "value": ALL}] + [{"label": u, "value": u} for u in users]


def _action_options(lang: str) -> list[dict]:
    return [{"label": t("auth.audit.all", lang), "value": ALL}] + [
        {"label": _action_text(a, lang), "value": a} for a in ACTIONS]


# ---- callbacks ---------------------------------------------------------------------------------------------------


def render_audit(user: str | None, action: str | None, since: str | None, lang: str | None) -> tuple:
    """Texts, filter options and the entries for the filters; no rows for anyone but an admin."""
    lang = current_lang(lang)
    viewer = current_viewer()
    texts = (t("auth.audit.title", lang), t("auth.audit.subtitle", lang), t("auth.audit.admins_only", lang),
             t("auth.audit.user_label", lang), t("auth.audit.action_label", lang), t("auth.audit.since_label", lang),
             _action_options(lang), dropdown_labels(lang), dropdown_labels(lang))
    filters = {"user": None if user in (None, "", ALL) else str(user),
               "action": action if action in ACTIONS else None,
               "since": since if parse_since(since) else None}
    query = {**filters, "paged": True, "lang": lang}
    try:
        frame = warehouse_read(lambda s: audit_source(s, viewer, current_config(), query),
                               default=pd.DataFrame(columns=COLUMNS))
    except PermissionError:  # a forged request from another role: the read refused, nothing was read
        return (*texts, "", None)
    n = len(frame)
    count = (t("auth.audit.count_capped", lang, n=f"{n:,}") if n >= VIEW_LIMIT
             else t("auth.audit.count", lang, n=f"{n:,}"))
    table = data_table(table_id=TABLE, frame=frame, lang=lang, filters={**filters, "lang": lang},
                       page_size=PAGE_SIZE, height=560)
    return (*texts, count, table)


def register_callbacks(app: Dash) -> None:
    """Wire this page's callbacks to one app."""
    app.callback(
        Output("audit-heading-text", "children"), Output("audit-subtitle-text", "children"),
        Output("audit-denied-text", "children"), Output("audit-user-label", "children"),
        Output("audit-action-label", "children"),
        Output("audit-since-label", "children"), Output("audit-action-dropdown", "options"),
        Output("audit-user-dropdown", "labels"), Output("audit-action-dropdown", "labels"),
        Output("audit-count-text", "children"), Output("audit-table-container", "children"),
        Input("audit-user-dropdown", "value"), Input("audit-action-dropdown", "value"),
        Input("audit-since-input", "value"), Input(LANG, "data"),
    )(render_audit)
    register_url_sync(app, page="audit", fields={"user": ("audit-user-dropdown", "value"),
                                                 "action": ("audit-action-dropdown", "value"),
                                                 "since": ("audit-since-input", "value")},
                      defaults={"user": ALL, "action": ALL})
