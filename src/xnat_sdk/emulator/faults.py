"""Fault injection, for testing clients' retries and timeouts against misbehaving servers.

A ``FaultPlan`` holds queued faults; each matching request consumes one. Faults are set in
Python (``emulator.faults.fail(2, status=503)``) or over HTTP by an admin with
``PUT /xapi/emulator/faults`` (JSON ``{"kind": "fail"|"drop"|"delay", "count": N,
"status": 503, "seconds": 0.5, "path": "/data/projects"}``) and cleared with
``DELETE /xapi/emulator/faults``. This endpoint exists only in the emulator.
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xnat_sdk.emulator.context import context_of, require_account
from xnat_sdk.emulator.errors import XnatHTTPError
from xnat_sdk.emulator.faultplan import Fault, FaultPlan

CONTROL_PATH = "/xapi/emulator/faults"


class FaultMiddleware:
    """Applies the plan's faults before a request reaches the application."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == CONTROL_PATH:
            await self.app(scope, receive, send)
            return
        fault = self.plan.take(scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, send)
        elif fault.kind == "fail":
            body = f"Injected fault: HTTP {fault.status}".encode()
            await send(_start(fault.status, len(body)))
            await send({"type": "http.response.body", "body": body})
        else:  # drop: promise a body and end without it; the server closes the connection
            await send(_start(200, 1024))
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})


async def control(request: Request) -> Response:
    """``PUT`` queues a fault (JSON body), ``DELETE`` clears them; admins only."""
    account = require_account(request)
    if not account.is_admin:
        raise XnatHTTPError(403, "Only administrators can inject faults")
    plan = context_of(request).faults
    if request.method == "DELETE":
        plan.clear()
        return PlainTextResponse("")
    try:
        spec = json.loads(await request.body())
        fault = Fault(
            kind=str(spec["kind"]),
            remaining=int(spec.get("count", 1)),
            path=str(spec.get("path", "")),
            status=int(spec.get("status", 503)),
            seconds=float(spec.get("seconds", 0.0)),
        )
        plan.add(fault)
    except (ValueError, KeyError, TypeError) as exc:
        raise XnatHTTPError(400, f"Invalid fault: {exc}") from exc
    return PlainTextResponse("queued")


routes: list[BaseRoute] = [Route(CONTROL_PATH, control, methods=["PUT", "POST", "DELETE"])]


def _start(status: int, length: int) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(length).encode())],
    }
