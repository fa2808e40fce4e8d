"""Full page loads in a real headless Chromium: from navigation to the last callback answered.

The dashboard is served on a free loopback port (Werkzeug, threaded, no login: the benchmark times the pages, not
the login form). Each page is opened once untimed (the browser caches Dash's scripts, as a returning user's
browser has them), then `runs` times; a load is done when the network has been idle for 500 ms, and its time is
the end of the last response (the last `_dash-update-component` answer, usually) after navigation start, read
from the browser's own Performance API. Plotly still draws after that; its time is not counted.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from bizenv.bench.workspace import Site
from models.db import Warehouse

# Also what the browser tests launch Chromium with (they import these two names).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# The pages a user opens by default (the county profile opens on the first county; admin-only pages left out).
PAGES = ("/", "/ranking", "/county", "/approvals", "/service", "/submissions", "/dataops", "/bulletin")
SETTLED_JS = """() => {
    const entries = performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'));
    return Math.max(...entries.map(e => e.responseEnd));
}"""

Echo = Callable[[str], None]


def chromium_path() -> str | None:
    """Debian's Chromium (what `make test` installs), if present."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@contextmanager
def served(site: Site) -> Iterator[str]:
    """The dashboard on a free loopback port, for as long as the block runs."""
    from dashboard.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request would bury the report
    warehouse = Warehouse(site.url)
    app = create_app(site.config, warehouse=warehouse, login_required=False)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        warehouse.dispose()


def _time_page(page: Any, url: str, runs: int) -> list[float]:  # noqa: ANN401 - a playwright Page
    page.goto(url, wait_until="networkidle")  # untimed: scripts and fonts into the browser cache
    samples = []
    for _ in range(runs):
        page.goto(url, wait_until="networkidle")
        samples.append(float(page.evaluate(SETTLED_JS)))
    return samples


def page_loads(site: Site, *, runs: int, pages: Sequence[str] = PAGES, width: int = 1366,
               echo: Echo = print) -> dict[str, Any]:
    """Median and worst full load of each page in ms, or why they could not be measured."""
    executable = chromium_path()
    if executable is None:
        return {"skipped": "no chromium binary: `make system-deps` installs Debian's chromium"}
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"runs": runs, "width": width, "pages": {}}
    with served(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            for path in pages:
                echo(f"    {path} ...")
                samples = _time_page(page, base + path, runs)
                out["pages"][path] = {"median_ms": statistics.median(samples), "max_ms": max(samples),
                                      "samples_ms": samples}
        finally:
            browser.close()
    return out
