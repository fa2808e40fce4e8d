"""WSGI entry point: `gunicorn 'dashboard.wsgi:server'` (config from BIZENV_CONFIG, warehouse from the config).

Behind nginx every request comes from the proxy's address: ProxyFix takes the client's from the one
X-Forwarded-For hop that nginx sets (deploy/nginx/bizenv.conf), so the per-address login limit and the audit log
see the reader, not the proxy. Keep gunicorn reachable only from nginx (loopback, or a firewalled port).
"""

from __future__ import annotations

from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard.app import create_app

app = create_app()
server = app.server
server.wsgi_app = ProxyFix(server.wsgi_app, x_for=1)


def _warm_up() -> None:
    """Load before serving what a process's first figure loads (plotly's template as JSON, its JSON encoder): with
    gunicorn's preload_app this runs once in the master and every worker it forks starts warm, so a new or
    recycled worker does not make its first readers wait."""
    from plotly.io.json import to_json_plotly

    from dashboard.figures import styled_figure, trace

    to_json_plotly(styled_figure([trace("scatter", x=[1], y=[1])], dict(xaxis=dict(title="x")), height=200))


_warm_up()
