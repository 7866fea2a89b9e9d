"""Search endpoints: ``POST /data/search`` (XML search document), ``GET /data/search/elements``
and ``GET /data/search/elements/{element}`` (what xnatpy's ``inspect`` and pyxnat's
``Inspector`` read). Sources: xnat-web ``SearchResource``, ``SearchElementListResource``
(columns ELEMENT_NAME, SINGULAR, PLURAL, SECURED, COUNT) and ``SearchFieldListResource``
(columns FIELD_ID, HEADER, SUMMARY, TYPE, REQUIRES_VALUE, DESC, ELEMENT_NAME, SRC, VISIBLE,
SEARCHABLE, VALUE).
"""

from __future__ import annotations

from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from xnat_sdk.emulator.archive import ArchiveStore, Node
from xnat_sdk.emulator.auth import Account
from xnat_sdk.emulator.context import context_of, require_account
from xnat_sdk.emulator.errors import bad_request
from xnat_sdk.emulator.listings import listing_response
from xnat_sdk.emulator.search import (
    SearchError,
    SearchQuery,
    display_field_id,
    display_field_ids,
    matches,
    parse_search,
    split_field,
)
from xnat_sdk.emulator.typeindex import TypeIndex

MAX_DOCUMENT = 1 << 20

#: (ancestor type, archive kind) for the data types a search can return, most specific first.
KINDS = (
    ("xnat:projectData", "project"),
    ("xnat:subjectData", "subject"),
    ("xnat:imageAssessorData", "assessor"),
    ("xnat:experimentData", "experiment"),
    ("xnat:imageScanData", "scan"),
)
DEFAULT_FIELDS = {
    "project": ("ID", "secondary_ID", "name"),
    "subject": ("ID", "label", "project"),
    "experiment": ("ID", "label", "project", "subject_ID", "date"),
    "assessor": ("ID", "label", "project"),
    "scan": ("ID", "type", "series_description"),
}
ELEMENT_COLUMNS = ("ELEMENT_NAME", "SINGULAR", "PLURAL", "SECURED", "COUNT")
FIELD_COLUMNS = (
    "FIELD_ID",
    "HEADER",
    "SUMMARY",
    "TYPE",
    "REQUIRES_VALUE",
    "DESC",
    "ELEMENT_NAME",
    "SRC",
    "VISIBLE",
    "SEARCHABLE",
    "VALUE",
)


def kind_of(types: TypeIndex, xsi_type: str) -> str | None:
    for ancestor, kind in KINDS:
        if types.is_a(xsi_type, ancestor):
            return kind
    return None


def _values(archive: ArchiveStore, node: Node, kind: str) -> dict[str, str]:
    """An object's searchable values keyed by lower-cased path and display field ID."""
    values: dict[str, str] = dict(node.fields)
    values.update({"ID": node.id, "project": node.project, "insert_date": node.insert_date})
    if node.label:
        values["label"] = node.label
    if kind == "experiment":
        parent = archive.parent(node)
        if parent is not None and parent.kind == "subject":
            values["subject_ID"] = parent.id
            values["subject_label"] = parent.label
    elif kind in ("scan", "assessor"):
        parent = archive.parent(node)
        if parent is not None:
            values["image_session_ID"] = parent.id
    lookup: dict[str, str] = {}
    for path, value in values.items():
        lookup[path.lower()] = value
        for display_id in display_field_ids(kind, path):
            lookup.setdefault(display_id.lower(), value)
    return lookup


def _columns(query: SearchQuery, kind: str) -> list[tuple[str, str]]:
    """(column header, lookup key) for each requested field, in order."""
    fields = [f.field_id for f in query.fields] or [
        f"{query.root_element}/{path}" for path in DEFAULT_FIELDS[kind]
    ]
    columns: list[tuple[str, str]] = []
    for field_id in fields:
        _, path = split_field(field_id) if ":" in field_id else ("", field_id)
        key = path.lower()
        header = display_field_id(kind, path).lower() if ":" in field_id else key
        if header not in (c[0] for c in columns):
            columns.append((header, key))
    return columns


def _candidates(archive: ArchiveStore, types: TypeIndex, root: str, kind: str) -> Iterator[Node]:
    for node in archive.of_kind((kind,)):
        if types.is_a(node.xsi_type, root):
            yield node


def run_search(
    archive: ArchiveStore, account: Account, query: SearchQuery
) -> tuple[list[dict[str, str]], list[str]]:
    types = archive.types
    if query.root_element not in types.types:
        raise bad_request(f"Unknown root element: {query.root_element}")
    kind = kind_of(types, query.root_element)
    if kind is None:
        raise bad_request(f"{query.root_element} is not a searchable data type")
    columns = _columns(query, kind)
    readable: dict[str, bool] = {}
    rows: list[dict[str, str]] = []
    for node in _candidates(archive, types, query.root_element, kind):
        project = node.id if kind == "project" else node.project
        if project not in readable:
            readable[project] = archive.can_read(project, account)
        if not readable[project]:
            continue
        lookup = _values(archive, node, kind)
        if matches(query.where, lookup):
            rows.append({header: lookup.get(key, "") for header, key in columns})
    return rows, [header for header, _ in columns]


async def search(request: Request) -> Response:
    account = require_account(request)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_DOCUMENT:
            raise bad_request("The search document is larger than 1 MiB")
    try:
        query = parse_search(bytes(body))
    except SearchError as error:
        raise bad_request(str(error)) from error
    archive = ArchiveStore(context_of(request))
    rows, columns = run_search(archive, account, query)
    return listing_response(request, rows, columns, "Search results")


def _searchable_types(types: TypeIndex) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, info in types.types.items():
        kind = kind_of(types, name)
        if kind is not None and not info.abstract and not name.startswith("xdat:"):
            found.append((name, kind))
    return found


async def search_elements(request: Request) -> Response:
    account = require_account(request)
    archive = ArchiveStore(context_of(request))
    counts: dict[str, int] = {}
    for _, kind in KINDS:
        for node in archive.of_kind((kind,)):
            project = node.id if kind == "project" else node.project
            if archive.can_read(project, account):
                counts[node.xsi_type] = counts.get(node.xsi_type, 0) + 1
    rows = [
        {
            "ELEMENT_NAME": name,
            "SINGULAR": name,
            "PLURAL": name,
            "SECURED": "false" if kind == "scan" else "true",
            "COUNT": counts.get(name, 0),
        }
        for name, kind in _searchable_types(archive.types)
    ]
    return listing_response(request, rows, ELEMENT_COLUMNS, "Data-Types")


#: The emulator's ID of a type's project-identifier display field (XNAT takes it from the type's
#: display document, which the emulator does not model).
PROJECT_IDENTIFIER = "PROJECT_IDENTIFIER"


def _project_label_rows(name: str, projects: list[str]) -> list[dict[str, object]]:
    """``SearchFieldListResource`` adds, for a type with a project, one ``{id}={project}`` field
    per project the user may read: the object's label within that project."""
    return [
        {
            "FIELD_ID": f"{PROJECT_IDENTIFIER}={project}",
            "HEADER": project,
            "SUMMARY": f"Label within the {project} project.",
            "TYPE": "string",
            "REQUIRES_VALUE": False,
            "DESC": f"Label within the {project} project.",
            "ELEMENT_NAME": name,
            "SRC": 2,
            "VISIBLE": True,
            "SEARCHABLE": True,
            "VALUE": project,
        }
        for project in projects
    ]


async def search_fields(request: Request) -> Response:
    account = require_account(request)
    archive = ArchiveStore(context_of(request))
    readable = [
        node.id for node in archive.of_kind(("project",)) if archive.can_read(node.id, account)
    ]
    types = context_of(request).types
    element = request.path_params["element"]
    rows: list[dict[str, object]] = []
    for name in element.split(","):
        kind = kind_of(types, name) if name in types.types else None
        if kind is None:
            raise bad_request(f"Unknown data type: {name}")
        paths = dict.fromkeys(DEFAULT_FIELDS[kind])
        leaves = types.leaves(name)
        paths.update(dict.fromkeys(leaves))
        for path in paths:
            leaf = leaves.get(path)
            header = path.rsplit("/", 1)[-1]
            rows.append(
                {
                    "FIELD_ID": display_field_id(kind, path),
                    "HEADER": header,
                    "SUMMARY": f"{name}/{path}",
                    "TYPE": leaf.value_type if leaf else "string",
                    "REQUIRES_VALUE": False,
                    "DESC": f"{name}/{path}",
                    "ELEMENT_NAME": name,
                    "SRC": 0,
                    "VISIBLE": True,
                    "SEARCHABLE": True,
                    "VALUE": "",
                }
            )
        if kind != "project":
            rows.extend(_project_label_rows(name, readable))
    return listing_response(request, rows, FIELD_COLUMNS, "Search Fields")


routes: list[BaseRoute] = [
    Route("/data/search", search, methods=["POST"]),
    Route("/data/search/elements", search_elements, methods=["GET"]),
    Route("/data/search/elements/{element}", search_fields, methods=["GET"]),
]
