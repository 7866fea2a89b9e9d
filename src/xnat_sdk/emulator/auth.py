"""Accounts, HTTP sessions (JSESSIONID) and alias tokens, as a real XNAT handles them.

A request is authenticated by HTTP basic auth (a user name and password, or an alias token and
its secret) or by the ``JSESSIONID`` cookie of an earlier login. Basic auth without a live
session opens one and sets the cookie, as Tomcat does, so clients that log in once and then
send only the cookie (xnatpy) work as well as clients that send basic auth on every request
(pyxnat). Passwords and secrets are never logged and never appear in a repr.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from xnat_sdk.emulator.readcache import CacheSlot
from xnat_sdk.emulator.storage import Database

SESSION_TIMEOUT_MS = 15 * 60 * 1000
TOKEN_LIFETIME_MS = 48 * 60 * 60 * 1000
PRUNE_AT = 10_000  # live sessions kept before expired ones are swept
DEFAULT_USERS: Mapping[str, str] = {"admin": "admin"}


@dataclass(frozen=True)
class Account:
    """A user account (the password is kept out of the repr)."""

    login: str
    password: str = field(repr=False)
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    is_admin: bool = False
    enabled: bool = True
    user_id: int = 0


@dataclass
class HttpSession:
    """A logged-in session, identified by its JSESSIONID."""

    session_id: str = field(repr=False)
    login: str
    created_ms: int
    last_access_ms: int


@dataclass(frozen=True)
class AliasToken:
    """An alias token: a UUID alias usable as a user name with its secret as the password."""

    alias: str
    secret: str = field(repr=False)
    login: str = ""
    created_ms: int = 0
    expires_ms: int = 0


# accounts by login, from the database's read cache (every request needs its caller's account)
_ACCOUNTS: CacheSlot[Account | None] = CacheSlot("accounts", {"users"})


def now_ms() -> int:
    return int(time.time() * 1000)


class AuthService:
    """Checks credentials and keeps sessions (in memory) and tokens (in the database)."""

    def __init__(self, db: Database, users: Mapping[str, str] | None = None) -> None:
        self._db = db
        self._sessions: dict[str, HttpSession] = {}
        self._lock = threading.Lock()
        #: Fault mode: sessions end this long after login however busy (``None``: idle only).
        self.session_lifetime_ms: int | None = None
        #: Sessions ended by a timeout (idle or lifetime), for fault-mode reports.
        self.expired_sessions = 0
        wanted = dict(DEFAULT_USERS)
        wanted.update(users or {})
        for login, password in wanted.items():
            self.ensure_user(login, password, is_admin=login == "admin")

    # accounts -----------------------------------------------------------------------------
    def ensure_user(self, login: str, password: str, *, is_admin: bool = False) -> None:
        """Create the account if missing, else reset its password (configuration wins)."""
        with self._db.write() as conn:
            row = conn.execute("SELECT login FROM users WHERE login = ?", (login,)).fetchone()
            if row is None:
                user_id = self._db.next_counter(conn, "user_id")
                first, last = ("Admin", "Admin") if is_admin else (login, "")
                conn.execute(
                    "INSERT INTO users(login, password, firstname, lastname, email, is_admin, "
                    "user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (login, password, first, last, f"{login}@localhost", int(is_admin), user_id),
                )
            else:
                conn.execute("UPDATE users SET password = ? WHERE login = ?", (password, login))

    def account(self, login: str) -> Account | None:
        return self._db.cached(_ACCOUNTS, login, lambda: self._load_account(login))

    def _load_account(self, login: str) -> Account | None:
        row = self._db.read().execute("SELECT * FROM users WHERE login = ?", (login,)).fetchone()
        if row is None:
            return None
        return Account(
            login=row["login"],
            password=row["password"],
            firstname=row["firstname"],
            lastname=row["lastname"],
            email=row["email"],
            is_admin=bool(row["is_admin"]),
            enabled=bool(row["enabled"]),
            user_id=int(row["user_id"]),
        )

    def accounts(self) -> list[Account]:
        rows = self._db.read().execute("SELECT login FROM users ORDER BY user_id").fetchall()
        found = (self.account(str(row["login"])) for row in rows)
        return [account for account in found if account is not None]

    def check_password(self, login: str, password: str) -> Account | None:
        """The account when ``login``/``password`` (or alias/secret) are valid, else None."""
        account = self.account(login)
        if account is not None:
            if account.enabled and hmac.compare_digest(account.password, password):
                return account
            return None
        token = self.token(login)
        if token is not None and hmac.compare_digest(token.secret, password):
            return self.account(token.login)
        return None

    # sessions -----------------------------------------------------------------------------
    def open_session(self, login: str) -> HttpSession:
        stamp = now_ms()
        session = HttpSession(secrets.token_hex(16).upper(), login, stamp, stamp)
        with self._lock:
            if len(self._sessions) >= PRUNE_AT:  # clients without cookies open one per call
                expired = [
                    key
                    for key, old in self._sessions.items()
                    if stamp - old.last_access_ms > SESSION_TIMEOUT_MS
                ]
                for key in expired:
                    del self._sessions[key]
            self._sessions[session.session_id] = session
        return session

    def session(self, session_id: str) -> HttpSession | None:
        """The live session with this id (touching it), or None when unknown or expired."""
        stamp = now_ms()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            lifetime = self.session_lifetime_ms
            if stamp - session.last_access_ms > SESSION_TIMEOUT_MS or (
                lifetime is not None and stamp - session.created_ms > lifetime
            ):
                del self._sessions[session_id]
                self.expired_sessions += 1
                return None
            session.last_access_ms = stamp
            return session

    def end_session(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    # alias tokens -------------------------------------------------------------------------
    def issue_token(self, login: str) -> AliasToken:
        created = now_ms()
        token = AliasToken(
            alias=str(uuid.uuid4()),
            secret=secrets.token_urlsafe(48),
            login=login,
            created_ms=created,
            expires_ms=created + TOKEN_LIFETIME_MS,
        )
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO tokens(alias, secret, login, created_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (token.alias, token.secret, login, token.created_ms, token.expires_ms),
            )
        return token

    def token(self, alias: str) -> AliasToken | None:
        """The enabled, unexpired token with this alias."""
        row = (
            self._db.read()
            .execute("SELECT * FROM tokens WHERE alias = ? AND enabled = 1", (alias,))
            .fetchone()
        )
        if row is None or int(row["expires_ms"]) < now_ms():
            return None
        return AliasToken(
            alias=row["alias"],
            secret=row["secret"],
            login=row["login"],
            created_ms=int(row["created_ms"]),
            expires_ms=int(row["expires_ms"]),
        )

    def validate_token(self, alias: str, secret: str) -> AliasToken | None:
        token = self.token(alias)
        if token is None or not hmac.compare_digest(token.secret, secret):
            return None
        return token

    def invalidate_token(self, alias: str, secret: str) -> bool:
        if self.validate_token(alias, secret) is None:
            return False
        with self._db.write() as conn:
            conn.execute("UPDATE tokens SET enabled = 0 WHERE alias = ?", (alias,))
        return True


def parse_basic_auth(header: str) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` header, or None if malformed."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
