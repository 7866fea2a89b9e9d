"""The I/O-free rules of opening a session, shared by ``connect()`` and ``connect_async()``.

How the arguments of ``connect``/``connect_async`` become logger settings and a ``SessionConfig``
(server, credentials, TLS, timeouts, retries), which request opens a JSESSION for given
credentials, how the answer of ``/data/auth`` names the user, and when an expired login may be
renewed. ``XNATSession`` and ``AsyncXNATSession`` send the requests with their own transport
(blocking or awaited); nothing else differs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from xnat_sdk._http import RetryPolicy, retry_policy
from xnat_sdk.auth import Credentials, resolve_credentials, resolve_server
from xnat_sdk.config import AuthMethod, SessionConfig, TimeoutSpec
from xnat_sdk.errors import XNATAuthError, XNATLoginRequiredError
from xnat_sdk.parsing import logged_in_user

#: The path whose answer names the logged-in user (checked after every login).
WHO_AM_I = "/data/auth"


# -- connect()'s arguments --------------------------------------------------------------------


def configure_logger(
    logger: logging.Logger | None, debug: bool, loglevel: int | str | None
) -> logging.Logger:
    """The session's logger (``xnat_sdk`` unless given), at DEBUG for ``debug`` or at
    ``loglevel`` when given; left as it is otherwise."""
    log = logger or logging.getLogger("xnat_sdk")
    if debug:
        log.setLevel(logging.DEBUG)
    elif loglevel is not None:
        log.setLevel(loglevel)
    return log


def auth_method(user_given: str | None, credentials: Credentials | None) -> AuthMethod:
    """How ``connect()`` found ``credentials``: none, for the given user, or by netrc/env."""
    if credentials is None:
        return "anonymous"
    if credentials.is_token:
        return "token"
    return "password" if user_given is not None else "netrc"


def timeout_spec(timeout: float | httpx.Timeout | None) -> TimeoutSpec:
    """``connect(timeout=...)`` in the picklable form a ``SessionConfig`` keeps."""
    if isinstance(timeout, httpx.Timeout):
        return (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return timeout


def describe_connection(
    server: str | None,
    user: str | None,
    password: str | None,
    netrc_file: str | os.PathLike[str] | None,
    *,
    verify: bool,
    timeout: float | httpx.Timeout | None,
    retry: RetryPolicy | int | None,
    keepalive: float | None,
    detect_redirect: bool,
    extension_types: bool = True,
) -> tuple[SessionConfig, Credentials | None]:
    """The ``SessionConfig`` that ``connect``'s arguments describe (secret-free) and the
    credentials found for it: given, else netrc, else ``XNAT_USER``/``XNAT_PASS``, else none.
    Bad values (a server that is no http(s) URL, a timeout <= 0) raise ``XNATValueError``."""
    base = resolve_server(server)
    credentials = resolve_credentials(base, user, password, netrc_file)
    config = SessionConfig(
        base,
        credentials.user if credentials else None,
        auth=auth_method(user, credentials),
        netrc_file=os.fspath(netrc_file) if netrc_file is not None else None,
        verify=verify,
        timeout=timeout_spec(timeout),
        retry=retry_policy(retry),
        keepalive=keepalive,
        detect_redirect=detect_redirect,
        extension_types=extension_types,
    )
    return config, credentials


def warn_if_unverified(config: SessionConfig, logger: logging.Logger) -> None:
    """One warning per session that turns TLS verification off."""
    if not config.verify:
        logger.warning("TLS certificate verification is off for %s", config.server)


# -- the login requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRequest:
    """A request of opening or closing a session (its body and auth never shown in a repr)."""

    method: str
    path: str
    data: Mapping[str, str] | None = field(default=None, repr=False)
    auth: httpx.Auth | None = field(default=None, repr=False)
    accepted_status: frozenset[int] | None = None
    follow_redirects: bool = False


#: Ends the JSESSION (some XNAT versions answer 204).
LOGOUT = SessionRequest("DELETE", "/data/JSESSION", accepted_status=frozenset({200, 204}))


def redirect_probe(server: str) -> SessionRequest:
    """``GET {server}/`` following redirects, any status accepted: ``parsing.redirect_base``
    of where it ends is the server to use (http->https, a path prefix)."""
    return SessionRequest(
        "GET", server + "/", accepted_status=frozenset(range(100, 600)), follow_redirects=True
    )


def login_request(credentials: Credentials | None) -> SessionRequest:
    """Anonymous: ``GET /data/JSESSION``; an alias token: the same with basic auth (XNAT's
    token login); a user: ``PUT /data/services/auth`` with the password as a form field."""
    if credentials is None:
        return SessionRequest("GET", "/data/JSESSION")
    if credentials.is_token:
        auth = httpx.BasicAuth(credentials.user, credentials.password)
        return SessionRequest("GET", "/data/JSESSION", auth=auth)
    return SessionRequest(
        "PUT",
        "/data/services/auth",
        data={"username": credentials.user, "password": credentials.password},
        accepted_status=frozenset({200, 201}),
    )


def login_refused(refused: XNATAuthError, credentials: Credentials | None) -> XNATAuthError:
    """The error for a login request answered 401: a site without guest access tells an
    anonymous session that it needs credentials (``XNATLoginRequiredError``)."""
    if credentials is None:
        return XNATLoginRequiredError(
            refused.method, refused.url, refused.status_code, refused.message
        )
    return refused


def logged_in_as(answer: str, url: str) -> str:
    """The user the answer of ``GET /data/auth`` (at ``url``) names; ``XNATAuthError`` when
    it names nobody (the login did not take)."""
    user = logged_in_user(answer)
    if user is None:
        raise XNATAuthError("GET", url, 401, answer[:200])
    return user


def renewal_refused(
    expired: XNATAuthError, credentials: Credentials | None, user: str | None
) -> XNATLoginRequiredError | None:
    """Why a session answered 401 (``expired``) cannot log in again, or ``None`` when it can:
    an anonymous session has no credentials to renew with."""
    if credentials is None or user is None:
        return XNATLoginRequiredError(
            expired.method, expired.url, expired.status_code, expired.message
        )
    return None
