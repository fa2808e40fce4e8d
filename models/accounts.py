"""Accounts and the audit log: who may read what, and a record of what they did.

Passwords are hashed with scrypt (hashlib, from the standard library) with a random salt per password, so the hash
is never the password and two users with one password get different hashes. An account locks for a configured
time after repeated failures. The audit log is append-only from the application: nothing here updates or
deletes an entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.scope import Role, Viewer

ROLES: tuple[Role, ...] = ("admin", "leader", "analyst", "county")
# scrypt cost: n=2**15, r=8, p=1 uses 32 MiB and ~50 ms here, OWASP's recommended minimum for scrypt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024


class User(Base):
    """An account; a county bureau's account carries its region."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("dim_region.code"))
    display_name: Mapped[str | None] = mapped_column(String(64))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    def viewer(self) -> Viewer:
        """The scope every read of this user runs under."""
        return Viewer(role=self.role, region_code=self.region_code)  # type: ignore[arg-type]


class AuditEntry(Base):
    """One audited action: logins, logouts, exports and downloads, user administration, data operations."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_username_at", "username", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    username: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    success: Mapped[bool] = mapped_column(Boolean)
    details: Mapped[str] = mapped_column(Text)  # JSON


class AccountError(ValueError):
    """A user-administration request that cannot be done, with a message for the operator."""


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of a login attempt: the user on success, else why not (for the audit log, not the form)."""

    user: User | None
    reason: str  # ok | unknown_user | bad_password | disabled | locked


def hash_password(password: str) -> str:
    """scrypt with a fresh 16-byte salt, stored with its parameters so they can be raised later."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=SCRYPT_MAXMEM)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a stored hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         maxmem=SCRYPT_MAXMEM)
    return hmac.compare_digest(got.hex(), digest)


def _check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise AccountError("the password must be at least 10 characters long")


def _check_role(role: str, region_code: str | None, unit_codes: Sequence[str]) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "county" and region_code not in unit_codes:
        raise AccountError(f"a county account needs --region, one of: {', '.join(unit_codes)}")
    if role != "county" and region_code is not None:
        raise AccountError(f"only a county account has a region; {role} sees every region")


def add_user(*, session: Session, username: str, password: str, role: str, region_code: str | None,
             unit_codes: Sequence[str], now: dt.datetime, is_demo: bool = False,
             display_name: str | None = None) -> User:
    """Create an account after checking its role, region and password; the username must be new."""
    username = username.strip()
    if not username or len(username) > 64:
        raise AccountError("a username is 1 to 64 characters")
    _check_role(role, region_code, unit_codes)
    _check_password_strength(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role, region_code=region_code,
                display_name=display_name, is_demo=is_demo, disabled=False, failed_logins=0, created_at=now,
                password_changed_at=now)
    session.add(user)
    session.flush()
    return user


def find_user(*, session: Session, username: str) -> User | None:
    """The account with this username, if any."""
    return session.scalar(select(User).where(User.username == username))


def get_user(*, session: Session, user_id: int) -> User | None:
    """The account with this id, if it exists and is enabled (what a session cookie may name)."""
    user = session.get(User, user_id)
    return user if user is not None and not user.disabled else None


def _require(session: Session, username: str) -> User:
    user = find_user(session=session, username=username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def set_disabled(*, session: Session, username: str, disabled: bool) -> User:
    """Disable (or enable) an account; a disabled account cannot log in and its sessions stop working."""
    user = _require(session, username)
    user.disabled = disabled
    return user


def reset_password(*, session: Session, username: str, password: str, now: dt.datetime) -> User:
    """Set a new password and lift a lock."""
    _check_password_strength(password)
    user = _require(session, username)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    return user


def list_users(*, session: Session) -> list[User]:
    """Every account, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(*, session: Session, username: str, password: str, now: dt.datetime, max_failures: int,
                 lock_minutes: int) -> LoginResult:
    """Check a login; the max_failures-th failure in a row locks the account for lock_minutes."""
    user = find_user(session=session, username=username)
    if user is None:
        hash_password(password)  # spend the same time as a real check, so timing does not reveal usernames
        return LoginResult(None, "unknown_user")
    if user.disabled:
        return LoginResult(None, "disabled")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "locked")
    if not verify_password(password, user.password_hash):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + dt.timedelta(minutes=lock_minutes)
            user.failed_logins = 0
        return LoginResult(None, "bad_password")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return LoginResult(user, "ok")


def audit(*, session: Session, action: str, success: bool, now: dt.datetime, username: str | None = None,
          ip: str | None = None, details: Mapping[str, object] | None = None) -> None:
    """Append one audit entry (the application never updates or deletes them)."""
    session.add(AuditEntry(at=now, username=username, ip=ip, action=action, success=success,
                           details=json.dumps(dict(details or {}), ensure_ascii=False, sort_keys=True, default=str)))


def read_audit(*, session: Session, viewer: Viewer, username: str | None = None, action: str | None = None,
               since: dt.datetime | None = None, limit: int = 200) -> list[AuditEntry]:
    """The newest entries first, filtered; only an admin may read the log."""
    if viewer.role != "admin":
        raise PermissionError("only an admin may read the audit log")
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if username:
        stmt = stmt.where(AuditEntry.username == username)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    return list(session.scalars(stmt))


def count_recent_failures(*, session: Session, ip: str, since: dt.datetime) -> int:
    """Failed logins from one address since a time: the per-IP rate limit reads the audit log."""
    stmt = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login", AuditEntry.success.is_(False), AuditEntry.ip == ip, AuditEntry.at >= since)
    return int(session.scalar(stmt) or 0)


DEMO_ACCOUNTS: tuple[tuple[str, str, str | None], ...] = (
    ("demo_admin", "admin", None), ("demo_leader", "leader", None), ("demo_analyst", "analyst", None),
    ("demo_yuci", "county", "140702"),
)


def ensure_demo_accounts(*, session: Session, unit_codes: Sequence[str],
                         now: dt.datetime) -> list[tuple[str, str, str]]:
    """One demo account per role, created once with a random password that is returned (to print) only then."""
    created = []
    for username, role, region in DEMO_ACCOUNTS:
        if find_user(session=session, username=username) is None:
            password = secrets.token_urlsafe(12)
            add_user(session=session, username=username, password=password, role=role, region_code=region,
                     unit_codes=unit_codes, now=now, is_demo=True)
            audit(session=session, action="user_add", success=True, now=now, username="demo",
                  details={"user": username, "role": role, "region": region, "demo": True})
            created.append((username, role if region is None else f"{role} {region}", password))
    return created
