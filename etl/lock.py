"""Job leases in the warehouse (`etl_lock`), so two schedulers started by mistake never run one job at once.

A lease is a row (name, holder, acquired_at, expires_at). It is taken with one atomic statement, so the database
decides who wins, never a Python lock:

- `INSERT … ON CONFLICT (name) DO NOTHING` creates it when no one holds it;
- otherwise `UPDATE … WHERE name = :n AND (expires_at < :now OR holder = :me)` takes over an expired lease.
  PostgreSQL re-checks the WHERE clause on the locked row, and SQLite serialises writers, so of two
  schedulers racing for the same expired lease exactly one updates a row.

While a job runs, a heartbeat renews the lease every third of its time to live, so a long run is not taken over;
a holder that died leaves a lease that simply expires, or, when the holder ran on this host and its process is
gone (a scheduler killed with -9), is taken over at once. Times are the warehouse's wall-clock convention.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from etl.load import now_local
from models.ops import EtlLock

log = logging.getLogger(__name__)

DEFAULT_TZ = "Asia/Shanghai"
HOLDER_MAX_CHARS = EtlLock.__table__.c.holder.type.length or 128


def lease_holder() -> str:
    """A holder id unique to this call: host, process and a random part (threads of one process differ too)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[-HOLDER_MAX_CHARS:]


def _now(tz: str, now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else now_local(tz)


def acquire(*, engine: Engine, name: str, holder: str, ttl_seconds: float, tz: str = DEFAULT_TZ,
            now: dt.datetime | None = None) -> bool:
    """Take the lease if it is free, expired or already ours; False when someone else holds it."""
    at = _now(tz, now)
    values = dict(name=name, holder=holder, acquired_at=at, expires_at=at + dt.timedelta(seconds=ttl_seconds))
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as conn:
        created = conn.execute(dialect.insert(EtlLock).values(**values).on_conflict_do_nothing()).rowcount
    if created == 1:
        return True
    with engine.begin() as conn:
        taken = conn.execute(
            update(EtlLock)
            .where(EtlLock.name == name, (EtlLock.expires_at < at) | (EtlLock.holder == holder))
            .values(holder=holder, acquired_at=at, expires_at=values["expires_at"])
        ).rowcount
        if taken == 1:
            return True
        current = conn.scalar(select(EtlLock.holder).where(EtlLock.name == name))
        if current is None or not _died_here(current):
            return False
        taken = conn.execute(  # only that dead holder's lease: a live one that just took it over stays
            update(EtlLock).where(EtlLock.name == name, EtlLock.holder == current)
            .values(holder=holder, acquired_at=at, expires_at=values["expires_at"])
        ).rowcount
    if taken == 1:
        log.warning("lease %s taken over from %s: its process is gone", name, current)
    return taken == 1


def _died_here(holder: str) -> bool:
    """Whether a lease holder ran on this host and its process no longer exists."""
    parts = holder.rsplit(":", 2)  # host:pid:random, as lease_holder() makes it
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = parts[1]
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def renew(*, engine: Engine, name: str, holder: str, ttl_seconds: float, tz: str = DEFAULT_TZ,
          now: dt.datetime | None = None) -> bool:
    """Push our lease's expiry forward; False when it is no longer ours (it expired and was taken over)."""
    expires = _now(tz, now) + dt.timedelta(seconds=ttl_seconds)
    with engine.begin() as conn:
        return conn.execute(update(EtlLock).where(EtlLock.name == name, EtlLock.holder == holder)
                            .values(expires_at=expires)).rowcount == 1


def release(*, engine: Engine, name: str, holder: str) -> bool:
    """Give the lease back at once, so the next fire need not wait for it to expire."""
    with engine.begin() as conn:
        return conn.execute(delete(EtlLock).where(EtlLock.name == name, EtlLock.holder == holder)).rowcount == 1


def _heartbeat(*, engine: Engine, name: str, holder: str, ttl_seconds: float, tz: str,
               stop: threading.Event) -> None:
    """Renew every third of the TTL until stopped, so a long job keeps its lease."""
    while not stop.wait(ttl_seconds / 3):
        try:
            if not renew(engine=engine, name=name, holder=holder, ttl_seconds=ttl_seconds, tz=tz):
                log.warning("lease %s lost by %s: it expired and was taken over", name, holder)
                return
        except Exception:  # noqa: BLE001 - a failed renewal is retried at the next beat
            log.exception("lease %s: renewal failed", name)


@contextmanager
def job_lease(*, engine: Engine, name: str, holder: str | None = None, ttl_seconds: float,
              tz: str = DEFAULT_TZ) -> Iterator[bool]:
    """Hold a lease for the body (renewed while it runs, released after); yields whether it was obtained."""
    holder = holder or lease_holder()
    if not acquire(engine=engine, name=name, holder=holder, ttl_seconds=ttl_seconds, tz=tz):
        yield False
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, name=f"lease-{name}", daemon=True,
                            kwargs=dict(engine=engine, name=name, holder=holder, ttl_seconds=ttl_seconds, tz=tz,
                                        stop=stop))
    beat.start()
    try:
        yield True
    finally:
        stop.set()
        beat.join()
        release(engine=engine, name=name, holder=holder)
