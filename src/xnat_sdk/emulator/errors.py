"""HTTP errors raised by route handlers, answered with the bodies a real XNAT sends.

XNAT's REST layer (Restlet) answers errors with a small HTML status page whose message sits in
an ``<h3>`` element; xnatpy extracts that element to build its exception messages. XAPI
endpoints (``/xapi/...``) answer with a plain-text message instead.
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    416: "Requested Range Not Satisfiable",
    500: "Internal Server Error",
}


class XnatHTTPError(Exception):
    """An HTTP error answer: ``status`` and the message shown to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> XnatHTTPError:
    return XnatHTTPError(400, message)


def not_found(message: str) -> XnatHTTPError:
    return XnatHTTPError(404, message)


def forbidden(message: str) -> XnatHTTPError:
    return XnatHTTPError(403, message)


def conflict(message: str) -> XnatHTTPError:
    return XnatHTTPError(409, message)


def restlet_error_page(status: int, message: str) -> str:
    """The HTML status page Restlet renders for an error status."""
    reason = REASONS.get(status, "Error")
    return (
        "<html>\n<head>\n   <title>Status page</title>\n</head>\n"
        '<body style="font-family: sans-serif;">\n'
        f'<p style="font-size: 1.2em;font-weight: bold;margin: 1em 0px;">{escape(reason)}</p>\n'
        f"<h3>{escape(message)}</h3>\n"
        f'<p>You can get technical details <a href="http://www.w3.org/Protocols/rfc2616/'
        f'rfc2616-sec10.html">here</a>.<br>\n'
        'Please continue your visit at our <a href="/">home page</a>.\n</p>\n</body>\n</html>\n'
    )


def error_response(request: Request, error: XnatHTTPError) -> Response:
    """The answer for ``error`` in the style of the API family the request went to."""
    headers = {"WWW-Authenticate": 'Basic realm="XNAT"'} if error.status == 401 else None
    if request.url.path.startswith("/xapi/"):
        return PlainTextResponse(error.message, status_code=error.status, headers=headers)
    return Response(
        restlet_error_page(error.status, error.message),
        status_code=error.status,
        media_type="text/html;charset=UTF-8",
        headers=headers,
    )
