"""The report archive: each built file is written once under `bulletin.archive_dir` and recorded with its version
and checksum; a county viewer may list and open its own county's editions only."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bizenv.bulletin.errors import BulletinAccessDenied, BulletinError
from bizenv.i18n import t
from models.config import Config
from models.reports import ReportArchive
from models.scope import Viewer

MEDIA_TYPES = {"pdf": "application/pdf",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One archived file, as the archive page lists it."""

    id: int
    period: str
    region_code: str
    format: str
    lang: str
    version: int
    checksum: str
    size_bytes: int
    data_as_of: dt.datetime | None
    generated_at: dt.datetime
    trigger: str
    filename: str  # a download name: bulletin_2026-10_140728_zh_v2.pdf


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """An archived file's bytes, checked against the stored checksum, with what a download response needs."""

    entry: ArchiveEntry
    content: bytes
    media_type: str
    path: Path


def archive_root(config: Config) -> Path:
    """The archive folder (`bulletin.archive_dir`, relative to the config file)."""
    return config.resolve_path(config.bulletin.archive_dir)


def check_edition_access(*, viewer: Viewer, region_code: str) -> None:
    """A county bureau may build and open its own county's edition only (not the city's, not another county's)."""
    if viewer.role == "county" and viewer.region_code != region_code:
        raise BulletinAccessDenied(t("bulletin.error.forbidden", "en") + " / " + t("bulletin.error.forbidden", "zh"))


def _entry(row: ReportArchive) -> ArchiveEntry:
    return ArchiveEntry(row.id, row.period, row.region_code, row.format, row.lang, row.version, row.checksum,
                        row.size_bytes, row.data_as_of, row.generated_at, row.trigger, Path(row.path).name)


def _next_version(session: Session, *, period: str, region_code: str, fmt: str, lang: str) -> int:
    r = ReportArchive
    current = session.scalar(select(func.max(r.version)).where(r.period == period, r.region_code == region_code,
                                                               r.format == fmt, r.lang == lang))
    return (current or 0) + 1


def _write_new(root: Path, period: str, region_code: str, fmt: str, lang: str, version: int,
               content: bytes) -> tuple[int, str]:
    """Write the file under the first free version; an existing file is never opened for writing.

    The bytes go to a temporary file first, which is linked under its archive name only once whole and synced, so
    a full disk or a crash never leaves a half-written file under an archive name. A failure is a BulletinError.
    """
    folder = root / period / region_code
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = folder / f".writing-{uuid.uuid4().hex}.{fmt}"  # never listed: no archive row points at it
        try:
            with written.open("xb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            while True:
                relative = f"{period}/{region_code}/bulletin_{period}_{region_code}_{lang}_v{version}.{fmt}"
                try:
                    _publish(written, root / relative)
                    return version, relative
                except FileExistsError:
                    version += 1
        finally:
            written.unlink(missing_ok=True)
    except OSError as exc:
        reason = f"{exc.strerror} (errno {exc.errno})" if exc.strerror else str(exc)
        raise BulletinError(t("bulletin.error.unwritable", "en", path=folder, reason=reason) + "\n"
                            + t("bulletin.error.unwritable", "zh", path=folder, reason=reason)) from exc


def _publish(written: Path, path: Path) -> None:
    """Give a whole written file its archive name, never replacing a file already there (FileExistsError)."""
    try:
        os.link(written, path)
        return
    except FileExistsError:
        raise
    except OSError as exc:  # a file system without hard links: copy, refusing to overwrite
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    try:
        with path.open("xb") as target, written.open("rb") as source:
            shutil.copyfileobj(source, target)
            target.flush()
            os.fsync(target.fileno())
    except FileExistsError:
        raise
    except OSError:
        path.unlink(missing_ok=True)  # the copy's own partial file, never one that was there before
        raise


def archive_file(*, session: Session, config: Config, period: str, region_code: str, fmt: str, lang: str,
                 content: bytes, data_as_of: dt.datetime | None, generated_at: dt.datetime,
                 trigger: str = "manual") -> ArchiveEntry:
    """Store one built file as the next version of its month, scope, format and language."""
    version = _next_version(session, period=period, region_code=region_code, fmt=fmt, lang=lang)
    version, relative = _write_new(archive_root(config), period, region_code, fmt, lang, version, content)
    row = ReportArchive(kind="bulletin", period=period, region_code=region_code, format=fmt, lang=lang,
                        version=version, checksum=hashlib.sha256(content).hexdigest(), size_bytes=len(content),
                        path=relative, data_as_of=data_as_of, generated_at=generated_at, trigger=trigger)
    session.add(row)
    session.flush()
    return _entry(row)


def list_archive(*, session: Session, viewer: Viewer, period: str | None = None, region_code: str | None = None,
                 fmt: str | None = None, limit: int | None = None) -> list[ArchiveEntry]:
    """Archived files the viewer may open, newest month first, then scope, format and newest version first."""
    r = ReportArchive
    stmt = select(r)
    if viewer.role == "county":
        stmt = stmt.where(r.region_code == viewer.region_code)
    if period:
        stmt = stmt.where(r.period == period)
    if region_code:
        stmt = stmt.where(r.region_code == region_code)
    if fmt:
        stmt = stmt.where(r.format == fmt)
    stmt = stmt.order_by(r.period.desc(), r.region_code, r.format, r.lang, r.version.desc())
    if limit:
        stmt = stmt.limit(limit)
    return [_entry(row) for row in session.scalars(stmt)]


def open_archived(*, session: Session, viewer: Viewer, report_id: int, config: Config) -> ArchivedFile:
    """An archived file's exact bytes; refuses another county's or the city's edition to a county viewer."""
    row = session.get(ReportArchive, report_id)
    if row is None:
        raise LookupError(f"no archived report with id {report_id}")
    check_edition_access(viewer=viewer, region_code=row.region_code)
    path = archive_root(config) / row.path
    if not path.is_file():
        raise BulletinError(f"archived file {path} is missing")
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != row.checksum:
        raise BulletinError(f"archived file {path} does not match its checksum: it was changed after archiving")
    return ArchivedFile(_entry(row), content, MEDIA_TYPES[row.format], path)
