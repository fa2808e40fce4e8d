"""The Dash app: a shell built once (navbar, language switch, page container) around the pages in dashboard/pages.

Everything is served from the package (Bootstrap CSS in assets/, Dash and Plotly bundles locally): the bureau's
machines are offline, so the page never asks for an external URL.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html

from bizenv.i18n import HTML_LANG, LANGS, t
from dashboard import responses, tables
from dashboard.auth import install_auth, secret_key
from dashboard.context import current_config, current_lang, install_context
from dashboard.health import register_routes as register_health_routes
from models.calendar import get_calendar
from models.config import Config, load_config
from models.db import Warehouse

PACKAGE_DIR = Path(__file__).resolve().parent
PAGES_DIR = PACKAGE_DIR / "pages"
ASSETS_DIR = PACKAGE_DIR / "assets"
LANG_STORE = "app-lang-store"
TITLES_STORE = "app-titles-store"

# Sets <html lang> and the tab title after Dash's own router has set the page title (hence the timeout).
_DOCUMENT_JS = """
function(lang, _pages, titles) {
    var code = (titles && titles.html_lang && titles.html_lang[lang]) || lang || "zh-CN";
    var title = (titles && titles[lang]) || document.title;
    setTimeout(function () { document.documentElement.lang = code; document.title = title; }, 0);
    return code;
}
"""


def _nav_pages() -> list[dict]:
    """The registered pages that appear in the navbar, in registry order."""
    return [p for p in dash.page_registry.values() if p.get("nav_key")]


def _nav_link_id(page: dict) -> str:
    return f"app-nav-{page['module'].rsplit('.', 1)[-1]}-link"


def _navbar(config: Config) -> dbc.Navbar:
    """Product title, one link per page and the 中文 / EN switch; texts are filled by `render_shell`."""
    lang = config.dashboard.default_language
    links = [dbc.NavItem(dbc.NavLink(t(p["nav_key"], lang), id=_nav_link_id(p), href=p["relative_path"],
                                     active="exact")) for p in _nav_pages()]
    buttons = [dbc.Button(html.Span(t(f"app.lang.{code}", lang), lang=HTML_LANG[code]), id=f"app-lang-{code}-button",
                          size="sm", color="light", outline=code != lang, n_clicks=0) for code in LANGS]
    switch = html.Div(dbc.ButtonGroup(buttons), id="app-lang-group", role="group", title=t("app.lang_switch", lang),
                      className="app-lang-switch ms-auto")
    logout = dbc.NavItem(dbc.NavLink(t("auth.logout", lang), id="app-logout-link", href="/logout",
                                     external_link=True))
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand(config.dashboard.title_zh if lang == "zh" else config.dashboard.title_en,
                            id="app-title-text", href="/", className="app-brand"),
            switch,
            # On a phone the links fold behind a toggler, so the bar never runs wider than the screen.
            dbc.NavbarToggler(id="app-nav-toggler-button", n_clicks=0, className="ms-2"),
            dbc.Collapse(dbc.Nav([*links, logout], navbar=True, className="app-nav me-auto"),
                         id="app-nav-collapse", is_open=False, navbar=True),
        ], fluid="xl", className="app-navbar-inner"),
        color="primary", dark=True, expand="lg", className="app-navbar mb-3",
    )


def shell_layout(config: Config) -> html.Div:
    """The parts every page shares; built once when the app is created."""
    titles = {"zh": config.dashboard.title_zh, "en": config.dashboard.title_en, "html_lang": HTML_LANG}
    return html.Div([
        dcc.Store(id=LANG_STORE, storage_type="local", data=config.dashboard.default_language),
        dcc.Store(id=TITLES_STORE, data=titles),
        dcc.Store(id="app-doclang-store"),
        _navbar(config),
        dbc.Container(dash.page_container, fluid="xl", className="app-main pb-4"),
    ])


def choose_lang(_zh_clicks: int | None, _en_clicks: int | None) -> str:
    """The language the reader clicked; remembered in localStorage by the store."""
    return "en" if ctx.triggered_id == "app-lang-en-button" else "zh"


def render_shell(lang: str | None) -> list:
    """The shell's texts and the pressed state of the language buttons."""
    lang = current_lang(lang)
    dashboard = current_config().dashboard
    links = [t(p["nav_key"], lang) for p in _nav_pages()]
    return [dashboard.title_zh if lang == "zh" else dashboard.title_en, *links, lang != "zh", lang != "en",
            t("app.lang_switch", lang), t("auth.logout", lang)]


def toggle_nav(n_clicks: int | None, is_open: bool) -> bool:
    """Open or fold the phone menu."""
    return not is_open if n_clicks else is_open


def _register_shell_callbacks(app: Dash) -> None:
    app.callback(Output(LANG_STORE, "data"), Input("app-lang-zh-button", "n_clicks"),
                 Input("app-lang-en-button", "n_clicks"), prevent_initial_call=True)(choose_lang)
    app.callback(
        Output("app-title-text", "children"), *[Output(_nav_link_id(p), "children") for p in _nav_pages()],
        Output("app-lang-zh-button", "outline"), Output("app-lang-en-button", "outline"),
        Output("app-lang-group", "title"), Output("app-logout-link", "children"), Input(LANG_STORE, "data"),
    )(render_shell)
    app.callback(Output("app-nav-collapse", "is_open"), Input("app-nav-toggler-button", "n_clicks"),
                 State("app-nav-collapse", "is_open"), prevent_initial_call=True)(toggle_nav)
    app.clientside_callback(_DOCUMENT_JS, Output("app-doclang-store", "data"), Input(LANG_STORE, "data"),
                            Input("_pages_store", "data"), State(TITLES_STORE, "data"))


def _register_page_callbacks(app: Dash) -> None:
    """Each page module wires its own callbacks to this app (not to Dash's process-global callback list)."""
    for page in dash.page_registry.values():
        register = getattr(sys.modules.get(page["module"]), "register_callbacks", None)
        if register is not None:
            register(app)


def _index_string(app: Dash, lang: str) -> str:
    return app.index_string.replace("<html>", f'<html lang="{HTML_LANG[lang]}">', 1)


def create_app(config: Config | None = None, *, warehouse: Warehouse | None = None, login_required: bool = True,
               allow_ephemeral_key: bool = False) -> Dash:
    """Build the dashboard for a config (default: config.yaml) and a warehouse (default: the config's URL).

    Production entry points keep `login_required`; only page-rendering tests turn it off (every reader is then
    city-wide). `allow_ephemeral_key` lets the demo and tests run without BIZENV_SECRET_KEY.
    """
    config = config or load_config()
    warehouse = warehouse or Warehouse(config.database_url())
    lang = config.dashboard.default_language
    app = Dash(
        "dashboard", use_pages=True, pages_folder=str(PAGES_DIR), assets_folder=str(ASSETS_DIR),
        serve_locally=True, include_pages_meta=False, update_title=None,
        # Load the async chunks (graphs, dropdowns, AG Grid) with the page, not after the first callbacks answer:
        # the county page settled in 1.2-1.6 s with the grid's chunk fetched last, 0.6-0.7 s this way; the
        # overview, which has no grid, pays ~0.3 s more (measured with `bizenv bench`'s Chromium page loads).
        eager_loading=True,
        title=config.dashboard.title_zh if lang == "zh" else config.dashboard.title_en,
        routing_callback_inputs={"lang": State(LANG_STORE, "data")},
        # Otherwise Dash renders every page's layout on the first request, whoever sends it (even /login), and
        # layouts read data as the viewer. Ids are checked instead by the rendering tests of every page.
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    install_context(app.server, config=config, warehouse=warehouse)
    if login_required:
        install_auth(app, config=config, warehouse=warehouse, allow_ephemeral_key=allow_ephemeral_key)
    else:
        app.server.secret_key = secret_key(allow_ephemeral=True)
    app.index_string = _index_string(app, lang)
    app.layout = shell_layout(config)
    _register_shell_callbacks(app)
    tables.register_callbacks(app)
    _register_page_callbacks(app)
    sys.modules["dashboard.pages.bulletin"].register_routes(app.server)  # GET /download/bulletin/<id>
    register_health_routes(app.server)  # GET /healthz, public (auth.PUBLIC_PREFIXES)
    get_calendar(config.calendar.as_mapping())  # built once per process (~0.1 s), not in a reader's first request
    responses.install()
    return app
