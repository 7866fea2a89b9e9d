"""Pull the schema set of a live XNAT: ``GET /xapi/schemas`` and ``GET /xapi/schemas/{name}``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import cast


class ServerError(Exception):
    """The server's schema list or a schema could not be fetched; names the URL."""


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, OSError) as exc:
        raise ServerError(f"GET {url} failed: {exc}") from exc


def download_schemas(base_url: str, target: Path) -> list[Path]:
    """Save every schema the server lists under ``target`` (``xnat/xnat.xsd``, ...)."""
    if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise ServerError(f"{base_url}: only http and https URLs are supported")
    root = base_url.rstrip("/")
    listing_url = f"{root}/xapi/schemas"
    try:
        names = json.loads(_get(listing_url))
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
        body = _get(f"{root}/xapi/schemas/{quoted}")
        path = target.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        saved.append(path)
    return saved
