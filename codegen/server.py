"""Pull the schema set of a live XNAT: ``GET /xapi/schemas`` and ``GET /xapi/schemas/{name}``."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import cast


class ServerError(Exception):
    """The server's schema list or a schema could not be fetched; names the URL."""


def _get(url: str, authorization: str | None) -> bytes:
    request = urllib.request.Request(url)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, OSError) as exc:
        raise ServerError(f"GET {url} failed: {exc}") from exc


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP basic auth (never logged)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def download_schemas(base_url: str, target: Path, authorization: str | None = None) -> list[Path]:
    """Save every schema the server lists under ``target`` (``xnat/xnat.xsd``, ...)."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise ServerError(f"{base_url}: only http and https URLs are supported")
    if parts.username or parts.password:
        raise ServerError("put no credentials in the URL: use --user and $XNAT_SDK_PASSWORD")
    root = base_url.rstrip("/")
    listing_url = f"{root}/xapi/schemas"
    try:
        names = json.loads(_get(listing_url, authorization))
    except ValueError as exc:
        raise ServerError(f"GET {listing_url}: not a JSON list of schema names") from exc
    if not isinstance(names, list):
        raise ServerError(f"GET {listing_url}: not a JSON list of schema names")
    saved: list[Path] = []
    for name in cast("list[object]", names):
        relative = PurePosixPath(str(name))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ServerError(f"GET {listing_url}: unsafe schema name {name!r}")
        if relative.suffix != ".xsd":
            relative = relative.with_name(relative.name + ".xsd")
        if len(relative.parts) == 1:
            relative = PurePosixPath(relative.stem) / relative.name
        quoted = "/".join(urllib.parse.quote(part) for part in PurePosixPath(str(name)).parts)
        body = _get(f"{root}/xapi/schemas/{quoted}", authorization)
        path = target.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        saved.append(path)
    return saved
