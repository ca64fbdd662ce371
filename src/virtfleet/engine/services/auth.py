"""Users, passwords and access tokens: who is calling, and whether they proved it."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select

from virtfleet.common.apimodel import Domain, User
from virtfleet.common.apimodel.enums import LogSeverity
from virtfleet.common.clock import Clock
from virtfleet.common.errors import NotAuthenticated
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.identity import ADMIN_NAME, INTERNAL_DOMAIN
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.persistence.documents import DocumentRepository
from virtfleet.engine.services.permissions import grant_system_super_user

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(hours=10)
_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    user_id: str
    user_name: str


def split_login(login: str) -> tuple[str, str]:
    """``admin@internal`` → (admin, internal); oVirt's ``admin@ovirt@internalsso`` works too."""
    name, _, domain = login.partition("@")
    return name, domain or INTERNAL_DOMAIN


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def users_repository() -> DocumentRepository[User]:
    return DocumentRepository(tables.users, User, what="user")


class AuthService:
    """Password checks with argon2 and bearer tokens stored as hashes, cached briefly in memory."""

    def __init__(self, database: Database, clock: Clock, eventlog: EventLog | None = None) -> None:
        self.db = database
        self.clock = clock
        self.eventlog = eventlog
        self.users = users_repository()
        self._hasher = PasswordHasher()
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    # --- users -----------------------------------------------------------------------------------

    def ensure_admin(self, password: str) -> bool:
        """Create ``admin@internal`` unless it exists; returns whether it was created."""
        with self.db.transaction() as conn:
            if self.users.find_by_name(conn, ADMIN_NAME) is not None:
                return False
            admin = User(
                id=str(uuid.uuid4()),
                name=ADMIN_NAME,
                user_name=f"{ADMIN_NAME}@{INTERNAL_DOMAIN}",
                principal=ADMIN_NAME,
                namespace="*",
                domain=Domain(name=f"{INTERNAL_DOMAIN}-authz"),
            )
            self.users.insert(conn, admin, password_hash=self._hasher.hash(password))
            assert admin.id is not None
            grant_system_super_user(conn, admin.id, self.clock.now())
            return True

    def set_password(self, user_name: str, password: str) -> None:
        with self.db.transaction() as conn:
            user = self.users.find_by_name(conn, user_name)
            if user is None:
                raise NotAuthenticated(f"No user '{user_name}'")
            self.users.save(conn, user, password_hash=self._hasher.hash(password))

    # --- passwords -------------------------------------------------------------------------------

    def check_password(self, login: str, password: str) -> Principal:
        name, _domain = split_login(login)
        cache_key = "pw:" + _token_hash(f"{login}\0{password}")
        cached = self._cached(cache_key)
        if cached is not None:
            return cached
        with self.db.read() as conn:
            row = conn.execute(
                select(tables.users.c.id, tables.users.c.password_hash).where(
                    tables.users.c.name == name
                )
            ).first()
        if row is None or row.password_hash is None:
            raise NotAuthenticated("Cannot authenticate user: wrong user name or password")
        try:
            self._hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            raise NotAuthenticated(
                "Cannot authenticate user: wrong user name or password"
            ) from None
        principal = Principal(user_id=row.id, user_name=f"{name}@{INTERNAL_DOMAIN}")
        self._remember(cache_key, principal)
        return principal

    def note_login(self, login: str, client: str, *, succeeded: bool, user_id: str | None) -> None:
        """The audit trail of SSO logins, as oVirt keeps it (USER_VDC_LOGIN and _FAILED)."""
        if self.eventlog is None:
            return
        if succeeded:
            code, severity = EventCode.USER_LOGGED_IN, LogSeverity.NORMAL
            text = f"User {login} connecting from '{client}' logged in."
        else:
            code, severity = EventCode.USER_LOGIN_FAILED, LogSeverity.ERROR
            text = f"User {login} connecting from '{client}' failed to log in."
        with self.db.transaction() as conn:
            self.eventlog.record(
                conn, code=code, severity=severity, description=text[:1000], user_id=user_id
            )

    # --- tokens ----------------------------------------------------------------------------------

    def issue_token(self, principal: Principal) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        expires = now + TOKEN_LIFETIME
        with self.db.transaction() as conn:
            self._purge_expired(conn, now)
            conn.execute(
                insert(tables.sessions).values(
                    token_hash=_token_hash(token),
                    user_id=principal.user_id,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return token, expires

    def check_token(self, token: str) -> Principal:
        key = _token_hash(token)
        cached = self._cached("tk:" + key)
        if cached is not None:
            return cached
        with self.db.read() as conn:
            row = conn.execute(
                select(tables.sessions.c.user_id, tables.sessions.c.expires_at, tables.users.c.name)
                .join(tables.users, tables.users.c.id == tables.sessions.c.user_id)
                .where(tables.sessions.c.token_hash == key)
            ).first()
        if row is None or _aware(row.expires_at) <= self.clock.now():
            raise NotAuthenticated("The access token is not valid or has expired")
        principal = Principal(user_id=row.user_id, user_name=f"{row.name}@{INTERNAL_DOMAIN}")
        self._remember("tk:" + key, principal)
        return principal

    def revoke_token(self, token: str) -> None:
        key = _token_hash(token)
        with self._lock:
            self._cache.pop("tk:" + key, None)
        with self.db.transaction() as conn:
            conn.execute(delete(tables.sessions).where(tables.sessions.c.token_hash == key))

    def _purge_expired(self, conn: Connection, now: datetime) -> None:
        conn.execute(delete(tables.sessions).where(tables.sessions.c.expires_at <= now))

    # --- cache -----------------------------------------------------------------------------------

    def _cached(self, key: str) -> Principal | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            principal, until = hit
            if until < self.clock.monotonic():
                del self._cache[key]
                return None
            return principal

    def _remember(self, key: str, principal: Principal) -> None:
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (principal, self.clock.monotonic() + _CACHE_SECONDS)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every time the engine stores is UTC."""
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
