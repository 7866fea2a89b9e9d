"""Prearchive, import, archive and DICOM dump endpoints.

``/data/prearchive/projects[/{p}[/{timestamp}/{session}[/scans/...]]]`` (XNAT's
``PrearcSessionListResource``, ``PrearcSessionResource``, ``PrearcScansListResource``,
``PrearcSessionResourcesList``, ``PrearcScanResourceList``, ``PrearcSessionResourceFiles``),
``POST /data/services/import`` (``Importer``), ``POST /data/services/archive``,
``POST /data/services/prearchive/{move,rebuild,delete}`` and ``GET /data/services/dicomdump``.
Answers are text URIs (one per line, CRLF) for import/archive, listings for the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from xnat_sdk.emulator.archive import ArchiveStore, Node, check_label
from xnat_sdk.emulator.auth import Account
from xnat_sdk.emulator.context import EmulatorContext, context_of, require_account
from xnat_sdk.emulator.dicom_import import (
    DUMP_COLUMNS,
    DicomImportError,
    ProjectResolver,
    RoutingOverrides,
    dump_header,
    parse_dump_fields,
    read_instances,
    route_instances,
    unpack_upload,
)
from xnat_sdk.emulator.errors import XnatHTTPError, bad_request, conflict, forbidden, not_found
from xnat_sdk.emulator.listings import listing_response
from xnat_sdk.emulator.prearchive import (
    LISTING_COLUMNS,
    UNASSIGNED,
    PrearchiveEntry,
    PrearchiveError,
    PrearchiveScan,
    PrearchiveStore,
)
from xnat_sdk.emulator.storage import StagedBlob

CRLF = "\r\n"
UPLOAD_CHUNK = 1 << 20
KNOWN_HANDLERS = frozenset({"dicom-zip", "gradual-dicom", "si", "dicom"})
ARCHIVABLE = frozenset({"READY", "CONFLICT", "ERROR"})
OVERWRITE_VALUES = frozenset({"none", "append", "delete", "override"})


def _store(request: Request) -> PrearchiveStore:
    return PrearchiveStore(context_of(request).data_dir)


def _http(error: PrearchiveError | DicomImportError) -> XnatHTTPError:
    if isinstance(error, PrearchiveError):
        return XnatHTTPError(error.status, error.message)
    return bad_request(str(error))


def may_use_prearchive(context: EmulatorContext, account: Account, project: str) -> bool:
    """Site admins see every prearchive folder (``Unassigned`` only to them); others only
    those of projects they own or are members of, as XNAT's prearchive permissions."""
    if account.is_admin:
        return True
    return project != UNASSIGNED and ArchiveStore(context).can_write(project, account)


def _accessible(request: Request, entry: PrearchiveEntry) -> PrearchiveEntry:
    account = require_account(request)
    if not may_use_prearchive(context_of(request), account, entry.project):
        raise forbidden(
            f"User {account.login} does not have access to the prearchive of project "
            f"{entry.project}"
        )
    return entry


def _lookup(request: Request, src: str) -> PrearchiveEntry:
    """The session a ``src`` parameter names, if the caller may act on it."""
    try:
        return _accessible(request, _store(request).get_by_url(src))
    except PrearchiveError as error:
        raise _http(error) from error


def _entry(request: Request) -> PrearchiveEntry:
    params = request.path_params
    try:
        entry = _store(request).get(params["project"], params["timestamp"], params["session"])
    except PrearchiveError as error:
        raise _http(error) from error
    return _accessible(request, entry)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("true", "1", "yes")


# --- the archive side (the core's store) ------------------------------------------------------


@dataclass(frozen=True)
class ArchiveRequest:
    """How to archive: XNAT's ``overwrite`` and the label overrides (``quarantine`` and
    ``triggerPipelines`` are accepted and have no effect: no pipelines, no quarantine state)."""

    overwrite: str
    project: str | None = None
    subject: str | None = None
    session: str | None = None


def project_resolver(context: EmulatorContext, account: Account) -> ProjectResolver:
    """Maps a project ID or secondary ID the account may write to, to the project ID.

    XNAT's ``DbBackedProjectIdentifier`` only accepts projects the uploading user can reach.
    """
    archive = ArchiveStore(context)

    def resolve(name: str) -> str | None:
        project = archive.project(name)
        if project is None or not archive.can_write(project.id, account):
            return None
        return project.id

    return resolve


def _session_fields(entry: PrearchiveEntry) -> dict[str, str]:
    """The session fields XNAT's DICOM session builder fills from the headers."""
    candidates = {
        "date": entry.scan_date,
        "time": entry.scan_time,
        "UID": entry.study_uid,
        "modality": entry.modality,
        "scanner": entry.station,
        "scanner/manufacturer": entry.manufacturer,
        "scanner/model": entry.model,
        "dcmPatientId": entry.patient_id,
        "dcmPatientName": entry.patient_name,
    }
    return {path: value for path, value in candidates.items() if value}


def _scan_fields(scan: PrearchiveScan) -> dict[str, str]:
    candidates = {
        "type": scan.series_description,
        "series_description": scan.series_description,
        "UID": scan.uid,
        "frames": str(scan.frames),
        "modality": scan.modality,
    }
    return {path: value for path, value in candidates.items() if value}


def _clear_conflicts(
    archive: ArchiveStore, session: Node, entry: PrearchiveEntry, overwrite: str
) -> list[str]:
    """Apply XNAT's merge rules to an existing session: ``append`` adds new scans only,
    ``delete``/``override`` replaces clashing scans, ``none`` refuses any existing session.

    Returns the blobs of replaced scans, to discard once the archive transaction commits."""
    if overwrite == "none":
        raise conflict(
            f"Session already exists: {session.label} in project {session.project}; "
            "use overwrite=append or overwrite=delete"
        )
    if session.xsi_type != entry.xsi_type:
        raise conflict(
            f"Session {session.label} is a {session.xsi_type}, the upload a {entry.xsi_type}"
        )
    replaced: list[str] = []
    for scan in entry.scans:
        existing = archive.child(session, ("scan",), scan.id)
        if existing is None:
            continue
        if overwrite == "append":
            raise conflict(
                f"Scan {scan.id} already exists in session {session.label}; "
                "use overwrite=delete to replace it"
            )
        for resource in archive.children(existing, ("resource",)):
            replaced.extend(file.blob for file in archive.files(resource))
        archive.delete(existing, remove_files=False)
    return replaced


def _stage_blobs(
    context: EmulatorContext, store: PrearchiveStore, entry: PrearchiveEntry
) -> dict[str, list[tuple[str, StagedBlob]]]:
    """Copy every file of the session into the blob store (durable, not yet referenced)."""
    staged: dict[str, list[tuple[str, StagedBlob]]] = {}
    try:
        for scan in entry.scans:
            staged[scan.id] = [
                (path.name, context.blobs.write_chunks(_chunks(path)))
                for path in store.scan_files(entry, scan.id)
            ]
    except BaseException:
        _discard(context, [blob.blob for files in staged.values() for _, blob in files])
        raise
    return staged


def _discard(context: EmulatorContext, blobs: list[str]) -> None:
    for blob in blobs:
        context.blobs.discard(blob)


def archive_entry(
    context: EmulatorContext,
    store: PrearchiveStore,
    entry: PrearchiveEntry,
    archive_request: ArchiveRequest,
    account: Account,
) -> str:
    """Create the experiment, scans, DICOM resources and files of ``entry`` in the archive.

    The file contents are copied first; then every row is written in one transaction, so an
    error (a conflict, a field the schema rejects) leaves the archive exactly as it was."""
    archive = ArchiveStore(context)
    project = archive.require_project(archive_request.project or entry.project, account, write=True)
    label = archive_request.session or entry.name
    subject_label = archive_request.subject or entry.subject
    if not subject_label:
        raise bad_request(f"Cannot archive {entry.url}: no subject label")
    staged = _stage_blobs(context, store, entry)
    try:
        with context.db.write():
            existing = archive.experiment(project.id, label)
            replaced: list[str] = []
            if existing is not None:
                replaced = _clear_conflicts(archive, existing, entry, archive_request.overwrite)
            subject, _ = archive.put_subject(project, subject_label, {}, account)
            session, _ = archive.put_experiment(
                subject, label, entry.xsi_type, _session_fields(entry), account
            )
            for scan in entry.scans:
                scan_node, _ = archive.put_scan(
                    session, scan.id, scan.xsi_type, _scan_fields(scan), account
                )
                resource, _ = archive.put_resource(
                    scan_node, "DICOM", {"format": "DICOM", "content": "RAW"}, account
                )
                for name, blob in staged[scan.id]:
                    archive.add_file(
                        resource, name, blob, overwrite=True, format="DICOM", content="RAW"
                    )
    except BaseException:
        _discard(context, [blob.blob for files in staged.values() for _, blob in files])
        raise
    _discard(context, replaced)
    return f"/data/archive/projects/{project.id}/subjects/{subject.label}/experiments/{label}"


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(UPLOAD_CHUNK):
            yield chunk


def archived_dicom_file(
    context: EmulatorContext, parts: list[str], account: Account
) -> Path | None:
    """The first DICOM file of an archived session (or one scan) named by a ``src`` path:
    ``projects/P/subjects/S/experiments/E[/scans/N]`` or ``experiments/E[/scans/N]``."""
    archive = ArchiveStore(context)
    named = dict(zip(parts[0::2], parts[1::2], strict=False))
    experiment_key = named.get("experiments")
    if experiment_key is None:
        return None
    if "projects" in named:
        project = archive.require_project(named["projects"], account)
        session = archive.experiment(project.id, experiment_key)
    else:
        session = archive.by_id(("experiment",), experiment_key)
        if session is not None:
            archive.require_project(session.project, account)
    if session is None:
        return None
    scans = archive.children(session, ("scan",))
    if "scans" in named:
        scans = [scan for scan in scans if scan.id == named["scans"]]
    for scan in scans:
        for resource in archive.children(scan, ("resource",)):
            for file in archive.files(resource):
                return context.blobs.absolute(file.blob)
    return None


# --- listings --------------------------------------------------------------------------------


async def list_sessions(request: Request) -> Response:
    account = require_account(request)
    context = context_of(request)
    project = request.path_params.get("project")
    visible: dict[str, bool] = {}
    rows: list[dict[str, str]] = []
    for entry in _store(request).entries(project):
        if entry.project not in visible:
            visible[entry.project] = may_use_prearchive(context, account, entry.project)
        if visible[entry.project]:
            rows.append(entry.row())
    return listing_response(request, rows, LISTING_COLUMNS, "Prearchive sessions")


async def get_session(request: Request) -> Response:
    require_account(request)
    entry = _entry(request)
    fmt = (request.query_params.get("format") or "json").lower()
    if fmt == "zip":
        folder = _store(request).session_dir(entry)
        return _zip_response(folder, f"{entry.name}.zip", f"{entry.name}/")
    return listing_response(request, [entry.row()], LISTING_COLUMNS, "Prearchive session")


async def delete_session(request: Request) -> Response:
    require_account(request)
    entry = _entry(request)
    _store(request).delete(entry)
    return PlainTextResponse("")


async def list_scans(request: Request) -> Response:
    require_account(request)
    entry = _entry(request)
    rows = [
        {"ID": scan.id, "xsiType": scan.xsi_type, "series_description": scan.series_description}
        for scan in entry.scans
    ]
    return listing_response(request, rows, ("ID", "xsiType", "series_description"), "Scans")


def _scan_stats(store: PrearchiveStore, entry: PrearchiveEntry, scan_id: str) -> tuple[int, int]:
    files = store.scan_files(entry, scan_id)
    return len(files), sum(path.stat().st_size for path in files)


async def list_session_resources(request: Request) -> Response:
    """``.../scans/{scan}/resources``: XNAT lists every scan's resources here (its quirk)."""
    require_account(request)
    entry = _entry(request)
    store = _store(request)
    rows: list[dict[str, object]] = []
    for scan in entry.scans:
        count, size = _scan_stats(store, entry, scan.id)
        rows.append(
            {
                "category": "scans",
                "cat_id": scan.id,
                "label": "DICOM",
                "file_count": count,
                "file_size": size,
            }
        )
    columns = ("category", "cat_id", "label", "file_count", "file_size")
    return listing_response(request, rows, columns, "Resources")


async def get_scan(request: Request) -> Response:
    """``.../scans/{scan}``: the scan's resources (``PrearcScanResourceList``), or a zip."""
    require_account(request)
    entry = _entry(request)
    store = _store(request)
    scan_id = request.path_params["scan"]
    try:
        entry.scan(scan_id)
    except PrearchiveError as error:
        raise _http(error) from error
    if (request.query_params.get("format") or "").lower() == "zip":
        folder = store.scan_dir(entry, scan_id).parent
        return _zip_response(folder, f"{entry.name}_scan_{scan_id}.zip", f"{scan_id}/")
    count, size = _scan_stats(store, entry, scan_id)
    rows = [{"label": "DICOM", "file_count": count, "file_size": size}]
    return listing_response(request, rows, ("label", "file_count", "file_size"), "Resources")


def _resource_files(request: Request) -> tuple[PrearchiveEntry, str, list[Path]]:
    entry = _entry(request)
    scan_id = request.path_params["scan"]
    if request.path_params["resource"] != "DICOM":
        raise not_found(f"Unknown resource {request.path_params['resource']} of scan {scan_id}")
    try:
        return entry, scan_id, _store(request).scan_files(entry, scan_id)
    except PrearchiveError as error:
        raise _http(error) from error


async def list_files(request: Request) -> Response:
    require_account(request)
    entry, scan_id, files = _resource_files(request)
    if (request.query_params.get("format") or "").lower() == "zip":
        folder = _store(request).scan_dir(entry, scan_id)
        return _zip_response(folder, f"{entry.name}_scan_{scan_id}.zip", "")
    base = f"/data{entry.url}/scans/{scan_id}/resources/DICOM/files"
    rows = [{"Name": p.name, "Size": p.stat().st_size, "URI": f"{base}/{p.name}"} for p in files]
    return listing_response(request, rows, ("Name", "Size", "URI"), "Files")


async def get_file(request: Request) -> Response:
    require_account(request)
    files = _resource_files(request)[2]
    name = request.path_params["name"]
    for path in files:
        if path.name == name:
            return FileResponse(path, media_type="application/dicom", filename=path.name)
    raise bad_request(f"Unable to access the file at: {name}")


def _zip_response(folder: Path, filename: str, prefix: str) -> Response:
    """A zip of ``folder`` built on disk, then streamed (never whole in memory)."""
    if not folder.is_dir():
        raise not_found(f"Nothing to download at {folder.name}")
    handle, temporary = tempfile.mkstemp(suffix=".zip")
    os.close(handle)
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())

    def chunks() -> Iterator[bytes]:
        try:
            with open(temporary, "rb") as stream:
                while chunk := stream.read(UPLOAD_CHUNK):
                    yield chunk
        finally:
            Path(temporary).unlink(missing_ok=True)

    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(chunks(), media_type="application/zip", headers=headers)


# --- import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where an import goes: the prearchive or the archive, and any path-given labels."""

    archive: bool
    overrides: RoutingOverrides


def parse_destination(request: Request) -> Destination:
    """``dest`` (``/prearchive[/projects/P]`` or ``/archive[/projects/P[/subjects/S[/experiments
    /E]]]``) and the ``project``/``subject``/``session`` parameters (which win)."""
    query = request.query_params
    dest = (query.get("dest") or "/prearchive").strip()
    if dest.startswith("/data/"):
        dest = dest[len("/data") :]
    parts = [part for part in dest.split("/") if part]
    if not parts or parts[0] not in ("prearchive", "archive"):
        raise bad_request(f"Invalid destination: {dest} (expected /prearchive or /archive)")
    named = dict(zip(parts[1::2], parts[2::2], strict=False))
    to_archive = parts[0] == "archive" or _flag(request, "Direct-Archive")
    overrides = RoutingOverrides(
        project=query.get("project") or named.get("projects"),
        subject=query.get("subject") or named.get("subjects"),
        session=query.get("session") or query.get("label") or named.get("experiments"),
    )
    for what, value in (("subject", overrides.subject), ("session", overrides.session)):
        if value is not None:
            check_label(f"{what} label", value)
    return Destination(to_archive, overrides)


async def _receive_upload(request: Request, target: Path) -> None:
    """Stream the request body (raw or the first multipart file) to ``target``."""
    content_type = request.headers.get("content-type", "")
    with target.open("wb") as sink:
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            uploads = [v for v in form.values() if isinstance(v, UploadFile)]
            if len(uploads) != 1:
                await form.close()
                raise bad_request("Importer is limited to one uploaded resource at a time.")
            while chunk := await uploads[0].read(UPLOAD_CHUNK):
                sink.write(chunk)
            await form.close()
        else:
            async for chunk in request.stream():
                sink.write(chunk)


async def import_service(request: Request) -> Response:
    account = require_account(request)
    handler = (request.query_params.get("import-handler") or "").lower()
    if handler and handler not in KNOWN_HANDLERS:
        raise not_found(f"No import handler named {request.query_params['import-handler']}")
    overwrite = (request.query_params.get("overwrite") or "none").lower()
    if overwrite not in OVERWRITE_VALUES:
        raise bad_request(f"Invalid overwrite value: {overwrite} (none, append or delete)")
    destination = parse_destination(request)
    context = context_of(request)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=_store(request).root))
    try:
        upload = work / "upload"
        await _receive_upload(request, upload)
        if upload.stat().st_size == 0:
            raise bad_request("Unable to identify upload format: the upload is empty.")
        ignore = _flag(request, "Ignore-Unparsable") or _flag(request, "ignore-unparsable")
        request_info = ArchiveRequest(
            overwrite=overwrite,
        )
        uris = await run_in_threadpool(
            _import_files,
            context,
            account,
            upload,
            work / "staging",
            destination,
            ignore,
            request_info,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PlainTextResponse("".join(uri + CRLF for uri in uris))


def _import_files(
    context: EmulatorContext,
    account: Account,
    upload: Path,
    staging: Path,
    destination: Destination,
    ignore_unparsable: bool,
    archive_request: ArchiveRequest,
) -> list[str]:
    """Unpack, parse, route, file into the prearchive and (when asked) archive straight on."""
    resolve = project_resolver(context, account)
    overrides = destination.overrides
    if overrides.project is not None and resolve(overrides.project) is None:
        raise not_found(f"Project {overrides.project} does not exist")
    if overrides.project is not None:
        overrides = RoutingOverrides(
            resolve(overrides.project), overrides.subject, overrides.session
        )
    try:
        files = unpack_upload(upload, staging)
        sessions = route_instances(
            read_instances(files, ignore_unparsable=ignore_unparsable), overrides, resolve
        )
    except (DicomImportError, zipfile.BadZipFile, OSError) as error:
        raise bad_request(f"Unable to import the upload: {error}") from error
    if destination.archive:
        for session in sessions:
            if session.project is None:
                raise bad_request(
                    f"Cannot archive session {session.label}: no project was given and none "
                    "could be identified from the DICOM headers"
                )
    store = PrearchiveStore(context.data_dir)
    uris: list[str] = []
    for session in sessions:
        entry = store.receive(session)
        if destination.archive:
            uris.append(_archive(context, store, entry, archive_request, account))
        else:
            uris.append(f"/data{entry.url}")
    return uris


def _archive(
    context: EmulatorContext,
    store: PrearchiveStore,
    entry: PrearchiveEntry,
    archive_request: ArchiveRequest,
    account: Account,
) -> str:
    if entry.status not in ARCHIVABLE:
        raise XnatHTTPError(
            409, f"Cannot archive {entry.url}: the session is {entry.status}, not READY"
        )
    project = archive_request.project or entry.project
    if project == UNASSIGNED:
        raise bad_request(f"Cannot archive {entry.url}: the session has no project")
    store.set_status(entry, "ARCHIVING")
    try:
        uri = archive_entry(context, store, entry, archive_request, account)
    except XnatHTTPError as error:
        store.set_status(entry, "CONFLICT" if error.status == 409 else "ERROR")
        raise
    store.delete(entry)
    return uri


# --- actions on prearchive sessions ----------------------------------------------------------


def _sources(request: Request, form: dict[str, str]) -> list[str]:
    sources = request.query_params.getlist("src") or ([form["src"]] if "src" in form else [])
    if not sources:
        raise bad_request("Missing src parameter (the prearchive session to act on)")
    return sources


async def _params(request: Request) -> dict[str, str]:
    """Query parameters, plus form fields when the body is a form (both are accepted)."""
    merged = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        merged.update({k: v for k, v in form.items() if isinstance(v, str)})
    return merged


async def archive_service(request: Request) -> Response:
    account = require_account(request)
    params = await _params(request)
    overwrite = (params.get("overwrite") or "none").lower()
    if overwrite not in OVERWRITE_VALUES:
        raise bad_request(f"Invalid overwrite value: {overwrite} (none, append or delete)")
    context = context_of(request)
    store = _store(request)
    archive_request = ArchiveRequest(
        overwrite=overwrite,
        project=params.get("project") or None,
        subject=params.get("subject") or None,
        session=params.get("session") or params.get("label") or None,
    )
    uris: list[str] = []
    for src in _sources(request, params):
        entry = _lookup(request, src)
        uris.append(
            await run_in_threadpool(_archive, context, store, entry, archive_request, account)
        )
    return PlainTextResponse("".join(uri + CRLF for uri in uris))


async def prearchive_action(request: Request) -> Response:
    """``/data/services/prearchive/{move,rebuild,delete}?src=...``."""
    account = require_account(request)
    action = request.path_params["action"]
    params = await _params(request)
    store = _store(request)
    results: list[dict[str, str]] = []
    for src in _sources(request, params):
        entry = _lookup(request, src)
        try:
            if action == "delete":
                store.delete(entry)
                results.append({"src": src, "status": "DELETED"})
            elif action == "rebuild":
                rebuilt = await run_in_threadpool(store.rebuild, entry)
                results.append({"src": src, "status": rebuilt.status, "url": rebuilt.url})
            elif action == "move":
                target = params.get("newProject")
                if not target:
                    raise bad_request("Missing newProject parameter")
                if project_resolver(context_of(request), account)(target) is None:
                    raise not_found(f"Project {target} does not exist")
                moved = store.move(entry, target)
                results.append({"src": src, "status": moved.status, "url": moved.url})
            else:
                raise not_found(f"Unknown prearchive action: {action}")
        except PrearchiveError as error:
            raise _http(error) from error
    return Response(json.dumps(results), media_type="application/json")


# --- DICOM dump ------------------------------------------------------------------------------


def _dump_source(request: Request, src: str) -> Path:
    """The first DICOM file of the session (or scan) ``src`` names."""
    path = src[len("/data") :] if src.startswith("/data/") else src
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["prearchive", "projects"] and len(parts) >= 5:
        store = _store(request)
        try:
            entry = _accessible(request, store.get(parts[2], parts[3], parts[4]))
            scan_ids = [parts[6]] if len(parts) >= 7 and parts[5] == "scans" else []
            for scan_id in scan_ids or [scan.id for scan in entry.scans]:
                files = store.scan_files(entry, scan_id)
                if files:
                    return files[0]
        except PrearchiveError as error:
            raise _http(error) from error
        raise not_found(f"No DICOM files in {src}")
    if parts and parts[0] == "archive":
        found = archived_dicom_file(context_of(request), parts[1:], require_account(request))
        if found is None:
            raise not_found(f"No DICOM files in {src}")
        return found
    raise bad_request(f"Invalid src for dicomdump: {src}")


async def dicom_dump(request: Request) -> Response:
    require_account(request)
    src = request.query_params.get("src")
    if not src:
        raise bad_request("Missing src parameter")
    try:
        fields = parse_dump_fields(request.query_params.getlist("field"))
        path = _dump_source(request, src)
        rows = await run_in_threadpool(dump_header, path, fields or None)
    except DicomImportError as error:
        raise _http(error) from error
    return listing_response(request, rows, DUMP_COLUMNS, "DICOM header")


SESSION = "/data/prearchive/projects/{project}/{timestamp}/{session}"

routes: list[BaseRoute] = [
    Route("/data/prearchive", list_sessions, methods=["GET"]),
    Route("/data/prearchive/projects", list_sessions, methods=["GET"]),
    Route("/data/prearchive/projects/{project}", list_sessions, methods=["GET"]),
    Route(SESSION, get_session, methods=["GET"]),
    Route(SESSION, delete_session, methods=["DELETE"]),
    Route(SESSION + "/scans", list_scans, methods=["GET"]),
    Route(SESSION + "/scans/{scan}", get_scan, methods=["GET"]),
    Route(SESSION + "/scans/{scan}/resources", list_session_resources, methods=["GET"]),
    Route(SESSION + "/scans/{scan}/resources/{resource}/files", list_files, methods=["GET"]),
    Route(SESSION + "/scans/{scan}/resources/{resource}/files/{name}", get_file, methods=["GET"]),
    Route("/data/services/import", import_service, methods=["POST"]),
    Route("/data/services/archive", archive_service, methods=["POST"]),
    Route("/data/services/prearchive/{action}", prearchive_action, methods=["POST"]),
    Route("/data/services/dicomdump", dicom_dump, methods=["GET"]),
]
