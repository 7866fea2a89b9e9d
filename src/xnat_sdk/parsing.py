"""Answers into typed values, and objects into request arguments: the rules both sessions share.

``XNATSession`` and ``xnat_sdk.aio.AsyncXNATSession`` differ only in how they move bytes; what a
listing row, an object document or a login answer means, and what a create request carries, is
decided here once (as openai-python shares one implementation between its two clients).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

import httpx
from pydantic_core import from_json

from xnat_sdk._http import Query
from xnat_sdk.errors import XNATError, XNATResponseError, XNATValueError
from xnat_sdk.listing import ListingSpec, Row
from xnat_sdk.objects import (
    FileData,
    SessionLike,
    XnatObject,
    check_label,
    field_named,
    partial_model,
)
from xnat_sdk.row_objects import RowBuilder, gc_paused

if TYPE_CHECKING:
    from xnat_sdk._modelbase import XnatModel

T = TypeVar("T")

#: A JSON document as ``json.loads`` returns it.
JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None


def parse_json(response: httpx.Response) -> JSON:
    """The JSON body of ``response``, or ``XNATResponseError`` when it is not JSON."""
    try:
        document = decode_json(response.content)
    except ValueError:
        raise XNATResponseError(
            response.request.method,
            str(response.request.url),
            response.status_code,
            "the answer is not valid JSON",
        ) from None
    finally:
        _release_body(response)
    return document


def decode_json(body: bytes) -> JSON:
    """``body`` parsed as ``json.loads`` would, by pydantic-core's parser where it can.

    pydantic-core's parser takes about 60% of ``json.loads``'s time for a 19 MB listing and
    shares one string object among equal short strings (keys, projects, dates, types), which
    the listing's objects then hold. It refuses a few things ``json.loads`` accepts (text that
    is not UTF-8, unpaired surrogate escapes); those bodies are parsed by ``json.loads``, so the
    result, and the ``ValueError`` on a body that is not JSON, are the same as before.
    """
    try:
        document: JSON = from_json(body, cache_strings="all")
    except ValueError:
        document = json.loads(body)
    return document


def _release_body(response: httpx.Response) -> None:
    """Let ``response`` and its body be freed as soon as the caller drops it.

    httpx's response and the stream it was read from refer to each other, so without this the
    body (19 MB for a listing of 100,000 experiments) lives until the cyclic collector's next
    full pass, on top of the objects built from it. The body stays readable (it is cached).
    """
    response.stream = httpx.ByteStream(b"")


def result_rows(document: JSON, url: str) -> list[dict[str, str]]:
    """The rows of a ``{"ResultSet": {"Result": [...]}}`` listing, every value a string."""
    result = document.get("ResultSet", {}) if isinstance(document, dict) else None
    rows = result.get("Result") if isinstance(result, dict) else None
    if not isinstance(rows, list):
        raise XNATResponseError("GET", url, 200, "the answer is not a ResultSet listing")
    return [_as_text(row) for row in rows if isinstance(row, dict)]


def _as_text(row: dict[str, JSON]) -> dict[str, str]:
    """``row`` with every value a string; XNAT sends strings, and such a row is kept as it is
    (checking is several times cheaper than building a new dict per row of a big listing)."""
    for value in row.values():
        if value.__class__ is not str:
            return {key: "" if item is None else str(item) for key, item in row.items()}
    return cast("dict[str, str]", row)


def first_item(document: JSON, url: str) -> XnatModel:
    """The model of ``items[0]`` of an object answer, of the class its xsi:type names."""
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise XNATResponseError("GET", url, 200, "the answer has no items[0] object")
    from xnat_sdk.models import parse_json_item

    return parse_json_item(items[0])


def custom_field_values(document: JSON) -> dict[str, str]:
    """The custom variables (``fields/field`` children) of an object answer."""
    items = document.get("items") if isinstance(document, dict) else None
    first = items[0] if isinstance(items, list) and items else None
    children = first.get("children") if isinstance(first, dict) else None
    values: dict[str, str] = {}
    for child in children if isinstance(children, list) else []:
        if not isinstance(child, dict) or child.get("field") != "fields/field":
            continue
        entries = child.get("items")
        for entry in entries if isinstance(entries, list) else []:
            data = entry.get("data_fields") if isinstance(entry, dict) else None
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                values[str(data["name"])] = str(data.get("field") or "")
    return values


def logged_in_user(answer: str) -> str | None:
    """The login named by ``GET /data/auth`` (``User 'admin' is logged in``), if any."""
    start, end = answer.find("'"), answer.rfind("'")
    return answer[start + 1 : end] if 0 <= start < end else None


def redirect_base(final_url: str) -> str:
    """The server URL that a redirected ``GET {server}/`` ended on: everything before
    ``/app/`` or ``/data/``, else the URL without query and trailing slash."""
    from urllib.parse import urlsplit, urlunsplit

    for marker in ("/app/", "/data/"):
        if marker in final_url:
            return final_url.split(marker, 1)[0]
    parts = urlsplit(final_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def query_with_format(query: Query | None, format: str | None) -> Query | None:
    """``query`` with ``format=...`` appended (unchanged when no format is asked)."""
    if format is None:
        return query
    pairs = list(query.items() if isinstance(query, Mapping) else query or [])
    return [*pairs, ("format", format)]


def checked(value: object, expected: type[T], source: str) -> T:
    """``value`` if it is an ``expected``, else an error naming where it came from."""
    if not isinstance(value, expected):
        raise XNATError(f"{source} is a {type(value).__name__}, expected {expected.__name__}")
    return value


def class_for(xsi_type: str, item_type: type[object]) -> type[XnatObject]:
    """The generated class named by ``xsi_type`` if it fits ``item_type``, else ``item_type``."""
    if xsi_type:  # listings without a type column (projects, subjects) need no registry
        from xnat_sdk._generated.registry import ELEMENTS, XSI_TYPES

        candidate = XSI_TYPES.get(xsi_type) or ELEMENTS.get(xsi_type)
        if candidate is not None and issubclass(candidate, item_type):
            return candidate
    if not issubclass(item_type, XnatObject):
        raise XNATError(f"{item_type.__name__} is not an XNAT model")
    return item_type


def file_from_row(session: SessionLike, row: Row, uri: str, path: str) -> FileData:
    """The ``FileData`` of a row of a ``files`` listing."""
    size = row.get("Size", "")
    return FileData(
        session,
        uri,
        path=path,
        size=int(size) if size.isdigit() else None,
        digest=row.get("digest") or None,
        collection=row.get("collection") or None,
        tags=row.get("file_tags") or None,
        format=row.get("file_format") or None,
        content=row.get("file_content") or None,
    )


class RowObjects:
    """Listing rows -> live objects, with one ``RowBuilder`` per (xsi:type, item type, columns)
    worked out once per session."""

    def __init__(self) -> None:
        self._builders: dict[tuple[str, type[object], tuple[str, ...]], RowBuilder[XnatObject]] = {}

    def build(
        self,
        row: dict[str, str],
        key: str,
        listing_uri: str,
        spec: ListingSpec,
        item_type: type[T],
        session: SessionLike,
    ) -> T:
        """The object for ``row`` (keyed ``key``), bound to ``session`` below ``listing_uri``."""
        # One row (a lookup, an async listing's item): none of a batch's lists.
        uri = f"{listing_uri}/{key}"
        if issubclass(item_type, FileData):
            return _file_item(session, row, key, uri, listing_uri, item_type)
        builder = self._builder(row, spec.type_column or None, item_type)
        # A builder's class is item_type or the subclass of it that class_for chose.
        return cast("T", builder.build(row, session, uri))

    def build_many(
        self,
        rows: Sequence[dict[str, str]],
        keys: Sequence[str],
        listing_uri: str,
        spec: ListingSpec,
        item_type: type[T],
        session: SessionLike,
    ) -> list[T]:
        """The objects for ``rows`` (keyed ``keys``), bound to ``session`` below
        ``listing_uri``, each of the class its row's xsi:type names (built as one batch)."""
        with gc_paused():
            return self._build(rows, keys, listing_uri, spec, item_type, session)

    def _build(
        self,
        rows: Sequence[dict[str, str]],
        keys: Sequence[str],
        listing_uri: str,
        spec: ListingSpec,
        item_type: type[T],
        session: SessionLike,
    ) -> list[T]:
        # Objects live below the listing they came from (/data/projects/P/subjects/ID, not the
        # row's /data/subjects/ID): XNAT creates children only within a project's path.
        uris = [f"{listing_uri}/{key}" for key in keys]
        if issubclass(item_type, FileData):
            return [
                _file_item(session, row, key, uri, listing_uri, item_type)
                for row, key, uri in zip(rows, keys, uris, strict=True)
            ]
        built: list[XnatObject] = []
        type_column = spec.type_column or None
        position = 0
        while position < len(rows):
            # Consecutive rows of one xsi:type and column set (a whole listing, as a rule) are
            # built by one builder in one loop.
            builder = self._builder(rows[position], type_column, item_type)
            position = builder.build_run(rows, uris, position, session, built, type_column)
        # A builder's class is item_type or the subclass of it that class_for chose.
        return cast("list[T]", built)

    def _builder(
        self, row: dict[str, str], type_column: str | None, item_type: type[object]
    ) -> RowBuilder[XnatObject]:
        xsi_type = row.get(type_column, "") if type_column is not None else ""
        key = (xsi_type, item_type, tuple(row))
        builder = self._builders.get(key)
        if builder is None:
            builder = RowBuilder(class_for(xsi_type, item_type), key[2], xsi_type)
            self._builders[key] = builder
        return builder


def _file_item(
    session: SessionLike, row: Row, key: str, uri: str, listing_uri: str, item_type: type[T]
) -> T:
    """The ``FileData`` of a row of the ``files`` listing at ``listing_uri``, as ``item_type``."""
    built = file_from_row(session, row, row.get("URI") or uri, key)
    return checked(built, item_type, f"a row of {listing_uri}")


def new_model(
    item_type: type[object], spec: ListingSpec, key: str, fields: Mapping[str, object]
) -> XnatObject:
    """The model to create at ``key`` from ``fields``, validated before anything is sent."""
    if not issubclass(item_type, XnatObject):
        raise XNATValueError(f"{item_type.__name__} objects cannot be created this way")
    check_label(key)
    key_field = field_named(item_type, spec.create_key)
    return partial_model(item_type, {**fields, key_field: key})


def store_query(obj: object, key: str) -> dict[str, str]:
    """The query of the PUT that stores the model ``obj`` at key ``key``: its xsi:type and
    every set field by xpath."""
    if not isinstance(obj, XnatObject):
        raise XNATValueError(f"{type(obj).__name__} is not an XNAT model")
    check_label(key)
    query = {"xsiType": type(obj).xsi_type}
    query.update((xpath, value) for xpath, value in obj.to_xpath_fields().items() if value)
    return query


def elsewhere_message(key: str, uri: str) -> str:
    """Why an object stored at key ``key`` is not at ``uri`` (XNAT keys labels per project)."""
    return (
        f"the server accepted {key!r} but it is not at {uri}: the label is probably used by "
        "another object of the project"
    )
