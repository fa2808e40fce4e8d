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
