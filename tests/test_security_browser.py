"""User text stays text in a real browser: a hotline ticket and a bad review whose text is an HTML injection.

The app runs as in production (login wall on, CSP headers) on a private copy of the demo warehouse with those rows
added for 榆次 (tests/test_auth.py inserts them); a county user logs in through the real form and opens the county
profile, whose drill-down tables show ticket content and review comments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from dashboard.app import create_app
from models.accounts import add_user
from tests.test_auth import MONTH, NOW, PASSWORD, XSS, YUCI, copy_demo, insert_hostile_text

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_url(demo_site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: ANN001
    cfg, wh = copy_demo(demo_site, tmp_path_factory.mktemp("security-browser"))
    with wh.session() as s:
        add_user(session=s, username="yuci", password=PASSWORD, role="county", region_code=YUCI,
                 unit_codes=cfg.unit_codes(), now=NOW)
        insert_hostile_text(s)
    app = create_app(cfg, warehouse=wh, allow_ephemeral_key=True)  # the login wall, as in production
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    wh.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from tests.test_dashboard_browser import CHROMIUM_ARGS, _chromium

    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_ticket_and_comment_html_shows_as_text(browser, live_url) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_dialog(dialog) -> None:  # noqa: ANN001 - playwright Dialog
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname == "127.0.0.1"
               else route.abort())

    # Anonymous: the county profile sends us to the login form, which brings us back after a good login.
    page.goto(f"{live_url}/county?region={YUCI}&month={MONTH}")
    page.wait_for_selector("#login-username-input")
    assert urlparse(page.url).path == "/login"
    page.fill("#login-username-input", "yuci")
    page.fill("#login-password-input", PASSWORD)
    page.click("#login-submit-button")
    page.wait_for_selector("#county-overdue-tickets-div .ag-row")
    page.wait_for_selector("#county-bad-reviews-div .ag-row")
    assert urlparse(page.url).path == "/county"

    for table in ("county-overdue-tickets-div", "county-bad-reviews-div"):
        page.wait_for_function(f"() => document.querySelector('#{table}').innerText.includes({XSS!r})")
        assert XSS in page.inner_text(f"#{table}")
    # Shown as text: no <img src=x> was made of it, nothing ran.
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert not dialogs, dialogs
    assert page.locator(".dash-fe-error-item").count() == 0
    assert not errors, errors
    context.close()
