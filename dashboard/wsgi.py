"""WSGI entry point: `gunicorn 'dashboard.wsgi:server'` (config from BIZENV_CONFIG, warehouse from the config)."""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
server = app.server
