"""Summaries of archived data: ``/data/archive/scan_types`` and ``/data/archive/scanners``.

As xnat-web's ``ScanTypeListing`` and ``ScannerListing`` restlet resources answer them: scan
types are the ``type`` values of the scans in one scan table (``xnat_mrScanData`` unless
``?table=`` names another), one row per type in type order, with the series descriptions of
that type joined by commas (each followed by one, as XNAT's ``xs_a_concat(... || ',')``);
scanners are the distinct ``scanner`` values of the sessions in one session table
(``xnat_mrSessionData`` unless ``?table=``). ``/data/projects/{p}/...`` limits either to one
project. Only projects the caller may read are counted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from xnat_sdk.emulator.archive import ArchiveStore, Node
from xnat_sdk.emulator.auth import Account
from xnat_sdk.emulator.context import context_of, require_account
from xnat_sdk.emulator.errors import not_found
from xnat_sdk.emulator.listings import listing_response


def xsi_type_of_table(table: str) -> str:
    """``xnat_mrScanData`` -> ``xnat:mrScanData`` (XNAT's SQL table names of data types)."""
    prefix, _, local = table.partition("_")
    return f"{prefix}:{local[:1].lower()}{local[1:]}"


def readable(
    store: ArchiveStore, account: Account, kinds: tuple[str, ...], project: str | None
) -> list[Node]:
    nodes = store.in_project(project, kinds) if project else store.of_kind(kinds)
    return [node for node in nodes if store.can_read(node.project, account)]


def project_scope(request: Request, store: ArchiveStore, account: Account) -> str | None:
    project = request.path_params.get("project")
    if project is None:
        return None
    found = store.project(project)
    if found is None or not store.can_list(found.id, account):
        raise not_found(f"Unable to find project {project}")
    return found.id


async def scan_types(request: Request) -> Response:
    account = require_account(request)
    store = ArchiveStore(context_of(request))
    project = project_scope(request, store, account)
    xsi_type = xsi_type_of_table(request.query_params.get("table", "xnat_mrScanData")).lower()
    descriptions: dict[str, list[str]] = {}
    for scan in readable(store, account, ("scan",), project):
        if scan.xsi_type.lower() == xsi_type:
            found = descriptions.setdefault(scan.fields.get("type", ""), [])
            found.append(scan.fields.get("series_description", ""))
    rows = [
        {"series_descriptions": "".join(f"{d}," for d in descriptions[kind]), "type": kind}
        for kind in sorted(descriptions)
    ]
    return listing_response(request, rows, ["series_descriptions", "type"], "Scan Types")


async def scanners(request: Request) -> Response:
    account = require_account(request)
    store = ArchiveStore(context_of(request))
    project = project_scope(request, store, account)
    xsi_type = xsi_type_of_table(request.query_params.get("table", "xnat_mrSessionData")).lower()
    found = {
        session.fields.get("scanner", "")
        for session in readable(store, account, ("experiment",), project)
        if session.xsi_type.lower() == xsi_type
    }
    rows = [{"scanner": scanner} for scanner in sorted(found)]
    return listing_response(request, rows, ["scanner"], "Scanners")


routes: list[BaseRoute] = [
    Route(f"{scope}/{name}", handler, methods=["GET"])
    for scope in ("/data", "/data/projects/{project}")
    for name, handler in (("scan_types", scan_types), ("scanners", scanners))
]
