"""Production gunicorn settings for the dashboard: `gunicorn -c deploy/gunicorn.conf.py 'dashboard.wsgi:server'`.

Every setting can be overridden from the environment (below) or on the command line, which wins over this file
(`bizenv bench load` starts it with `-b 127.0.0.1:<free port>` and its own log files).

Why these choices:

- **gthread workers, eight threads each.** A Dash callback is CPU work under the GIL (pandas, plotly, JSON), so
  parallelism comes from processes: one worker per core, plus one. Threads are for the shape of the load: a
  browser fires a page's six or seven callbacks at once, most of a page's requests are cheap (`/_dash-layout`,
  `/_dash-dependencies`, the shell and "as of" callbacks) and each request waits on PostgreSQL and Redis a few
  times. With threads those cheap requests run beside a heavy callback instead of queueing behind it; sync
  workers (one request each) made every request wait for a free worker: with 50 readers, p50 1.2 s against
  0.07 s (`bizenv bench load`, docs/performance.md). Eight threads measured better than four at the p95.
- **preload_app.** The app (Dash pages, catalogue, config) is imported once in the master and shared
  copy-on-write, so a worker starts in milliseconds and a restarted worker costs no import. Nothing may be
  inherited that talks to the outside: `post_fork` drops the warehouse engine's pool in each worker (without
  closing the master's sockets), so no two processes ever share a PostgreSQL connection. The Redis client checks
  its pid and reconnects by itself.
- **timeouts.** With gthread workers `timeout` is the heartbeat of a worker's main loop: a worker that stops
  answering it for 60 s (hung, not merely busy) is killed and replaced. It does not cut a slow request short (its
  thread keeps running); the database's `statement_timeout` is the place for that. `graceful_timeout` lets
  running requests finish on a reload or SIGTERM.
- **keepalive longer than nginx's.** nginx keeps up to 32 idle connections to gunicorn
  (deploy/nginx/bizenv.conf) and reuses one for up to 60 s (its upstream keepalive_timeout). If gunicorn closed
  an idle connection first, a callback POSTed on it in that instant would come back 502: nginx retries only
  requests that are safe to repeat. So gunicorn waits 75 s. Idle connections cost a gthread worker a socket in
  its poller, not a thread.
- **max_requests with jitter** recycles a worker now and then (bounded memory growth from pandas/plotly caches)
  without all of them restarting at once. A page view is about ten requests, so 10,000 is a worker's share of
  several hundred readers' clicks; a recycled worker forks from the warm master (dashboard/wsgi.py loads plotly's
  validators before the fork), so its first readers do not wait.
- **access log with the latency** (`%(M)s` ms) and the worker pid, one line per request, for p95s from the log.

Environment:

| variable | default | |
|---|---|---|
| `BIZENV_BIND` | `127.0.0.1:8050` | address(es) to listen on, comma-separated; nginx terminates HTTPS in front |
| `BIZENV_WEB_WORKERS` | cores + 1 | worker processes |
| `BIZENV_WEB_THREADS` | 8 | threads per worker |
| `BIZENV_WEB_TIMEOUT` | 60 | seconds before a hung worker is killed |
| `BIZENV_ACCESS_LOG` | `-` (stdout) | access log file; empty to switch it off |
| `BIZENV_ERROR_LOG` | `-` (stderr) | error log file |
| `BIZENV_LOG_LEVEL` | `info` | gunicorn's log level |
| `BIZENV_FORWARDED_ALLOW_IPS` | `127.0.0.1` | proxies whose X-Forwarded-* headers are trusted |

The app itself reads BIZENV_CONFIG, BIZENV_DATABASE_URL, BIZENV_SECRET_KEY and BIZENV_CACHE_REDIS_URL (see
docs/operations.md); with several workers, set BIZENV_CACHE_REDIS_URL so all of them share one read cache.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cores() -> int:
    """Cores this process may run on (the cgroup/affinity set, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


bind = [b.strip() for b in os.environ.get("BIZENV_BIND", "127.0.0.1:8050").split(",") if b.strip()]
worker_class = "gthread"
workers = _int("BIZENV_WEB_WORKERS", _cores() + 1)
threads = _int("BIZENV_WEB_THREADS", 8)
timeout = _int("BIZENV_WEB_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 75  # seconds an idle keep-alive connection stays open: longer than nginx's 60 (see above)
backlog = 512
max_requests = 10000
max_requests_jitter = 1000
preload_app = True
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # the heartbeat file never waits on a disk
forwarded_allow_ips = os.environ.get("BIZENV_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "bizenv-web"

accesslog = os.environ.get("BIZENV_ACCESS_LOG", "-") or None
errorlog = os.environ.get("BIZENV_ERROR_LOG", "-")
loglevel = os.environ.get("BIZENV_LOG_LEVEL", "info")
# remote address, time, request line, status, bytes, latency in ms, worker pid, user agent
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms %(p)s "%(a)s"'


def _flask_app(worker):  # noqa: ANN001, ANN202 - gunicorn's worker object; the preloaded Flask server
    try:
        return worker.app.wsgi()
    except Exception:  # noqa: BLE001 - not preloaded or not our app: nothing to reset
        return None


def post_fork(server, worker) -> None:  # noqa: ANN001 - gunicorn hook
    """Drop the pooled warehouse connections inherited from the master; each worker opens its own."""
    app = _flask_app(worker)
    context = getattr(app, "config", {}).get("BIZENV") if app is not None else None
    if context is not None:
        # close=False: the sockets belong to the master's pool; closing them here would end its sessions too.
        context.warehouse.engine.dispose(close=False)
    server.log.debug("worker %s: warehouse pool reset after fork", worker.pid)
