"""The approval platform's paginated JSON API over the demo SQLite export, for the ETL to pull from.

Stdlib plus orjson (no numpy), so the process starts fast. Each request opens its own read-only SQLite connection,
because sqlite3 connections must not be shared between the server's threads.

The server stands in for a remote platform, yet in the demo and the benchmark it shares the machine's two cores
with the ETL. So it answers cheaply: SQLite renders each record's JSON itself, and `total` is a bisect over the
export's sorted update stamps rather than a COUNT over the rest of the table on every page.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import hmac
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson

log = logging.getLogger(__name__)

DEFAULT_SIZE = 1000
MAX_SIZE = 10_000
ALLOWED_PARAMS = {"page", "size", "updated_since"}
# endpoint -> (table, tie-break key after GXSJ)
ENDPOINTS: dict[str, tuple[str, str]] = {"cases": ("cases", "SBLSH"), "items": ("items", "SXBM")}
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
REPO_ROOT = Path(__file__).resolve().parents[2]

Failures = Mapping[tuple[str, int], int]
Delays = Mapping[tuple[str, int], float | tuple[float, int]]


class ApiError(Exception):
    """A request the API refuses, with the HTTP status to send."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.msg = status, msg


class ApprovalApiServer(ThreadingHTTPServer):
    """The HTTP server plus its settings and the fault-injection counters shared by handler threads."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, db_path: Path, token: str | None, failures: Failures | None,
                 delays: Delays | None, outage_after: Mapping[str, int] | None = None) -> None:
        self.db_path = Path(db_path)
        if not self.db_path.is_file():
            raise FileNotFoundError(f"approval platform database not found: {self.db_path}")
        self.token = token or None
        self.failures = {(str(e), int(p)): int(n) for (e, p), n in (failures or {}).items()}
        self.delays = {(str(e), int(p)): _delay_spec(v) for (e, p), v in (delays or {}).items()}
        self.seen: dict[tuple[str, int], int] = {}
        # endpoint -> requests answered before the endpoint goes down for good (a mid-run outage)
        self.outage_after = dict(outage_after or {})
        self.seen_by_endpoint: dict[str, int] = {}
        self.lock = threading.Lock()
        self._snapshots: dict[str, tuple[tuple, int, list[str]]] = {}  # table -> (file versions, rows, stamps)
        self._record_sql: dict[str, str] = {}
        super().__init__(address, ApprovalApiHandler)

    def shutdown(self) -> None:
        """Stop serving and release the socket."""
        super().shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are normal here: log at debug, not a traceback on stderr."""
        log.debug("request from %s failed", client_address, exc_info=True)

    def count_request(self, endpoint: str, page: int) -> tuple[int, int]:
        """How many times this (endpoint, page), and this endpoint, have been asked for, this request included."""
        with self.lock:
            n = self.seen.get((endpoint, page), 0) + 1
            self.seen[(endpoint, page)] = n
            total = self.seen_by_endpoint.get(endpoint, 0) + 1
            self.seen_by_endpoint[endpoint] = total
            return n, total

    def connect(self) -> sqlite3.Connection:
        """A fresh read-only connection for the calling thread."""
        uri = f"file:{quote(str(self.db_path.resolve()))}?mode=ro"
        return sqlite3.connect(uri, uri=True)

    def total(self, conn: sqlite3.Connection, table: str, since: str | None) -> int:
        """Rows matching the filter, from a snapshot of the table's update stamps taken when the files last changed."""
        count, stamps = self._stamps(conn, table)
        return len(stamps) - bisect.bisect_left(stamps, since) if since else count

    def _stamps(self, conn: sqlite3.Connection, table: str) -> tuple[int, list[str]]:
        """(rows, sorted non-null GXSJ) of a table; retaken whenever the database or its WAL file has changed."""
        version = tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None
                        for f in (self.db_path, self.db_path.with_name(self.db_path.name + "-wal")))
        with self.lock:
            cached = self._snapshots.get(table)
            if cached and cached[0] == version:
                return cached[1], cached[2]
            (count,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            stamps = [v for (v,) in conn.execute(f"SELECT GXSJ FROM {table} WHERE GXSJ IS NOT NULL ORDER BY GXSJ")]
            self._snapshots[table] = (version, count, stamps)
            return count, stamps

    def record_json(self, conn: sqlite3.Connection, table: str) -> str:
        """The SQL expression that renders one row of `table` as a JSON object, its columns in table order."""
        with self.lock:
            if table not in self._record_sql:
                cols = [name for (_cid, name, *_rest) in conn.execute(f"PRAGMA table_info({table})")]
                pairs = ", ".join(f"'{c}', \"{c}\"" for c in cols)
                self._record_sql[table] = f"json_object({pairs})"
            return self._record_sql[table]


def _delay_spec(value: float | tuple[float, int]) -> tuple[float, int | None]:
    """(seconds, how many requests) from either a number (every request) or a (seconds, times) pair."""
    if isinstance(value, tuple):
        return float(value[0]), int(value[1])
    return float(value), None


class ApprovalApiHandler(BaseHTTPRequestHandler):
    """GET /healthz, /api/v1/cases and /api/v1/items."""

    server: ApprovalApiServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        try:
            status, body = self._route()
        except ApiError as exc:
            status, body = exc.status, {"code": exc.status, "msg": exc.msg}
        except sqlite3.Error as exc:
            log.warning("database error: %s", exc)
            status, body = 500, {"code": 500, "msg": f"database error: {exc}"}
        self._send(status, body)

    def do_POST(self) -> None:  # noqa: N802
        self._send(405, {"code": 405, "msg": "method not allowed: use GET"})

    do_PUT = do_DELETE = do_PATCH = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        log.debug("%s - %s", self.address_string(), format % args)

    def _route(self) -> tuple[int, dict | bytes]:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return 200, {"status": "ok"}
        if not url.path.startswith("/api/"):
            raise ApiError(404, f"not found: {url.path}")
        self._authorise()
        endpoint = url.path.removeprefix("/api/v1/").strip("/")
        if endpoint not in ENDPOINTS:
            raise ApiError(404, f"not found: {url.path}")
        page, size, since = _parse_params(url.query)
        self._inject_faults(endpoint, page)
        return 200, b'{"code":0,"msg":"success","data":' + self._page(endpoint, page, size, since) + b"}"

    def _authorise(self) -> None:
        token = self.server.token
        if token is None:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ApiError(401, "unauthorized: send 'Authorization: Bearer <token>'")

    def _inject_faults(self, endpoint: str, page: int) -> None:
        """Test hooks: fail the first n requests of a page with 503, answer slowly, or go down mid-run."""
        n, total = self.server.count_request(endpoint, page)
        if endpoint in self.server.outage_after and total > self.server.outage_after[endpoint]:
            raise ApiError(503, "service unavailable (injected outage)")
        seconds, times = self.server.delays.get((endpoint, page), (0.0, None))
        if seconds > 0 and (times is None or n <= times):
            time.sleep(seconds)
        if n <= self.server.failures.get((endpoint, page), 0):
            raise ApiError(503, f"service temporarily unavailable (injected failure {n})")

    def _page(self, endpoint: str, page: int, size: int, since: str | None) -> bytes:
        """The response's `data` object, with the records rendered to JSON by SQLite."""
        table, key = ENDPOINTS[endpoint]
        where, args = ("WHERE GXSJ >= ?", [since]) if since else ("", [])
        conn = self.server.connect()
        try:
            total = self.server.total(conn, table, since)
            cur = conn.execute(
                f"SELECT {self.server.record_json(conn, table)} FROM {table} WHERE rowid IN (SELECT rowid FROM "
                f"{table} {where} ORDER BY GXSJ, {key}, rowid LIMIT ? OFFSET ?) ORDER BY GXSJ, {key}, rowid",
                [*args, size, (page - 1) * size])
            records = ",".join(row for (row,) in cur)
        finally:
            conn.close()
        head = orjson.dumps({"total": total, "page": page, "size": size})[:-1]
        return head + b',"records":[' + records.encode() + b"]}"

    def _send(self, status: int, body: dict | bytes) -> None:
        data = body if isinstance(body, bytes) else orjson.dumps(body)  # UTF-8, non-ASCII as is
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="approval-api"')
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away before the response was sent")


def _parse_params(query: str) -> tuple[int, int, str | None]:
    """Validate page, size and updated_since; anything else is a 400 naming the problem."""
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - ALLOWED_PARAMS)
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(unknown)}; allowed: page, size, updated_since")
    repeated = sorted(k for k, v in params.items() if len(v) > 1)
    if repeated:
        raise ApiError(400, f"parameter given more than once: {', '.join(repeated)}")
    page = _int_param(params, "page", 1, 1, None)
    size = _int_param(params, "size", DEFAULT_SIZE, 1, MAX_SIZE)
    since = params.get("updated_since", [None])[0]
    return page, size, (_normalise_time(since) if since not in (None, "") else None)


def _int_param(params: dict[str, list[str]], name: str, default: int, lo: int, hi: int | None) -> int:
    if name not in params:
        return default
    raw = params[name][0]
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ApiError(400, f"{name} must be {bound}, got {value}")
    return value


def _normalise_time(text: str) -> str:
    """'YYYY-MM-DD[ HH:MM[:SS]]' -> 'YYYY-MM-DD HH:MM:SS', the form GXSJ is stored in."""
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
    raise ApiError(400, f"updated_since must look like 'YYYY-MM-DD HH:MM:SS', got {text!r}")


def serve_in_thread(*, db_path: Path, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                    failures: Failures | None = None, delays: Delays | None = None,
                    outage_after: Mapping[str, int] | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Serve in a background thread (tests, demo); returns the server and its base URL. Call server.shutdown()."""
    server = ApprovalApiServer((host, port), db_path=Path(db_path), token=token, failures=failures, delays=delays,
                               outage_after=outage_after)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"approval-api:{server.server_port}", daemon=True)
    thread.start()
    return server, f"http://{_url_host(host)}:{server.server_port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def start_process(*, db_path: Path, host: str = "127.0.0.1", port: int, token: str | None = None,
                  timeout: float = 15) -> subprocess.Popen:
    """Run the API as its own process (as `bizenv demo` does) and return once /healthz answers."""
    _ensure_port_free(host, port)
    cmd = [sys.executable, "-m", "etl.demo.approval_api", "--db", str(Path(db_path).resolve()), "--host", host,
           "--port", str(port)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO_ROOT), env.get("PYTHONPATH", "")] if p)
    if token:
        env["BIZENV_APPROVAL_API_TOKEN"] = token
        cmd += ["--token-env", "BIZENV_APPROVAL_API_TOKEN"]  # keep the token out of `ps` output
    proc = subprocess.Popen(cmd, env=env, cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_healthy(proc, host, port, timeout)
    except Exception:
        _stop(proc)
        raise
    return proc


def _ensure_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise RuntimeError(f"approval API cannot start: port {port} on {host} is not available ({exc})") from exc


def _wait_healthy(proc: subprocess.Popen, host: str, port: int, timeout: float) -> None:
    url = f"http://{_url_host(host)}:{port}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
            raise RuntimeError(f"approval API on port {port} exited with code {proc.returncode}: {err[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"approval API did not answer on {url} within {timeout:g} s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    """CLI: python -m etl.demo.approval_api --db PATH [--host H] [--port P] [--token T]."""
    parser = argparse.ArgumentParser(prog="python -m etl.demo.approval_api", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="approval_platform.db written by the generator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=None, help="require 'Authorization: Bearer <token>'")
    parser.add_argument("--token-env", default=None, help="read the token from this environment variable")
    parser.add_argument("--verbose", action="store_true", help="log every request (debug level)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = args.token or (os.environ.get(args.token_env) if args.token_env else None)
    try:
        server = ApprovalApiServer((args.host, args.port), db_path=args.db, token=token, failures=None, delays=None)
    except (OSError, FileNotFoundError) as exc:
        print(f"approval API cannot start on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"approval API serving {args.db} on http://{_url_host(args.host)}:{server.server_port}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
