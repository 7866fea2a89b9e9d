"""Archive endpoints: listings, single objects, create/update/delete, sharing, project access.

One handler serves ``/data/projects``, ``/data/subjects`` and ``/data/experiments`` and
everything below them: ``paths.resolve`` walks the path, then the method and what is left of
the path choose the action. File operations (``.../files...``, ``format=zip``) are handed to
``routes_files``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from xnat_sdk.emulator import routes_files
from xnat_sdk.emulator.archive import DEFAULT_TYPE, ArchiveStore, Node, check_object_label
from xnat_sdk.emulator.auth import Account
from xnat_sdk.emulator.context import context_of, require_account
from xnat_sdk.emulator.documents import ParsedObject, json_item, parse_document, xml_document
from xnat_sdk.emulator.errors import bad_request, forbidden, not_found
from xnat_sdk.emulator.listings import json_listing_body, listing_response, requested_format
from xnat_sdk.emulator.paths import Target, resolve
from xnat_sdk.emulator.readcache import CacheSlot
from xnat_sdk.emulator.rows import TITLES, sql_json_rows, sql_table, sql_table_applies, table

# query parameters that steer the request and are never object fields
CONTROL_PARAMS = frozenset(
    {
        "format",
        "xsiType",
        "xsi:type",
        "req_format",
        "inbody",
        "overwrite",
        "extract",
        "event_reason",
        "event_type",
        "event_action",
        "event_id",
        "allowDataDeletion",
        "removeFiles",
        "columns",
        "label",
        "ID",
        "project",
        "file_format",
        "file_content",
        "file_tags",
        "reference",
        "update-stats",
        "primary",
        "fixScanTypes",
        "preventAnon",
        "preventComplete",
        "triggerPipelines",
        "XNAT_CSRF",
    }
)
# fields that identify an object or are computed; never stored from a request
IDENTITY_FIELDS = frozenset(
    {
        "ID",
        "label",
        "project",
        "subject_ID",
        "image_session_ID",
        "imageSession_ID",
        "xnat_abstractresource_id",
        "file_count",
        "file_size",
    }
)
ROLE_GROUPS = {
    "owner": "owner",
    "owners": "owner",
    "member": "member",
    "members": "member",
    "collaborator": "collaborator",
    "collaborators": "collaborator",
}


async def archive(request: Request) -> Response:
    account = require_account(request)
    store = ArchiveStore(context_of(request))
    segments = [s for s in request.scope["path"].split("/")[2:] if s]  # decoded, no query
    if request.method in ("PUT", "POST"):
        ensure_upload_resource(store, account, segments)
    target = resolve(store, account, segments)
    if is_file_request(request, target):
        return await routes_files.handle(request, store, account, target)
    # Starlette adds HEAD to every GET route; uvicorn drops the body of a HEAD answer.
    if request.method in ("GET", "HEAD"):
        return get(request, store, account, target)
    if request.method in ("PUT", "POST"):
        return await put(request, store, account, target)
    if request.method == "DELETE":
        return delete(request, store, account, target)
    return PlainTextResponse(f"Method {request.method} not allowed", status_code=405)


def singular(collection: str | None) -> str:
    return (collection or "object").removesuffix("s")


def is_file_request(request: Request, target: Target) -> bool:
    """Files, zips and catalogs go to ``routes_files``."""
    if target.rest[:1] in (["files"], ["catalog"]):
        return True
    if request.method not in ("GET", "HEAD") or target.rest or not target.nodes:
        return False
    fmt = requested_format(request, "xml")
    node = target.node
    return fmt == "zip" or (fmt == "xml" and node is not None and node.kind == "resource")


def ensure_upload_resource(store: ArchiveStore, account: Account, segments: list[str]) -> None:
    """An upload to ``.../resources/{label}/files/...`` creates the resource when missing, as
    XNAT does."""
    if "files" not in segments:
        return
    at = segments.index("files")
    if at < 2 or segments[at - 2] != "resources":
        return
    owner = resolve(store, account, segments[:at])
    if owner.missing_key is not None and owner.parent is not None:
        store.put_resource(owner.parent, owner.missing_key, {}, account)


# --------------------------------------------------------------------------------- GET --
def get(request: Request, store: ArchiveStore, account: Account, target: Target) -> Response:
    node = target.node
    if target.rest:
        if node is not None and node.kind == "project":
            return project_extras(request, store, node, target.rest)
        raise not_found(f"Unknown path {request.url.path}")
    if target.missing_key is not None:
        raise not_found(f"Unable to find {singular(target.collection)} {target.missing_key}")
    if target.collection is not None:
        return listing(request, store, account, target)
    if node is None:
        raise bad_request("Several objects are addressed; only files can be read that way")
    fmt = requested_format(request, "xml")
    if fmt == "json":
        body = {"items": [json_item(store, node)]}
        return Response(json.dumps(body), media_type="application/json")
    if fmt == "xml":
        return Response(xml_document(store, node), media_type="text/xml")
    raise bad_request(f"Unsupported format: {fmt}")


def listing(request: Request, store: ArchiveStore, account: Account, target: Target) -> Response:
    parent = target.parent
    kinds = target.kinds
    kind = "experiment" if target.collection == "experiments" and parent is None else kinds[0]
    params = dict(request.query_params)
    if sql_table_applies(kind, params) and requested_format(request) == "json":
        body = json_listing(store, account, target, kind, params)
        return Response(body, media_type="application/json")
    if sql_table_applies(kind, params):  # large listings: rows straight from SQLite
        rows, columns = listing_in_sql(store, account, target, kind, params)
        return listing_response(request, (), columns, TITLES[kind], cells=rows)
    if parent is None:
        nodes = store.of_kind(kinds)
        if kinds == ("project",):
            nodes = [n for n in nodes if store.can_list(n.id, account)]
        else:
            readable: dict[str, bool] = {}  # asked once per project, not once per object
            for project in {n.project for n in nodes}:
                readable[project] = store.can_read(project, account)
            nodes = [n for n in nodes if readable[n.project]]
    elif parent.kind == "project" and kinds[0] in ("subject", "experiment"):
        nodes = store.in_project(parent.id, kinds)
    else:
        nodes = store.children(parent, kinds)
    rows, columns = table(store, kind, nodes, params)
    return listing_response(request, (), columns, TITLES[kind], cells=rows)


def listing_in_sql(
    store: ArchiveStore, account: Account, target: Target, kind: str, params: dict[str, str]
) -> tuple[list[dict[str, str]], list[str]]:
    """The rows ``listing`` would build from nodes, for the listings ``sql_table`` serves."""
    parent, kinds = target.parent, target.kinds
    if parent is None:
        return sql_table(
            store, kind, kinds, params, projects=readable_projects(store, account, kinds)
        )
    if parent.kind == "project" and kinds[0] in ("subject", "experiment"):
        rows, columns = sql_table(store, kind, kinds, params, owned_by=parent.id)
        shared = table(store, kind, store.shared_into(parent.id, kinds), params)[0]
        return rows + shared, columns
    return sql_table(store, kind, kinds, params, child_of=parent.pk)


#: Whole JSON listings answered from SQL, until a write changes objects or shares: listing
#: 100,000 experiments again costs no 0.5 s query and no 19 MB of new text.
_JSON_LISTINGS: CacheSlot[bytes] = CacheSlot("JSON listings", {"nodes", "shares"}, limit=4)


def json_listing(
    store: ArchiveStore, account: Account, target: Target, kind: str, params: dict[str, str]
) -> bytes:
    """The body of a JSON listing that ``sql_table`` can answer, remembered per target,
    parameters and readable projects (what the rows depend on besides the tables)."""
    parent = target.parent
    projects = readable_projects(store, account, target.kinds) if parent is None else None
    key = (
        kind,
        target.kinds,
        None if parent is None else parent.pk,
        tuple(sorted(params.items())),
        None if projects is None else tuple(projects),
    )
    return store.db.cached(
        _JSON_LISTINGS,
        key,
        lambda: json_listing_body(json_in_sql(store, target, kind, params, projects), TITLES[kind]),
    )


def json_in_sql(
    store: ArchiveStore,
    target: Target,
    kind: str,
    params: dict[str, str],
    projects: list[str] | None,
) -> list[str]:
    """``listing_in_sql``'s rows as JSON objects rendered by SQLite (``sql_json_rows``);
    ``projects``: those the caller may read, for a listing without a parent."""
    parent, kinds = target.parent, target.kinds
    if parent is None:
        return sql_json_rows(store, kind, kinds, params, projects=projects)
    if parent.kind == "project" and kinds[0] in ("subject", "experiment"):
        rows = sql_json_rows(store, kind, kinds, params, owned_by=parent.id)
        shared = table(store, kind, store.shared_into(parent.id, kinds), params)[0]
        return rows + [json.dumps(row) for row in shared]
    return sql_json_rows(store, kind, kinds, params, child_of=parent.pk)


def readable_projects(
    store: ArchiveStore, account: Account, kinds: tuple[str, ...]
) -> list[str] | None:
    """The projects holding ``kinds`` that ``account`` may read; ``None`` (all) for an admin."""
    if account.is_admin:
        return None
    return [
        project for project in store.projects_holding(kinds) if store.can_read(project, account)
    ]


def project_extras(
    request: Request, store: ArchiveStore, project: Node, rest: list[str]
) -> Response:
    if rest == ["accessibility"]:
        return PlainTextResponse(store.accessibility(project.id))
    if rest == ["users"]:
        rows = [
            {"login": login, "GROUP_ID": f"{project.id}_{role}", "displayname": role.title()}
            for login, role in store.project_users(project.id)
        ]
        return listing_response(request, rows, ("login", "GROUP_ID", "displayname"), "Users")
    raise not_found(f"Unknown path {request.url.path}")


# ----------------------------------------------------------------------------- PUT/POST --
def query_fields(params: Mapping[str, str], xsi_type: str, store: ArchiveStore) -> dict[str, str]:
    """Object fields from query parameters: xpaths (``xnat:mrSessionData/date``) and short
    names of the type's simple fields (``date``, ``type``)."""
    chain = {info.name for info in store.types.chain(xsi_type)} or {xsi_type}
    leaves = store.types.leaves(xsi_type)
    fields: dict[str, str] = {}
    for key, value in params.items():
        head, sep, tail = key.partition("/")
        if sep and ":" in head:
            if head not in chain and head.lower() not in {c.lower() for c in chain}:
                raise bad_request(f"Invalid field {key}: {xsi_type} is not a {head}")
            fields[tail] = value
        elif key not in CONTROL_PARAMS and (key in leaves or not leaves):
            fields[key] = value
    return fields


def _xsi_type(params: Mapping[str, str]) -> str | None:
    return params.get("xsiType") or params.get("xsi:type")


async def _body_document(request: Request, store: ArchiveStore) -> ParsedObject | None:
    content_type = request.headers.get("content-type", "")
    if request.query_params.get("inbody") == "true" or "multipart" in content_type:
        return None
    body = await request.body()
    if not body.strip():
        return None
    if not body.lstrip().startswith(b"<"):
        if "x-www-form-urlencoded" in content_type:
            return None
        raise bad_request("The request body is not an XML document")
    return parse_document(store.types, body)


async def put(request: Request, store: ArchiveStore, account: Account, target: Target) -> Response:
    params = dict(request.query_params)
    node = target.node
    if target.rest:
        if node is None:
            raise not_found(f"Unknown path {request.url.path}")
        return put_extras(store, account, node, target.rest, params)
    document = await _body_document(request, store)
    if target.collection is not None and target.missing_key is None:
        if document is None:
            raise bad_request(f"POST to {target.collection} needs an XML document")
        key = document.fields.get("label") or document.fields.get("ID")
        if not key:
            raise bad_request("The XML document has no ID or label")
        target.missing_key = key
    if target.missing_key is None and node is None:
        raise bad_request("Several objects are addressed; write them one at a time")
    creates = node is None and _kind_to_create(target) in ("subject", "experiment")
    written = write_object(store, account, target, params, document)
    # SubjectResource/ExperimentResource answer 201 for a new object, 200 for an update
    return PlainTextResponse(written.id, status_code=201 if creates else 200)


def write_object(
    store: ArchiveStore,
    account: Account,
    target: Target,
    params: Mapping[str, str],
    document: ParsedObject | None,
) -> Node:
    """Create (``target.missing_key``) or update (``target.node``) from query and body."""
    existing = target.node
    kind = existing.kind if existing is not None else _kind_to_create(target)
    xsi_type = (
        _xsi_type(params)
        or (document.xsi_type if document is not None else None)
        or (existing.xsi_type if existing is not None else None)
        or DEFAULT_TYPE[kind]
    )
    given = dict(document.fields) if document is not None else {}
    queried = query_fields(params, xsi_type, store)
    # an ID in the body or query names the object; it may only confirm the path's key
    claimed_id = next((v for k, v in queried.items() if k.lower() == "id"), given.get("ID"))
    fields = {k: v for k, v in given.items() if k not in IDENTITY_FIELDS}
    fields.update(queried)
    if kind == "resource":
        for name in ("format", "content", "description", "tags"):
            if name in params:
                fields[name] = params[name]
    new_label = params.get("label")
    if kind in ("subject", "experiment", "assessor") and new_label and existing is not None:
        if new_label != existing.label:  # ?label= on an existing object renames it
            existing = store.relabel(existing, new_label, account)
    key = existing.label or existing.id if existing is not None else target.missing_key or ""
    if kind in ("subject", "experiment", "assessor") and existing is None:
        key = new_label or key
        check_object_label(kind, key)  # the REST answer is 417, as Subject/ExperimentResource
    if kind == "project":
        node = store.put_project(key, fields, account, claimed_id)[0]
    else:
        node = _put(store, account, target, kind, key, xsi_type, fields, existing)
    if document is not None:
        _write_children(store, account, node, document)
    if kind == "project" and "accessibility" in params:
        store.set_accessibility(node, params["accessibility"], account)
    return node


def _kind_to_create(target: Target) -> str:
    """The kind a PUT on a missing key creates (an ``experiments`` key is an experiment)."""
    return target.kinds[0]


def _put(
    store: ArchiveStore,
    account: Account,
    target: Target,
    kind: str,
    key: str,
    xsi_type: str,
    fields: dict[str, str],
    existing: Node | None,
) -> Node:
    parent = target.parent if existing is None else store.parent(existing)
    if kind == "subject":
        project = _project_for(store, account, target, existing)
        return store.put_subject(project, key, fields, account, xsi_type)[0]
    if kind == "experiment":
        if parent is None or parent.kind != "subject":
            raise bad_request(
                "An experiment is created below a subject: "
                "/data/projects/{p}/subjects/{s}/experiments/{label}"
            )
        project = _project_for(store, account, target, existing)
        return store.put_experiment(parent, key, xsi_type, fields, account, project.id)[0]
    if parent is None:
        raise bad_request(f"A {kind} needs a parent object")
    if kind == "assessor":
        return store.put_assessor(parent, key, xsi_type, fields, account)[0]
    if kind == "scan":
        return store.put_scan(parent, key, xsi_type, fields, account)[0]
    if kind == "reconstruction":
        return store.put_reconstruction(parent, key, xsi_type, fields, account)[0]
    return store.put_resource(parent, key, fields, account, xsi_type)[0]


def _project_for(
    store: ArchiveStore, account: Account, target: Target, existing: Node | None
) -> Node:
    if existing is not None:
        project = store.project(existing.project)
    else:
        project = target.project
    if project is None:
        raise bad_request("Objects are created within a project: /data/projects/{p}/...")
    return project


def _write_children(
    store: ArchiveStore, account: Account, node: Node, document: ParsedObject
) -> None:
    for kind, child in document.children:
        key = child.fields.get("label") or child.fields.get("ID") or ""
        if kind == "resource" and not key:
            continue
        fields = {k: v for k, v in child.fields.items() if k not in ("ID", "label", "project")}
        if kind == "scan":
            made = store.put_scan(node, key, child.xsi_type, fields, account)[0]
        elif kind == "reconstruction":
            made = store.put_reconstruction(node, key, child.xsi_type, fields, account)[0]
        elif kind == "assessor":
            made = store.put_assessor(node, key, child.xsi_type, fields, account)[0]
        elif kind == "resource":
            made = store.put_resource(node, key, fields, account, child.xsi_type)[0]
        else:
            continue
        _write_children(store, account, made, child)


def put_extras(
    store: ArchiveStore, account: Account, node: Node, rest: list[str], params: Mapping[str, str]
) -> Response:
    if (
        len(rest) == 2
        and rest[0] == "projects"
        and node.kind in ("subject", "experiment", "assessor")
    ):
        project = store.require_project(rest[1], account)
        store.share(node, project, params.get("label") or None, account)
        return PlainTextResponse(node.id)
    if node.kind == "project" and len(rest) == 2 and rest[0] == "accessibility":
        store.set_accessibility(node, rest[1], account)
        return PlainTextResponse(rest[1])
    if node.kind == "project" and len(rest) == 3 and rest[0] == "users":
        role = ROLE_GROUPS.get(rest[1].lower())
        if role is None:
            raise bad_request(f"Invalid group {rest[1]}: Owners, Members or Collaborators")
        store.set_role(node, rest[2], role, account)
        return PlainTextResponse(rest[2])
    raise not_found(f"Unknown path {'/'.join(rest)}")


# ------------------------------------------------------------------------------ DELETE --
def delete(request: Request, store: ArchiveStore, account: Account, target: Target) -> Response:
    node = target.node
    if node is None:
        if target.missing_key is not None:
            raise not_found(f"Unable to find {singular(target.collection)} {target.missing_key}")
        raise bad_request("DELETE needs one object")
    rest = target.rest
    if len(rest) == 2 and rest[0] == "projects":
        if not store.can_write(rest[1], account):
            raise forbidden(f"User {account.login} cannot remove data from project {rest[1]}")
        store.unshare(node, rest[1])
        return PlainTextResponse("")
    if node.kind == "project" and len(rest) == 3 and rest[0] == "users":
        store.set_role(node, rest[2], None, account)
        return PlainTextResponse("")
    if rest:
        raise not_found(f"Unknown path {request.url.path}")
    viewing = target.project.id if target.project is not None else node.project
    if node.kind in ("subject", "experiment", "assessor") and viewing != node.project:
        store.unshare(node, viewing)  # deleting in a sharing project removes the share only
        return PlainTextResponse("")
    if node.kind == "project":
        if not store.is_owner(node.id, account):
            raise forbidden(f"Only owners can delete project {node.id}")
    else:
        store.require_write(node, account)
    remove_files = request.query_params.get("removeFiles", "false").lower() == "true"
    store.delete(node, remove_files=remove_files)
    return PlainTextResponse("")


METHODS = ["GET", "PUT", "POST", "DELETE"]
routes: list[BaseRoute] = [
    Route(f"/data/{top}{suffix}", archive, methods=METHODS)
    for top in ("projects", "subjects", "experiments")
    for suffix in ("", "/{path:path}")
]
