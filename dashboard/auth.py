"""Login, sessions and the security headers around the whole Flask server that carries the Dash app.

- Every request needs a logged-in, enabled account, except the login page itself, `/healthz` and the static
  JavaScript/CSS bundles (which carry no data). A request without one is redirected to /login (a page) or gets 401
  (`/_dash-…` and downloads), so no endpoint answers with data to an anonymous caller.
- The viewer (role, region) comes from the server-side account, never from a callback input. The account is read
  from the warehouse at most once a second per account and worker process (`ACCOUNT_TTL_SECONDS`): a page fires
  a dozen requests at once, and the account read was most of a cached callback's time. So a disabled account's
  open sessions, or a changed role, take effect within that second (docs/security.md).
- The login form carries a CSRF token bound to the session; failures are rate-limited per address (429) and lock
  the account after `security.max_failed_logins` in a row. Every login, failure and logout is audited.
- Security headers: a Content-Security-Policy that Dash runs under (its inline scripts allowed by hash), no
  framing, nosniff, no referrer leakage.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import flask
import flask_login
from dash import Dash
from markupsafe import escape

from bizenv.i18n import HTML_LANG, normalise_lang, t
from models.accounts import audit, authenticate, count_recent_failures, get_user
from models.config import Config
from models.db import Warehouse
from models.scope import Viewer

SECRET_KEY_ENV = "BIZENV_SECRET_KEY"
ENV_NAME = "BIZENV_ENV"  # 'production' forbids the per-process key even where the demo would allow it
PUBLIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/login", "/healthz", "/favicon.ico")
API_PREFIXES = ("/_dash-", "/download", "/api/")
CSRF_KEY = "login_csrf"
ACCOUNT_TTL_SECONDS = 1.0  # how long a worker reuses an account it read for a session (docs/security.md)
_clock = time.monotonic  # the account memo's clock (tests move it instead of sleeping)


class InsecureSecretKey(RuntimeError):
    """The app would sign sessions with a missing or well-known key."""


def secret_key(*, allow_ephemeral: bool) -> str:
    """BIZENV_SECRET_KEY; only the demo and tests may run on a random per-process key, never BIZENV_ENV=production."""
    key = os.environ.get(SECRET_KEY_ENV, "")
    if key and key not in {"changeme", "secret", "dev", "development"} and len(key) >= 32:
        return key
    if allow_ephemeral and os.environ.get(ENV_NAME, "").lower() != "production":
        return secrets.token_hex(32)
    raise InsecureSecretKey(f"set {SECRET_KEY_ENV} to a random value of at least 32 characters "
                            f"(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`); "
                            "the dashboard refuses to sign sessions with a missing or default key")


class SessionUser(flask_login.UserMixin):
    """What flask-login keeps per request: the account id, its viewer and name (no password hash)."""

    def __init__(self, user_id: int, username: str, viewer: Viewer, display_name: str | None) -> None:
        self.id = user_id
        self.username = username
        self.viewer = viewer
        self.display_name = display_name or username


class _AccountMemo:
    """Accounts this process read for sessions (None: gone or disabled), each with when (monotonic seconds)."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, SessionUser | None]] = {}

    def get(self, user_id: int, load: Callable[[], SessionUser | None]) -> SessionUser | None:
        """The account read within the last ACCOUNT_TTL_SECONDS, else `load()` (outside the lock)."""
        now = _clock()
        with self._lock:
            hit = self._entries.get(user_id)
        if hit is not None and now - hit[0] < ACCOUNT_TTL_SECONDS:
            return hit[1]
        user = load()
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if now - v[0] < ACCOUNT_TTL_SECONDS}
            self._entries[user_id] = (now, user)
        return user


def _now(config: Config) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)


def _client_ip() -> str:
    return flask.request.remote_addr or "-"


def current_viewer() -> Viewer:
    """The logged-in account's scope; a request that got this far has one (the gate runs first)."""
    user = flask_login.current_user
    if not getattr(user, "is_authenticated", False):
        raise PermissionError("no logged-in user")
    return user.viewer


def current_username() -> str | None:
    """The logged-in account's username, for the audit log."""
    user = flask_login.current_user
    return user.username if getattr(user, "is_authenticated", False) else None


def record(action: str, *, success: bool = True, details: dict[str, Any] | None = None) -> None:
    """Audit an action of the current user (exports, downloads, data operations run from the UI)."""
    ctx = flask.current_app.config["BIZENV_AUTH"]
    with ctx["warehouse"].session() as session:
        audit(session=session, action=action, success=success, now=_now(ctx["config"]), username=current_username(),
              ip=_client_ip(), details=details)


def _lang() -> str:
    return normalise_lang(flask.request.args.get("lang") or flask.request.cookies.get("bizenv_lang"), "zh")


def _login_page(*, lang: str, error: str | None, config: Config, username: str = "", status: int = 200):
    token = flask.session.get(CSRF_KEY) or secrets.token_urlsafe(32)
    flask.session[CSRF_KEY] = token
    title = config.dashboard.title_zh if lang == "zh" else config.dashboard.title_en
    other = "en" if lang == "zh" else "zh"
    error_html = f'<div class="alert alert-danger" role="alert">{escape(error)}</div>' if error else ""
    body = f"""<!DOCTYPE html>
<html lang="{HTML_LANG[lang]}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("auth.title", lang))} · {escape(title)}</title>
<link rel="stylesheet" href="/assets/00-bootstrap-5.3.6.min.css"></head>
<body class="bg-light"><main class="container" style="max-width: 420px; margin-top: 10vh">
<h1 class="h4 mb-1">{escape(title)}</h1><p class="text-muted mb-4">{escape(t("auth.subtitle", lang))}</p>
{error_html}
<form method="post" action="{escape(_form_action(lang))}" autocomplete="on">
<input type="hidden" name="csrf_token" value="{escape(token)}">
<div class="mb-3"><label class="form-label" for="login-username-input">{escape(t("auth.username", lang))}</label>
<input class="form-control" id="login-username-input" name="username" value="{escape(username)}" required
 autocomplete="username" maxlength="64"></div>
<div class="mb-3"><label class="form-label" for="login-password-input">{escape(t("auth.password", lang))}</label>
<input class="form-control" id="login-password-input" name="password" type="password" required
 autocomplete="current-password"></div>
<button class="btn btn-primary w-100" id="login-submit-button" type="submit">{escape(t("auth.submit", lang))}</button>
</form>
<p class="mt-4 small"><a href="/login?lang={other}">{escape(t(f"app.lang.{other}", lang))}</a></p>
</main></body></html>"""
    response = flask.make_response(body, status)
    response.set_cookie("bizenv_lang", lang, samesite="Lax", httponly=True)
    return response


def _form_action(lang: str) -> str:
    """Where the form posts: the language and, if the gate sent the reader here, the page to go back to."""
    target = flask.request.args.get("next")
    query = {"lang": lang, **({"next": _safe_next(target)} if target else {})}
    return "/login?" + urlencode(query)


def _safe_next(target: str | None) -> str:
    """Only a local path: an open redirect would let a phishing link borrow the bureau's domain."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_view(config: Config, warehouse: Warehouse):  # noqa: ANN202 - a Flask view
    def view():  # noqa: ANN202
        lang = _lang()
        if flask.request.method == "GET":
            return _login_page(lang=lang, error=None, config=config)
        form = flask.request.form
        expected = flask.session.get(CSRF_KEY, "")
        if not expected or not hmac.compare_digest(expected, form.get("csrf_token", "")):
            return _login_page(lang=lang, error=t("auth.error.csrf", lang), config=config, status=400)
        username, ip, now = form.get("username", "").strip()[:64], _client_ip(), _now(config)
        with warehouse.session() as session:
            recent = count_recent_failures(session=session, ip=ip, since=now - dt.timedelta(minutes=1))
            if recent >= config.security.failures_per_ip_per_minute:
                audit(session=session, action="login", success=False, now=now, username=username, ip=ip,
                      details={"reason": "rate_limited"})
                return _login_page(lang=lang, error=t("auth.error.rate_limited", lang), config=config,
                                   username=username, status=429)
            result = authenticate(session=session, username=username, password=form.get("password", ""), now=now,
                                  max_failures=config.security.max_failed_logins,
                                  lock_minutes=config.security.lock_minutes)
            audit(session=session, action="login", success=result.user is not None, now=now, username=username,
                  ip=ip, details={"reason": result.reason})
            if result.user is None:
                key = "auth.error.locked" if result.reason == "locked" else "auth.error.invalid"
                return _login_page(lang=lang, error=t(key, lang, minutes=config.security.lock_minutes),
                                   config=config, username=username, status=429 if result.reason == "locked" else 401)
            user = SessionUser(result.user.id, result.user.username, result.user.viewer(), result.user.display_name)
        flask.session.clear()  # a fresh session on login: no fixation
        flask.session.permanent = True
        flask_login.login_user(user)
        return flask.redirect(_safe_next(flask.request.args.get("next")))
    return view


def _logout_view(config: Config, warehouse: Warehouse):  # noqa: ANN202
    def view():  # noqa: ANN202
        username = current_username()
        if username:
            with warehouse.session() as session:
                audit(session=session, action="logout", success=True, now=_now(config), username=username,
                      ip=_client_ip())
        flask_login.logout_user()
        flask.session.clear()
        return flask.redirect("/login")
    return view


def _gate():  # noqa: ANN202 - a Flask before_request hook
    path = flask.request.path
    if path.startswith(PUBLIC_PREFIXES):
        return None
    if getattr(flask_login.current_user, "is_authenticated", False):
        return None
    if path.startswith(API_PREFIXES):
        return flask.Response("login required", status=401, mimetype="text/plain")
    # The whole address, query included, so a shared link (/county?region=…) opens as sent after the login.
    return flask.redirect(f"/login?next={quote(flask.request.full_path.rstrip('?'), safe='/')}")


def _headers(app: Dash):  # noqa: ANN202 - a Flask after_request hook
    def add(response: flask.Response) -> flask.Response:
        hashes = " ".join(app.csp_hashes())  # Dash quotes them already ("'sha256-…'")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; "
            f"script-src 'self' {hashes}; "
            "style-src 'self' 'unsafe-inline'; "  # Dash and Plotly set inline styles on elements
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response
    return add


def install_auth(app: Dash, *, config: Config, warehouse: Warehouse, allow_ephemeral_key: bool) -> None:
    """Put the whole server behind a login, with secure session cookies, CSRF-checked login and headers."""
    server = app.server
    server.secret_key = secret_key(allow_ephemeral=allow_ephemeral_key)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.security.cookie_secure,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=config.security.session_hours),
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
        BIZENV_AUTH={"config": config, "warehouse": warehouse},
    )
    manager = flask_login.LoginManager()
    manager.session_protection = "strong"
    manager.init_app(server)

    accounts = _AccountMemo()  # per app, like its warehouse

    def read_account(user_id: int) -> SessionUser | None:
        with warehouse.session() as session:
            user = get_user(session=session, user_id=user_id)
            return None if user is None else SessionUser(user.id, user.username, user.viewer(), user.display_name)

    @manager.user_loader
    def load(user_id: str) -> SessionUser | None:
        return accounts.get(int(user_id), lambda: read_account(int(user_id)))

    server.add_url_rule("/login", "bizenv_login", _login_view(config, warehouse), methods=["GET", "POST"])
    server.add_url_rule("/logout", "bizenv_logout", _logout_view(config, warehouse), methods=["GET", "POST"])
    # First of all hooks: Dash's own first-request hook renders every page's layout, which reads data.
    server.before_request_funcs.setdefault(None, []).insert(0, _gate)
    server.after_request(_headers(app))
