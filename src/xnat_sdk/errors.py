"""The exception hierarchy of the client.

Every error the SDK raises derives from ``XNATError``. Errors about a server answer carry the
method, the URL (without credentials), the status and the server's own message, so a log line is
enough to understand what went wrong. No message ever contains a password, token or session ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters whose values are secrets and never appear in a message.
_SECRET_PARAMS = frozenset({"password", "pass", "secret", "token", "jsessionid", "alias"})


def redact_url(url: str) -> str:
    """``url`` without user info and with secret query values replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="/:*,"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class XNATError(Exception):
    """Base of every error raised by xnat-sdk."""


class XNATValueError(XNATError, ValueError):
    """A value given to the SDK was rejected before any request was sent."""


class XNATInvalidLabelError(XNATValueError):
    """A label or ID contains a character XNAT does not allow."""

    def __init__(self, label: str, character: str) -> None:
        self.label = label
        self.character = character
        super().__init__(
            f"invalid label {label!r}: character {character!r} is not allowed "
            "(XNAT labels may contain only letters, digits, '_' and '-')"
        )


class XNATConnectionError(XNATError):
    """The server could not be reached or the connection broke."""


class XNATTimeoutError(XNATConnectionError):
    """The server did not connect or answer within the timeout (after any retries)."""


class XNATOutcomeUnknownError(XNATConnectionError):
    """A request that must not be repeated was sent, but its answer was lost.

    The server may or may not have applied it (a POST that created something, an upload
    without overwrite): the client does not send it again. Check the server's state before
    trying once more.
    """


class XNATSessionClosedError(XNATError):
    """The session was used after ``disconnect()``."""


class XNATKeyError(XNATError, KeyError):
    """A listing has no item with the given ID, secondary key or position."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class XNATAmbiguousKeyError(XNATKeyError):
    """A secondary key (a label) matches more than one item of a listing."""

    def __init__(self, key: str, candidates: Sequence[str]) -> None:
        self.key = key
        self.candidates = tuple(candidates)
        super().__init__(
            f"key {key!r} is ambiguous: it is the label of {', '.join(self.candidates)}; "
            "use the ID instead"
        )


class XNATResponseError(XNATError):
    """The server answered with a status the caller did not accept."""

    def __init__(self, method: str, url: str, status_code: int, message: str) -> None:
        self.method = method
        self.url = redact_url(url)
        self.status_code = status_code
        self.message = message
        detail = f": {message}" if message else ""
        super().__init__(f"{method} {self.url} answered {status_code}{detail}")


class XNATAuthError(XNATResponseError):
    """401: the credentials were refused or the session expired."""


class XNATLoginRequiredError(XNATAuthError):
    """401 on an anonymous session: there are no credentials to log in again with."""

    def __init__(self, method: str, url: str, status_code: int, message: str) -> None:
        super().__init__(method, url, status_code, message)
        self.args = (
            f"{self.args[0]} (this session is anonymous: connect with user/password, a token "
            "or a netrc entry to reach it)",
        )


class XNATForbiddenError(XNATResponseError):
    """403: the user may not do this."""


class XNATNotFoundError(XNATResponseError):
    """404: the object or path does not exist."""


class XNATConflictError(XNATResponseError):
    """409: the object already exists or the change conflicts with the server's state."""


class XNATServerError(XNATResponseError):
    """5xx: the server failed."""


class XNATDigestError(XNATError):
    """A downloaded file does not match the digest or length the server announced."""


def error_for_status(method: str, url: str, status_code: int, message: str) -> XNATResponseError:
    """The most specific ``XNATResponseError`` subclass for ``status_code``."""
    cls: type[XNATResponseError]
    if status_code == 401:
        cls = XNATAuthError
    elif status_code == 403:
        cls = XNATForbiddenError
    elif status_code == 404:
        cls = XNATNotFoundError
    elif status_code == 409:
        cls = XNATConflictError
    elif status_code >= 500:
        cls = XNATServerError
    else:
        cls = XNATResponseError
    return cls(method, url, status_code, message)
