"""SessionConfig: a small, picklable description of a session that another process reconnects from.

A live ``XNATSession`` holds a login and cannot travel; its config can. ``session.config()``
describes a session without its secret (the receiving process finds the credentials in its own
netrc file or ``XNAT_USER``/``XNAT_PASS``); ``session.config(include_secret=True)`` or
``SessionConfig(..., password=...)`` carries the secret, on request only. The secret never
appears in a repr.

``config.connect()`` opens a new session; ``config.session()`` is the one session of this process
for that config (opened on first use, reopened after a fork or a disconnect), which live objects
unpickled in a worker use from their first request on.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, TypeAlias

from xnat_sdk._http import RetryPolicy
from xnat_sdk.auth import Credentials, resolve_credentials, resolve_server
from xnat_sdk.errors import XNATValueError

if TYPE_CHECKING:
    import httpx

    from xnat_sdk.session import XNATSession

#: How the connecting process logs in: a user name and password (or alias token and secret),
#: whatever its netrc file (then ``XNAT_USER``/``XNAT_PASS``) holds for the server, or not at all.
AuthMethod: TypeAlias = Literal["password", "token", "netrc", "anonymous"]
#: Seconds for every phase, or (connect, read, write, pool); ``None`` is the SDK's default.
TimeoutSpec: TypeAlias = (
    float | tuple[float | None, float | None, float | None, float | None] | None
)

#: Heartbeat interval of sessions (XNAT's default session timeout is 15 minutes).
DEFAULT_KEEPALIVE_SECONDS = 14 * 60.0


@dataclass(frozen=True)
class SessionConfig:
    """Where and how to log in, without the live login: picklable, hashable, comparable.

    ``auth`` defaults to ``"netrc"`` (credentials found on the connecting machine, as
    ``connect()`` finds them); giving ``password`` makes it ``"password"`` (``"token"`` when
    ``user`` is an alias token). ``"password"``/``"token"`` without ``password`` look the
    secret up for ``user`` in netrc or ``XNAT_PASS`` when connecting.
    """

    server: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    auth: AuthMethod = "netrc"
    netrc_file: str | None = None
    verify: bool = True
    timeout: TimeoutSpec = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keepalive: float | None = DEFAULT_KEEPALIVE_SECONDS
    detect_redirect: bool = True
    extension_types: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "server", resolve_server(self.server))
        if self.password is not None and self.auth == "netrc":
            is_token = Credentials(self.user or "", self.password).is_token
            inferred: AuthMethod = "token" if is_token else "password"
            object.__setattr__(self, "auth", inferred)
        if self.auth in ("password", "token") and not self.user:
            raise XNATValueError(f"SessionConfig(auth={self.auth!r}) needs a user")
        if self.auth == "anonymous" and (self.user is not None or self.password is not None):
            raise XNATValueError("SessionConfig(auth='anonymous') takes no user or password")
        timeouts = self.timeout if isinstance(self.timeout, tuple) else (self.timeout,)
        if any(value is not None and value <= 0 for value in timeouts):
            raise XNATValueError(f"SessionConfig.timeout must be positive, not {self.timeout}")
        if self.keepalive is not None and self.keepalive <= 0:
            raise XNATValueError(
                f"SessionConfig.keepalive must be positive or None, not {self.keepalive}"
            )

    @property
    def has_secret(self) -> bool:
        """Whether the config carries a password or token secret (shown instead of it)."""
        return self.password is not None

    def without_secret(self) -> SessionConfig:
        """The same config, the receiver to find the secret itself (netrc or environment)."""
        return replace(self, password=None)

    def http_timeout(self) -> httpx.Timeout:
        """The ``httpx.Timeout`` a session from this config uses."""
        import httpx

        from xnat_sdk._http import DEFAULT_TIMEOUT, as_timeout

        if isinstance(self.timeout, tuple):
            connect, read, write, pool = self.timeout
            return httpx.Timeout(connect=connect, read=read, write=write, pool=pool)
        return as_timeout(self.timeout, DEFAULT_TIMEOUT)

    def credentials(self) -> Credentials | None:
        """The credentials to log in with, found now (netrc, environment) when not carried."""
        if self.auth == "anonymous":
            return None
        if self.password is not None and self.user is not None:
            return Credentials(self.user, self.password)
        found = resolve_credentials(self.server, self.user, None, self.netrc_file)
        if found is None:
            raise XNATValueError(
                f"no credentials for {self.server} in this process (auth={self.auth!r}): put "
                "them in a netrc file (netrc_file=...) or XNAT_USER/XNAT_PASS, pass the secret "
                "explicitly, or use auth='anonymous'"
            )
        return found

    def connect(self, logger: logging.Logger | None = None) -> XNATSession:
        """Log in and return a new session (the caller disconnects it)."""
        from xnat_sdk.session import open_session

        return open_session(
            self, self.credentials(), logger=logger or logging.getLogger("xnat_sdk")
        )

    def session(self) -> XNATSession:
        """This process's shared session for this config, opened on first use.

        Worker processes call it (through unpickled objects) once per task; it logs in once per
        process, and again only after the session was disconnected or the process forked.
        """
        key = (os.getpid(), self)
        with _SHARED_LOCK:
            session = _SHARED.get(key)
            if session is None or session.closed:
                session = self.connect()
                _SHARED[key] = session
            return session


#: The shared sessions by (process, config): a forked child must not reuse its parent's sockets.
_SHARED: dict[tuple[int, SessionConfig], XNATSession] = {}
_SHARED_LOCK = threading.Lock()


def close_shared_sessions() -> None:
    """Log out and close this process's shared sessions (``client.run(close_shared_sessions)``
    on Dask workers). Not run at exit on purpose: logging out of an unreachable server would
    hold the exit for the whole retry budget; unclosed, the server expires the session."""
    with _SHARED_LOCK:
        mine = [key for key in _SHARED if key[0] == os.getpid()]
        sessions = [_SHARED.pop(key) for key in mine]
    for session in sessions:
        session.disconnect()
