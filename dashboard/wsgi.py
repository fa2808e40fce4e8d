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
    """Load before serving what plotly loads on a process's first figure (its validator table, a few hundred ms of
    CPU): with gunicorn's preload_app this runs once in the master and every worker it forks starts warm, so a
    new or recycled worker does not make its first readers wait."""
    import plotly.graph_objects as go

    from dashboard.figures import styled_figure

    traces = [go.Scatter(x=[1], y=[1], mode="lines+markers", line=dict(dash="dot"), marker=dict(size=4)),
              go.Bar(x=[1], y=["a"], orientation="h", text=["1"], textposition="outside"),
              go.Heatmap(z=[[1]], x=["a"], y=["b"], colorscale="RdYlGn", text=[["1"]], texttemplate="%{text}"),
              go.Scatterpolar(r=[1, 2], theta=["a", "b"], fill="toself")]
    styled_figure(traces, dict(xaxis=dict(title="x"), legend=dict(orientation="h"),
                               shapes=[dict(type="line", x0=0, x1=1, y0=0, y1=1)],
                               annotations=[dict(text="x", x=0, y=0)]), height=200).to_json()


_warm_up()
