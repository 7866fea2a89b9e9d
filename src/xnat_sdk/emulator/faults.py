"""Fault injection, for testing clients' retries, resumes and renewals against a bad server.

The ``FaultPlan`` (``faultplan.py``) decides which request gets which fault; this middleware
applies it. Faults are set in Python (``emulator.faults.fail(2, status=503)``,
``Emulator(..., faults=FaultSettings(...))``), with ``xnat-sdk emulator --fault-...`` flags, or
over HTTP by an admin: ``PUT /xapi/emulator/faults`` with JSON ``{"kind": "fail"|"drop"|"delay",
"count": N, "status": 503, "seconds": 0.5, "after_bytes": 0, "retry_after": "1", "path":
"/data/projects"}`` queues one, ``{"kind": "random", "seed": 1, "fail_rate": 0.1, ...}`` (the
fields of ``FaultSettings``) sets the random faults, ``GET`` answers the counts (faults injected,
requests seen, body bytes sent) and ``DELETE`` clears the faults. This endpoint exists only in
the emulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import fields
from typing import TypeVar, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xnat_sdk.emulator.context import EmulatorContext, context_of, require_account
from xnat_sdk.emulator.errors import XnatHTTPError
from xnat_sdk.emulator.faultplan import Fault, FaultPlan, FaultSettings

CONTROL_PATH = "/xapi/emulator/faults"
N = TypeVar("N", int, float)


def apply_settings(context: EmulatorContext, settings: FaultSettings | None) -> None:
    """Make ``settings`` the emulator's random faults and session lifetime."""
    context.faults.configure(settings)
    lifetime = settings.session_lifetime if settings is not None else None
    context.auth.session_lifetime_ms = None if lifetime is None else int(lifetime * 1000)


class _ConnectionCut(Exception):
    """Raised into the application once a dropped response has sent its allowance."""


class FaultMiddleware:
    """Counts every request and applies the plan's fault before the application sees it."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == CONTROL_PATH:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        fault = self.plan.take(scope["method"], path)

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.plan.count_body(path, len(message.get("body", b"")))
            await send(message)

        if fault is None:
            await self.app(scope, receive, counting)
        elif fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, counting)
        elif fault.kind == "fail":
            body = f"Injected fault: HTTP {fault.status}".encode()
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
            if fault.retry_after is not None:
                headers.append((b"retry-after", fault.retry_after.encode("latin-1")))
            await send({"type": "http.response.start", "status": fault.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:
            await self._cut_after(fault.after_bytes, scope, receive, counting)

    async def _cut_after(self, allowance: int, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request but end the connection after ``allowance`` body bytes.

        The announced length is raised above the allowance when needed, so the client always
        sees an incomplete answer; returning without completing makes the server close it.
        """
        sent = 0
        cut = False

        async def cutting(message: Message) -> None:
            nonlocal sent, cut
            if message["type"] == "http.response.start":
                message = dict(message, headers=_longer_than(message["headers"], allowance))
                await send(message)
                return
            body: bytes = message.get("body", b"")
            room = allowance - sent
            if len(body) < room or (len(body) == room and message.get("more_body", False)):
                sent += len(body)
                await send(message)
                return
            if room > 0:
                await send({"type": "http.response.body", "body": body[:room], "more_body": True})
            cut = True
            raise _ConnectionCut

        try:
            await self.app(scope, receive, cutting)
        except Exception:  # the cut itself, possibly wrapped by a task group
            if not cut:
                raise


def _longer_than(headers: list[tuple[bytes, bytes]], allowance: int) -> list[tuple[bytes, bytes]]:
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name.lower() == b"content-length":
            value = b"%d" % max(int(value), allowance + 1)
        kept.append((name, value))
    return kept


async def control(request: Request) -> Response:
    """Admins only: ``PUT`` queues a fault or sets random ones, ``GET`` answers the counts,
    ``DELETE`` clears the faults."""
    account = require_account(request)
    if not account.is_admin:
        raise XnatHTTPError(403, "Only administrators can inject faults")
    context = context_of(request)
    plan = context.faults
    if request.method == "GET":
        return JSONResponse({**plan.stats(), "expired_sessions": context.auth.expired_sessions})
    if request.method == "DELETE":
        plan.clear()
        apply_settings(context, None)
        return PlainTextResponse("")
    try:
        spec = _json_object(await request.body())
        if spec.get("kind") == "random":
            apply_settings(context, _settings(spec))
            return PlainTextResponse("configured")
        retry_after = spec.get("retry_after")
        plan.add(
            Fault(
                kind=str(spec["kind"]),
                remaining=_number(spec, "count", 1, int),
                path=str(spec.get("path", "")),
                status=_number(spec, "status", 503, int),
                seconds=_number(spec, "seconds", 0.0, float),
                after_bytes=_number(spec, "after_bytes", 0, int),
                retry_after=None if retry_after is None else str(retry_after),
            )
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise XnatHTTPError(400, f"Invalid fault: {exc}") from exc
    return PlainTextResponse("queued")


def _json_object(raw: bytes) -> dict[str, object]:
    loaded: object = json.loads(raw)
    if not isinstance(loaded, dict):
        raise TypeError("the body must be a JSON object")
    return cast("dict[str, object]", loaded)


def _number(spec: dict[str, object], key: str, default: N, kind: Callable[[str], N]) -> N:
    value = spec.get(key)
    return default if value is None else kind(str(value))


def _settings(spec: dict[str, object]) -> FaultSettings:
    """``FaultSettings`` from the JSON fields of the same names (unknown names are refused)."""
    known = {f.name for f in fields(FaultSettings)} | {"kind"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise KeyError(f"unknown settings {unknown}")
    lifetime = spec.get("session_lifetime")
    return FaultSettings(
        seed=_number(spec, "seed", 0, int),
        fail_rate=_number(spec, "fail_rate", 0.0, float),
        fail_status=_number(spec, "fail_status", 503, int),
        drop_rate=_number(spec, "drop_rate", 0.0, float),
        drop_after=_number(spec, "drop_after", 0, int),
        delay_rate=_number(spec, "delay_rate", 0.0, float),
        delay=_number(spec, "delay", 0.0, float),
        session_lifetime=None if lifetime is None else float(str(lifetime)),
        path=str(spec.get("path", "")),
    )


routes: list[BaseRoute] = [Route(CONTROL_PATH, control, methods=["GET", "PUT", "POST", "DELETE"])]
