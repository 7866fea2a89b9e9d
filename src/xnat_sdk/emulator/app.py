"""Assembles the emulator's Starlette application from the route modules.

Each ``routes_*`` module exposes ``routes: list[BaseRoute]``. To plug in another module, add its
name to ``ROUTE_MODULES`` (one line; order matters only where two patterns overlap: earlier
modules win). Handlers reach the shared state with ``context.context_of(request)`` and the
caller with ``context.require_account(request)``; raise ``errors.XnatHTTPError`` for an error
answer. The archive's object store API, which prearchive archiving uses, is
``archive.ArchiveStore(context_of(request))``.
"""

from __future__ import annotations

import importlib

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from xnat_sdk.emulator.context import EmulatorContext
from xnat_sdk.emulator.errors import XnatHTTPError, error_response
from xnat_sdk.emulator.faults import FaultMiddleware
from xnat_sdk.emulator.middleware import XnatMiddleware

ROUTE_MODULES: tuple[str, ...] = (
    # The archive first: nearly every request goes there, and Starlette tries the patterns in
    # order (two dozen regular expressions per request otherwise). No other module's paths
    # start with /data/projects, /data/subjects or /data/experiments, except:
    "xnat_sdk.emulator.routes_summaries",  # scan_types, scanners (before the archive's paths)
    "xnat_sdk.emulator.routes_archive",
    "xnat_sdk.emulator.routes_site",
    "xnat_sdk.emulator.routes_files",
    "xnat_sdk.emulator.routes_prearchive",  # prearchive, import service, dicomdump
    "xnat_sdk.emulator.routes_search",  # search
    "xnat_sdk.emulator.faults",  # the emulator-only fault injection control
)


def collect_routes(module_names: tuple[str, ...] = ROUTE_MODULES) -> list[BaseRoute]:
    """The ``routes`` lists of the named modules, in order."""
    collected: list[BaseRoute] = []
    for name in module_names:
        module_routes: list[BaseRoute] = importlib.import_module(name).routes
        collected.extend(module_routes)
    return collected


async def _xnat_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, XnatHTTPError):
        return error_response(request, exc)
    if isinstance(exc, HTTPException):  # no route matched, or a method it does not allow
        return error_response(request, XnatHTTPError(exc.status_code, exc.detail))
    raise exc


def create_app(context: EmulatorContext) -> Starlette:
    """The ASGI application serving ``context`` (one data directory)."""
    app = Starlette(
        routes=collect_routes(),
        middleware=[
            Middleware(FaultMiddleware, plan=context.faults),  # outermost: before auth
            Middleware(XnatMiddleware, context=context),
        ],
        exception_handlers={XnatHTTPError: _xnat_error, HTTPException: _xnat_error},
    )
    app.state.emulator = context
    return app
