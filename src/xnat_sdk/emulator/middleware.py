"""ASGI middleware: XNAT's path aliases and request authentication.

Written as plain ASGI (not Starlette's ``BaseHTTPMiddleware``) so that request and response
bodies stream through untouched.
"""

from __future__ import annotations

from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xnat_sdk.emulator.auth import SESSION_TIMEOUT_MS, Account, parse_basic_auth
from xnat_sdk.emulator.context import SCOPE_ACCOUNT, SCOPE_CONTEXT, EmulatorContext
from xnat_sdk.emulator.errors import XnatHTTPError, error_response

# XNAT answers the same REST API under these prefixes.
PATH_ALIASES = (("/data/archive/", "/data/"), ("/REST/", "/data/"))


LOGIN_FAILED = "Login attempt failed. Please try again."

# What an anonymous caller may reach; everything else answers 401 (a site without guest access).
OPEN_PATHS = frozenset({"/", "/data/version", "/data/services/auth", "/data/JSESSION"})
OPEN_PREFIXES = ("/schemas/",)


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def canonical_path(path: str) -> str:
    for alias, target in PATH_ALIASES:
        if path.startswith(alias):
            return target + path[len(alias) :]
    if path == "/data/archive":
        return "/data"
    return path


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(Request(scope), XnatHTTPError(401, LOGIN_FAILED))
    await response(scope, receive, send)


def _credentials_headers(scope: Scope) -> tuple[str | None, str | None]:
    """The first ``Cookie`` and ``Authorization`` headers (as Starlette's ``Request`` reads
    them), found in one pass over the raw headers instead of building a ``Request``."""
    cookie: str | None = None
    authorization: str | None = None
    for name, value in scope["headers"]:
        if name == b"cookie" and cookie is None:
            cookie = value.decode("latin-1")
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    return cookie, authorization


class XnatMiddleware:
    """Rewrites path aliases and authenticates each request (basic auth or JSESSIONID).

    A request with bad basic credentials is refused with 401 whatever its path. A valid basic
    login without a live session cookie opens a session and sets ``JSESSIONID``; every
    authenticated answer carries ``SESSION_EXPIRATION_TIME`` as a real XNAT does.
    """

    def __init__(self, app: ASGIApp, context: EmulatorContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = canonical_path(scope["path"])
        if path != scope["path"]:
            scope = dict(scope, path=path, raw_path=path.encode())
        self.context.db.notice_outside_writes()
        auth = self.context.auth
        account: Account | None = None
        new_session_id: str | None = None
        cookie, header = _credentials_headers(scope)
        cookie_session = cookie_parser(cookie).get("JSESSIONID") if cookie else None
        session = auth.session(cookie_session) if cookie_session else None
        if header is not None:
            credentials = parse_basic_auth(header)
            account = auth.check_password(*credentials) if credentials else None
            if account is None:
                await _refuse(scope, receive, send)
                return
            if session is None or session.login != account.login:
                session = auth.open_session(account.login)
                new_session_id = session.session_id
        elif session is not None:
            account = auth.account(session.login)
        if account is None and not is_open(path):
            await _refuse(scope, receive, send)
            return
        scope[SCOPE_ACCOUNT] = account
        scope[SCOPE_CONTEXT] = self.context
        scope["xnat_sdk.session_id"] = session.session_id if session else None
        if session is None:
            await self.app(scope, receive, send)
            return
        live = session

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if new_session_id is not None:
                    headers.append((b"set-cookie", _session_cookie(new_session_id)))
                headers.append((b"set-cookie", _expiration_cookie(live.last_access_ms)))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def _session_cookie(session_id: str) -> bytes:
    """``Set-Cookie`` for a new session, as ``SimpleCookie`` renders it."""
    return f"JSESSIONID={session_id}; HttpOnly; Path=/".encode("latin-1")


def _expiration_cookie(last_access_ms: int) -> bytes:
    """XNAT's ``SESSION_EXPIRATION_TIME="<last access ms>,<timeout ms>"`` cookie."""
    return b'SESSION_EXPIRATION_TIME="%d,%d"; Path=/' % (last_access_ms, SESSION_TIMEOUT_MS)
