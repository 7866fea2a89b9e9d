"""Resource files: upload (raw body, multipart, archives to extract), download (with Range),
zips of any level, file listings, ``cat:Catalog`` documents and catalog refresh.

Bodies stream both ways: uploads go chunk by chunk into a temporary file that becomes a blob
only once complete and fsynced, and zips are written entry by entry as the client reads.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from email.utils import formatdate
from functools import lru_cache, partial
from pathlib import Path
from typing import IO
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from xnat_sdk.emulator.archive import ArchiveStore, FileEntry, Node, normalize_file_path
from xnat_sdk.emulator.auth import Account
from xnat_sdk.emulator.context import context_of, require_account
from xnat_sdk.emulator.errors import bad_request, conflict, not_found
from xnat_sdk.emulator.listings import listing_response, requested_format
from xnat_sdk.emulator.paths import Target, resolve
from xnat_sdk.emulator.rows import uri_of
from xnat_sdk.emulator.storage import CHUNK_SIZE, BlobWriter, StagedBlob

FILE_COLUMNS = (
    "Name",
    "Size",
    "URI",
    "collection",
    "file_tags",
    "file_format",
    "file_content",
    "cat_ID",
    "digest",
)
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def resources_below(store: ArchiveStore, nodes: list[Node]) -> list[Node]:
    """The resources of ``nodes`` and of everything below them, depth first."""
    found: list[Node] = []
    for node in nodes:
        if node.kind == "resource":
            found.append(node)
            continue
        children = store.children(
            node, ("subject", "experiment", "scan", "reconstruction", "assessor", "resource")
        )
        if node.kind == "project":  # subjects and experiments hang below, not as children
            children = store.children(node, ("resource", "subject"))
        found.extend(resources_below(store, children))
    return found


async def handle(
    request: Request, store: ArchiveStore, account: Account, target: Target
) -> Response:
    """Every request on ``.../files[/path]``, ``format=zip`` and resource catalogs."""
    rest = target.rest
    path = "/".join(rest[1:]) if rest and rest[0] == "files" else ""
    if request.method in ("GET", "HEAD"):
        resources = resources_below(store, target.nodes)
        if rest == ["catalog"] or (not rest and requested_format(request, "xml") == "xml"):
            if target.node is None or target.node.kind != "resource":
                raise bad_request("A catalog belongs to one resource")
            return catalog_response(store, target.node)
        if path:
            return download(request, store, resources, path)
        if requested_format(request) == "zip":
            return zip_response(store, resources, target)
        return file_listing(request, store, resources)
    if not target.nodes:  # scans/ALL/... selected none: XNATTemplate's 404 for writes
        raise not_found("Unable to identify scan")
    resource = target.node
    if resource is None or resource.kind != "resource":
        raise bad_request("Files are written to one resource: .../resources/{label}/files/...")
    store.require_write(resource, account)
    if request.method == "DELETE":
        entry = store.file(resource, normalize_file_path(path)) if path else None
        if entry is None:
            raise not_found(f"Unable to find file {path}")
        store.delete_file(resource, entry)
        return PlainTextResponse("")
    return await upload(request, store, resource, path)


# ------------------------------------------------------------------------------ reading --
def file_listing(request: Request, store: ArchiveStore, resources: list[Node]) -> Response:
    rows: list[dict[str, str]] = []
    for resource in resources:
        base = uri_of(store, resource)
        for entry in store.files(resource):
            rows.append(
                {
                    "Name": entry.path.rsplit("/", 1)[-1],
                    "Size": str(entry.size),
                    "URI": f"{base}/files/{entry.path}",
                    "collection": resource.label,
                    "file_tags": entry.tags,
                    "file_format": entry.format,
                    "file_content": entry.content,
                    "cat_ID": resource.id,
                    "digest": entry.md5,
                }
            )
    return listing_response(request, rows, FILE_COLUMNS, "Files")


def download(request: Request, store: ArchiveStore, resources: list[Node], path: str) -> Response:
    clean = normalize_file_path(path)
    for resource in resources:
        entry = store.file(resource, clean)
        if entry is not None:
            return file_response(request, store.context.blobs.location(entry.blob), clean)
    raise not_found(f"Unable to find file {path}")


class ChunkedFileResponse(FileResponse):
    """Starlette's ``FileResponse`` reading ``CHUNK_SIZE`` (1 MiB) per worker-thread hop
    rather than 64 KiB: a 1 GiB download takes 1,024 hops instead of 16,384."""

    chunk_size = CHUNK_SIZE


def file_response(request: Request, blob: str, name: str) -> Response:
    """The stored file ``blob`` served as ``name``, with Range/If-Range, ETag, Last-Modified
    and Content-Length. A whole small file (<= ``CHUNK_SIZE``) is read at once and sent as a
    plain body with the headers ``FileResponse`` would give it: no worker thread per chunk,
    no header objects, for the many small files of a session."""
    fd = os.open(blob, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        if (
            stat.st_size <= CHUNK_SIZE
            and request.method == "GET"
            and "range" not in request.headers
        ):
            response = Response(_read_all(fd, stat.st_size))
            response.raw_headers = file_headers(stat, name)
            return response
    finally:
        os.close(fd)
    return ChunkedFileResponse(
        blob,
        media_type=media_type_of(name),
        filename=name.rsplit("/", 1)[-1],
        content_disposition_type="attachment",
        stat_result=stat,
    )


def _read_all(fd: int, size: int) -> bytes:
    """The file's ``size`` bytes (plain ``os.read``: no buffered file object per request)."""
    data = os.read(fd, size)
    while len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            raise OSError(f"the stored file ended after {len(data)} of {size} bytes")
        data += more
    return data


def file_headers(stat: os.stat_result, name: str) -> list[tuple[bytes, bytes]]:
    """The headers Starlette's ``FileResponse`` sends for ``name`` (an attachment), in its
    order and spelling: type, ranges, disposition, length, last-modified, ETag."""
    media_type = media_type_of(name)
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=utf-8"
    filename = name.rsplit("/", 1)[-1]
    quoted = quote(filename)
    disposition = (
        f'attachment; filename="{filename}"'
        if quoted == filename
        else f"attachment; filename*=utf-8''{quoted}"
    )
    return [
        (b"content-type", media_type.encode("latin-1")),
        (b"accept-ranges", b"bytes"),
        (b"content-disposition", disposition.encode("latin-1")),
        (b"content-length", b"%d" % stat.st_size),
        *_stat_headers(stat.st_mtime, stat.st_size),
    ]


@lru_cache(maxsize=4096)
def _stat_headers(mtime: float, size: int) -> tuple[tuple[bytes, bytes], ...]:
    """Last-Modified and ETag as ``FileResponse.set_stat_headers`` computes them."""
    etag = hashlib.md5(f"{mtime}-{size}".encode(), usedforsecurity=False).hexdigest()
    return (
        (b"last-modified", formatdate(mtime, usegmt=True).encode("latin-1")),
        (b"etag", f'"{etag}"'.encode("latin-1")),
    )


@lru_cache(maxsize=512)
def _media_type_of_suffixes(suffixes: str) -> str:
    return mimetypes.guess_type(f"file.{suffixes}")[0] or "application/octet-stream"


def media_type_of(name: str) -> str:
    """The media type guessed from the name's suffixes (remembered per suffix)."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base:
        return "application/octet-stream"
    return _media_type_of_suffixes(base.split(".", 1)[1])


def zip_entry_name(store: ArchiveStore, resource: Node, entry: FileEntry) -> str:
    """``SESSION/scans/1-T1/resources/DICOM/files/a.dcm``, as XNAT names zip members."""
    steps: list[str] = [f"resources/{resource.label}/files/{entry.path}"]
    node = store.parent(resource)
    while node is not None:
        if node.kind == "scan":
            scan_type = node.fields.get("type", "")
            steps.append(f"scans/{node.id}-{scan_type}" if scan_type else f"scans/{node.id}")
        elif node.kind == "assessor":
            steps.append(f"assessors/{node.label}")
        elif node.kind == "reconstruction":
            steps.append(f"reconstructions/{node.id}")
        elif node.kind in ("experiment", "subject"):
            steps.append(node.label)
            break
        elif node.kind == "project":
            steps.append(node.id)
            break
        node = store.parent(node)
    return "/".join(reversed(steps))


class _ChunkSink:
    """A write-only, unseekable file for ``zipfile`` whose output is drained piece by piece."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""

    def close(self) -> None:
        """The response owns the stream; nothing to release."""

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def _zip_stream(store: ArchiveStore, entries: list[tuple[str, Path]]) -> Iterator[bytes]:
    sink = _ChunkSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, blob in entries:
            with blob.open("rb") as src, zf.open(name, "w", force_zip64=True) as dst:
                while chunk := src.read(CHUNK_SIZE):
                    dst.write(chunk)
                    if len(sink.chunks) > 0:
                        yield sink.drain()
            yield sink.drain()
    yield sink.drain()


def zip_response(store: ArchiveStore, resources: list[Node], target: Target) -> Response:
    entries = [
        (zip_entry_name(store, resource, entry), store.context.blobs.absolute(entry.blob))
        for resource in resources
        for entry in store.files(resource)
    ]
    top = target.nodes[0] if target.nodes else None
    name = (top.label or top.id) if top is not None else "download"
    return StreamingResponse(
        _zip_stream(store, entries),
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{name}.zip"'},
    )


def catalog_response(store: ArchiveStore, resource: Node) -> Response:
    """The resource's ``cat:Catalog``: one entry per file with its md5 ``digest`` and its size
    in the ``size_in_bytes`` metaField (as XNAT's ``CatalogUtils`` writes them)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<cat:Catalog xmlns:cat="http://nrg.wustl.edu/catalog" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f"ID={quoteattr(resource.id)} name={quoteattr(resource.label)}>",
        "<cat:entries>",
    ]
    for entry in store.files(resource):
        attrs = {
            "URI": entry.path,
            "ID": entry.path,
            "name": entry.path.rsplit("/", 1)[-1],
            "digest": entry.md5,
        }
        if entry.format:
            attrs["format"] = entry.format
        if entry.content:
            attrs["content"] = entry.content
        rendered = " ".join(f"{key}={quoteattr(value)}" for key, value in attrs.items())
        lines.append(
            f'<cat:entry {rendered} xsi:type="cat:entry"><cat:metaFields>'
            f'<cat:metaField name="size_in_bytes">{entry.size}</cat:metaField>'
            "</cat:metaFields></cat:entry>"
        )
    lines += ["</cat:entries>", "</cat:Catalog>", ""]
    return Response("\n".join(lines), media_type="text/xml")


# ------------------------------------------------------------------------------ writing --
async def upload(request: Request, store: ArchiveStore, resource: Node, path: str) -> Response:
    params = request.query_params
    overwrite = params.get("overwrite", "false").lower() == "true"
    extract = params.get("extract", "false").lower() == "true"
    meta = {
        "format": params.get("format", params.get("file_format", "")),
        "content": params.get("content", params.get("file_content", "")),
        "tags": params.get("tags", params.get("file_tags", "")),
    }
    content_type = request.headers.get("content-type", "")
    blobs = store.context.blobs
    written: list[str] = []
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=100_000) as form:
            uploads = [value for _key, value in form.multi_items() if isinstance(value, UploadFile)]
            if not uploads:
                raise bad_request("The multipart body holds no file")
            for item in uploads:
                name = path if path and len(uploads) == 1 else _join(path, item.filename or "")
                writer = blobs.writer()
                try:
                    while chunk := await item.read(CHUNK_SIZE):
                        writer.write(chunk)
                except BaseException:
                    writer.abort()
                    raise
                written += await run_in_threadpool(
                    _store_upload, store, resource, name, writer, extract, overwrite, meta
                )
    else:
        if not path:
            raise bad_request("No file name: PUT .../files/{name}?inbody=true or use multipart")
        writer = blobs.writer()
        try:
            async for chunk in request.stream():
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        written += await run_in_threadpool(
            _store_upload, store, resource, path, writer, extract, overwrite, meta
        )
    return PlainTextResponse("\n".join(written), status_code=200)


def _join(directory: str, name: str) -> str:
    if not name:
        raise bad_request("An uploaded file has no file name")
    return f"{directory.rstrip('/')}/{name}" if directory else name


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _store_upload(
    store: ArchiveStore,
    resource: Node,
    name: str,
    writer: BlobWriter,
    extract: bool,
    overwrite: bool,
    meta: dict[str, str],
) -> list[str]:
    """Commit one uploaded body: as a file, or (``extract``) as the members of an archive."""
    if not (extract and _is_archive(name)):
        clean = normalize_file_path(name)
        if not overwrite and store.file(resource, clean) is not None:
            writer.abort()
            raise _exists(clean, resource)
        staged = writer.finish()
        store.add_file(resource, clean, staged, overwrite=overwrite, **meta)
        return [clean]
    staged = writer.finish()
    archive_path = store.context.blobs.absolute(staged.blob)
    directory = name.rsplit("/", 1)[0] if "/" in name else ""
    try:
        members = list(_archive_members(archive_path))
        names = [normalize_file_path(_join(directory, member)) for member, _ in members]
        if not overwrite:
            clashes = [n for n in names if store.file(resource, n) is not None]
            if clashes:
                raise _exists(clashes[0], resource)
        stored: list[str] = []
        for (_member, opener), clean in zip(members, names, strict=True):
            with opener() as src:
                blob = store.context.blobs.write_chunks(iter(lambda: src.read(CHUNK_SIZE), b""))
            store.add_file(resource, clean, blob, overwrite=True, **meta)
            stored.append(clean)
        return stored
    finally:
        store.context.blobs.discard(staged.blob)


def _exists(path: str, resource: Node) -> Exception:
    return conflict(
        f"File {path} already exists in resource {resource.label}; use overwrite=true to replace it"
    )


def _archive_members(path: Path) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    """(member name, opener) for each regular file of a zip or (compressed) tar archive."""
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        for info in archive.infolist():
            if not info.is_dir():
                yield info.filename, partial(archive.open, info.filename)
        return
    try:
        tar = tarfile.open(path, "r:*")
    except tarfile.TarError as exc:
        raise bad_request(
            f"extract=true but the upload is not a zip or tar archive: {exc}"
        ) from exc
    for member in tar.getmembers():
        if member.isfile():
            yield member.name, partial(_tar_member, tar, member)


def _tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    handle = tar.extractfile(member)
    if handle is None:
        raise bad_request(f"Cannot read {member.name} from the archive")
    return handle


# ------------------------------------------------------------------- catalog refresh --
async def refresh_catalog(request: Request) -> Response:
    """``POST /data/services/refresh/catalog?resource=/archive/projects/...&options=...``:
    re-read each file below the named objects, updating size and md5 (``delete`` drops
    entries whose content is gone)."""
    account = require_account(request)
    store = ArchiveStore(context_of(request))
    targets = request.query_params.getlist("resource")
    if not targets:
        raise bad_request("Missing the resource parameter")
    options = set(",".join(request.query_params.getlist("options")).split(","))
    for spec in targets:
        segments = [s for s in spec.split("/") if s]
        if segments[:1] == ["archive"] or segments[:1] == ["data"]:
            segments = segments[1:]
        if segments[:1] == ["archive"]:
            segments = segments[1:]
        target = resolve(store, account, segments)
        if not target.nodes:
            raise not_found(f"Unable to find {spec}")
        for resource in resources_below(store, target.nodes):
            store.require_write(resource, account)
            _refresh(store, resource, "delete" in options)
    return PlainTextResponse("")


def _refresh(store: ArchiveStore, resource: Node, delete_missing: bool) -> None:
    for entry in store.files(resource):
        blob = store.context.blobs.absolute(entry.blob)
        if not blob.exists():
            if delete_missing:
                store.delete_file(resource, entry)
            continue
        digest = hashlib.md5()
        size = 0
        with blob.open("rb") as src:
            while chunk := src.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
        if size != entry.size or digest.hexdigest() != entry.md5:
            store.add_file(
                resource,
                entry.path,
                StagedBlob(entry.blob, size, digest.hexdigest()),
                overwrite=True,
                format=entry.format,
                content=entry.content,
                tags=entry.tags,
            )


routes: list[BaseRoute] = [
    Route("/data/services/refresh/catalog", refresh_catalog, methods=["POST", "PUT"]),
]
