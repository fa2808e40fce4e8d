"""Bulletin builds as background jobs: the page starts one and polls it, so a 5–30 s build never freezes a request.

A small in-process registry, one per Flask server (`registry_for(server)`): job id → status, editions done of total,
an error text a person can read, and the archive ids of the files it wrote. One build runs at a time per server
process (each build starts its own Chromium for the charts; two at once would only slow both down on a small
machine). Finished jobs are kept for a while so a page that polls late, or reloads, still finds its result.

Jobs run `bizenv.bulletin.generate_bulletins` in a daemon thread with the viewer captured when the job was asked
for, never read inside the thread; the thread writes its own audit entry when the build ends (the page has already
audited the request with `dashboard.auth.record`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import flask

from bizenv.i18n import t
from models.config import Config
from models.db import Warehouse
from models.scope import Viewer

log = logging.getLogger(__name__)
EXTENSION_KEY = "bizenv_bulletin_jobs"
KEEP_FINISHED = 20
GENERATE_ROLES = frozenset({"admin", "analyst"})


def may_generate(viewer: Viewer) -> bool:
    """Building (and archiving) a bulletin is staff work: admins and analysts; leaders and counties download."""
    return viewer.role in GENERATE_ROLES


@dataclass(frozen=True, slots=True)
class JobState:
    """A snapshot of one job, safe to hand to a callback (the registry keeps the live copy)."""

    id: str
    owner: str | None
    period: str
    region_codes: tuple[str, ...]
    formats: tuple[str, ...]
    lang: str
    status: str = "running"  # running | done | failed
    done: int = 0
    total: int = 0
    last_region: str | None = None
    error: str | None = None  # a message for a person, in both languages where the bulletin gives both
    report_ids: tuple[int, ...] = ()
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None  # set when the job ends

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def elapsed(self) -> float:
        return self.seconds if self.seconds is not None else time.monotonic() - self.started


class JobBusy(RuntimeError):
    """Another build is running in this process."""

    def __init__(self, running: JobState) -> None:
        super().__init__(f"bulletin job {running.id} is still running")
        self.running = running


class JobRegistry:
    """Jobs of one server process; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, JobState] = {}
        self._threads: dict[str, threading.Thread] = {}

    def get(self, job_id: str | None) -> JobState | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def running(self) -> JobState | None:
        with self._lock:
            return next((j for j in self._jobs.values() if not j.finished), None)

    def latest_for(self, owner: str | None) -> JobState | None:
        """The newest job of an owner (a page opened again finds the build it started)."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.owner == owner]
        return max(mine, key=lambda j: j.started) if mine else None

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            self._jobs[job_id] = dataclasses.replace(self._jobs[job_id], **changes)

    def _prune(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.finished), key=lambda j: j.started)
        for job in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
            self._jobs.pop(job.id, None)
            self._threads.pop(job.id, None)

    def start(self, *, owner: str | None, period: str, region_codes: Sequence[str], formats: Sequence[str],
              lang: str, work: Callable[[Callable[[int, int, str], None]], list[int]],
              on_end: Callable[[JobState], None] | None = None) -> JobState:
        """Run `work(progress)` in a thread; it returns the archive ids it wrote. Raises JobBusy when one runs."""
        with self._lock:
            busy = next((j for j in self._jobs.values() if not j.finished), None)
            if busy is not None:
                raise JobBusy(busy)
            self._prune()
            job = JobState(id=uuid.uuid4().hex[:16], owner=owner, period=period, region_codes=tuple(region_codes),
                           formats=tuple(formats), lang=lang, total=len(region_codes))
            self._jobs[job.id] = job
            thread = threading.Thread(target=self._run, args=(job.id, work, on_end), name=f"bulletin-{job.id}",
                                      daemon=True)
            self._threads[job.id] = thread
        thread.start()
        return job

    def _run(self, job_id: str, work: Callable, on_end: Callable[[JobState], None] | None) -> None:
        from bizenv.bulletin import BulletinAccessDenied, BulletinError

        def progress(done: int, total: int, region: str) -> None:
            self._update(job_id, done=done, total=total, last_region=region)

        started = self.get(job_id).started
        try:
            ids = work(progress)
            self._update(job_id, status="done", report_ids=tuple(ids), seconds=time.monotonic() - started)
        except (BulletinError, BulletinAccessDenied) as exc:  # these carry a message for a person
            self._update(job_id, status="failed", error=str(exc), seconds=time.monotonic() - started)
        except Exception:  # noqa: BLE001 - a build that breaks must end the job, never leave it "running"
            log.exception("bulletin job %s failed", job_id)
            self._update(job_id, status="failed", error=None, seconds=time.monotonic() - started)
        if on_end is not None:
            try:
                on_end(self.get(job_id))
            except Exception:  # noqa: BLE001
                log.exception("bulletin job %s: the end-of-job hook failed", job_id)

    def wait(self, job_id: str, timeout: float = 120.0) -> JobState:
        """Block until a job ends (tests, and a command line that wants the result)."""
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)


def registry_for(server: flask.Flask) -> JobRegistry:
    """The job registry of a Flask server (created on first use)."""
    return server.extensions.setdefault(EXTENSION_KEY, JobRegistry())


def _now(config: Config) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)


def start_bulletin_job(registry: JobRegistry, *, warehouse: Warehouse, config: Config, viewer: Viewer,
                       username: str | None, ip: str | None, period: str, region_codes: Sequence[str],
                       formats: Sequence[str], lang: str, trigger: str = "dashboard") -> JobState:
    """Build and archive editions in the background for a viewer allowed to (PermissionError otherwise).

    The job ends with an audit entry `bulletin_generate` (success or not, with the files it wrote).
    """
    if not may_generate(viewer):
        raise PermissionError(t("bulletin.page.no_permission", "en"))

    def work(progress: Callable[[int, int, str], None]) -> list[int]:
        from bizenv.bulletin import generate_bulletins

        entries = generate_bulletins(warehouse=warehouse, config=config, period=period,
                                     region_codes=list(region_codes), formats=list(formats), lang=lang,
                                     viewer=viewer, trigger=trigger, progress=progress)
        return [e.id for e in entries]

    def on_end(job: JobState) -> None:
        from models.accounts import audit

        with warehouse.session() as session:
            audit(session=session, action="bulletin_generate", success=job.status == "done", now=_now(config),
                  username=username, ip=ip,
                  details={"job": job.id, "stage": "finished", "status": job.status, "period": job.period,
                           "regions": list(job.region_codes), "formats": list(job.formats), "lang": job.lang,
                           "report_ids": list(job.report_ids), "seconds": round(job.elapsed(), 1),
                           "error": job.error})

    return registry.start(owner=username, period=period, region_codes=region_codes, formats=formats, lang=lang,
                          work=work, on_end=on_end)
