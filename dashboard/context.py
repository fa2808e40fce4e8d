"""Per-app services for callbacks and layouts: config, warehouse, viewer and the read cache, from the Flask app.

Nothing here is module-level state: each app (and each gunicorn worker) carries its own context on its Flask
server, so tests can build several apps with different warehouses in one process.

The read cache (flask-caching): a per-process SimpleCache by default, Redis when `BIZENV_CACHE_REDIS_URL` is set
(shared by every gunicorn worker), `BIZENV_CACHE=off` to switch it off. Every cached read is keyed by a *data
version* (`models.ops.EtlDataVersion`, moved by the ETL in the transaction that ends a run), so a run invalidates
without anyone deleting keys. Two of them:

- `version=FACTS`: moves only when a run changed facts, dimensions or marts. For reads of facts and marts only
  (KPIs, rankings, details): a run that loaded nothing new keeps them warm.
- `version=OPS` (the default, the safe choice): moves whenever a run ends, and with every facts move. For reads
  of what runs record (runs, files, rejects, freshness, the "as of" time of the last run), and for anything mixed.

Both are read in one query, at most once per request and at most once a second per process. Adopt the cache in a
page with either of:

    cards = cached_read("overview.snapshots", kpi_snapshots, default=[], version=FACTS, viewer=current_viewer(),
                        config=current_config(), period=month)          # fn(session=..., **kwargs)
    frame = warehouse_read(lambda s: county_comparison(session=s, ...), default=None, version=FACTS,
                           cache_key=("overview.county", month, kpi))   # a lambda, keyed by what it depends on

Keys hold the current viewer, so one reader never gets rows cached for another. `shared=True` leaves the viewer
out of the key (and out of a `viewer` keyword's part of it): only for a models/ read whose result is the same for
every viewer (it ignores its `viewer`, as the KPI and ranking reads do: KPI values of every region are visible to
every role). Never for details, drill-downs, rejects or anything filtered by the viewer's region; tests check
each shared read gives a county viewer and the city the same result (tests/test_context_cache.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import flask
from flask_caching import Cache
from sqlalchemy.orm import Session

from bizenv.i18n import Lang, normalise_lang
from models.config import Config
from models.db import Warehouse
from models.migrate import warehouse_is_migrated
from models.ops import FACTS_VERSION, OPS_VERSION
from models.scope import Viewer

CONTEXT_KEY = "BIZENV"
CACHE_REDIS_ENV = "BIZENV_CACHE_REDIS_URL"
CACHE_SWITCH_ENV = "BIZENV_CACHE"  # "off" disables caching
CACHE_TIMEOUT_SECONDS = 3600  # a safety net only: a new data version already makes old keys unreachable
VERSION_TTL_SECONDS = 1.0
FACTS = FACTS_VERSION  # facts, dimensions and marts only: the key moves when a run changed them
OPS = OPS_VERSION  # anything a run records: the key moves whenever a run ends
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class _VersionMemo:
    """The last data versions (models.ops_reads.DataVersions) this process read, and when (monotonic seconds)."""

    value: Any = None
    read_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class DashboardContext:
    """What every callback needs: the validated config, the warehouse it reads and the read cache."""

    config: Config
    warehouse: Warehouse
    cache: Cache | None = None
    key_prefix: str = "bizenv"
    version_memo: _VersionMemo = field(default_factory=_VersionMemo)


def _make_cache(server: flask.Flask) -> Cache | None:
    """Redis when BIZENV_CACHE_REDIS_URL is set, else a per-process SimpleCache; None when switched off."""
    if os.environ.get(CACHE_SWITCH_ENV, "").lower() in ("off", "0", "false", "no"):
        return None
    redis_url = os.environ.get(CACHE_REDIS_ENV)
    settings: dict[str, Any] = {"CACHE_DEFAULT_TIMEOUT": CACHE_TIMEOUT_SECONDS}
    if redis_url:
        settings.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_url)
    else:
        settings.update(CACHE_TYPE="SimpleCache", CACHE_THRESHOLD=2000)
    return Cache(server, config=settings)


def install_context(server: flask.Flask, *, config: Config, warehouse: Warehouse) -> DashboardContext:
    """Attach the config, warehouse and read cache to a Flask server so request handlers can find them."""
    # Keys name the warehouse and the config, so one Redis can serve several installations (and tests).
    identity = f"{warehouse.engine.url.render_as_string(hide_password=True)}|{config.model_dump_json()}"
    prefix = "bizenv:" + hashlib.sha1(identity.encode("utf-8")).hexdigest()[:12]
    context = DashboardContext(config=config, warehouse=warehouse, cache=_make_cache(server), key_prefix=prefix)
    server.config[CONTEXT_KEY] = context
    return context


def current_context() -> DashboardContext:
    """The context of the app serving the current request."""
    return flask.current_app.config[CONTEXT_KEY]


def current_config() -> Config:
    """The configuration of the app serving the current request."""
    return current_context().config


def current_warehouse() -> Warehouse:
    """The warehouse of the app serving the current request."""
    return current_context().warehouse


def current_viewer() -> Viewer:
    """Who is reading: the logged-in account's role and region, from the server-side session, never the browser."""
    if not flask.current_app.config.get("BIZENV_AUTH"):
        return Viewer.city_wide()  # an app built without login (page-rendering tests only)
    from dashboard.auth import current_viewer as logged_in_viewer

    return logged_in_viewer()


def current_lang(value: object) -> Lang:
    """The language of a request from the language store's value, defaulting to the configured language."""
    return normalise_lang(value, current_config().dashboard.default_language)


def _uncached_read(read: Callable[[Session], T], default: T) -> T:
    with current_warehouse().session() as session:
        if not warehouse_is_migrated(session=session):
            log.warning("the warehouse has no schema yet (run the migrations); showing the empty state")
            return default
        return read(session)


def data_versions() -> Any:
    """Both data versions (facts, ops), read at most once per request and once a second per process."""
    if flask.has_request_context() and "bizenv_data_versions" in flask.g:
        return flask.g.bizenv_data_versions
    memo = current_context().version_memo
    with memo.lock:
        now = time.monotonic()
        if now - memo.read_at >= VERSION_TTL_SECONDS:
            from models.ops_reads import data_versions as read_versions

            memo.value = _uncached_read(lambda s: read_versions(session=s), None)
            memo.read_at = now
        value = memo.value
    if flask.has_request_context():
        flask.g.bizenv_data_versions = value
    return value


def data_version(version: str = OPS) -> Any:
    """One data version: FACTS (moves when facts or marts changed) or OPS (moves whenever a run ends)."""
    if version not in (FACTS, OPS):
        raise ValueError(f"version must be {FACTS!r} or {OPS!r}, got {version!r}")
    versions = data_versions()
    return None if versions is None else getattr(versions, version)


def _key_part(value: Any) -> str:
    if isinstance(value, Config):
        return "config"  # the config is in the key prefix already
    return repr(value)


def read_cache_key(name: str, parts: Hashable, *, version: str = OPS, shared: bool = False) -> str:
    """The cache key of a read: app prefix, read name, data version and a digest of what the read depends on.

    The viewer is part of it, so one reader never gets rows cached for another, unless the read is `shared`: the
    same for every viewer (see the module's docstring). Shared keys say so in the key, apart from every viewer's.
    """
    who = "shared" if shared else repr(current_viewer())
    digest = hashlib.sha1(f"{who}|{_key_part(parts)}".encode()).hexdigest()[:20]
    return f"{current_context().key_prefix}:{name}:{version}{data_version(version)!r}:{digest}"


def _kwargs_key(kwargs: dict[str, Any], *, shared: bool) -> tuple:
    # A shared read still gets its viewer argument; the key leaves it out, as the result does not depend on it.
    return tuple(sorted((k, _key_part(v)) for k, v in kwargs.items() if not (shared and k == "viewer")))


def _through_cache(key: str | None, compute: Callable[[], T]) -> T:
    cache = current_context().cache
    if cache is None or key is None:
        return compute()
    try:
        hit = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache that is down must never take the page down
        log.warning("read cache unavailable; reading the warehouse directly", exc_info=True)
        return compute()
    if hit is not None:
        return hit
    value = compute()
    try:
        cache.set(key, value)
    except Exception:  # noqa: BLE001
        log.warning("could not store a read in the cache", exc_info=True)
    return value


def warehouse_read(read: Callable[[Session], T], *, default: T, cache_key: Hashable | None = None,
                   version: str = OPS, shared: bool = False) -> T:
    """Run one read in a session; a warehouse not migrated yet reads as empty so the page still opens.

    With `cache_key` (a tuple of everything the read depends on, its first item naming the read), the result is
    cached until the `version` moves (FACTS or OPS, see the module's docstring), per viewer unless `shared`.
    Without it, nothing changes: the read runs every time.
    """
    if cache_key is None:
        return _uncached_read(read, default)
    parts = tuple(cache_key) if isinstance(cache_key, tuple) else (cache_key,)
    key = read_cache_key(str(parts[0]), parts[1:], version=version, shared=shared)
    return _through_cache(key, lambda: _uncached_read(read, default))


def cached_read(name: str, fn: Callable[..., T], /, *, default: T, version: str = OPS, shared: bool = False,
                **kwargs: Any) -> T:
    """`fn(session=..., **kwargs)` (a models/ read), cached per data version under `name` and the kwargs.

    `default` is returned when the warehouse has no schema yet. `version` and `shared`: see the module's docstring.
    """
    key = read_cache_key(name, _kwargs_key(kwargs, shared=shared), version=version, shared=shared)
    return _through_cache(key, lambda: _uncached_read(lambda s: fn(session=s, **kwargs), default))


def cached(name: str, *, version: str = OPS,
           shared: bool = False) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator form of `cached_read` for a page's own read helpers taking keyword arguments only:

        @cached("overview.trend")
        def trend(*, until: str) -> pd.DataFrame:
            return warehouse_read(lambda s: composite_trend(session=s, config=current_config(), until=until),
                                  default=pd.DataFrame())
    """
    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        def inner(**kwargs: Any) -> T:
            key = read_cache_key(name, _kwargs_key(kwargs, shared=shared), version=version, shared=shared)
            return _through_cache(key, lambda: fn(**kwargs))
        inner.__name__, inner.__doc__ = fn.__name__, fn.__doc__
        return inner
    return wrap
