"""AsyncXNATSession: the typed XNAT client on httpx.AsyncClient, and ``connect_async()``.

Requests, answers and models are the sync client's (``xnat_sdk.parsing``, ``xnat_sdk.listing``,
``xnat_sdk.transfer``, ``xnat_sdk._http``'s retry decisions); only the I/O is awaited. Navigation
reads as in the sync API and is typed the same way: generated properties on an async-loaded
object describe a listing without a request, and ``session.listing(...)`` reads it::

    async with await xnat_sdk.connect_async(url, user, password) as session:
        project = await session.projects.get("P1")                       # ProjectData
        async for subject in session.listing(project.subjects):          # SubjectData
            for experiment in await session.listing(subject.experiments).all():
                ...

Objects from listings hold the row's fields; any other field needs ``await session.load(obj)``
(reading it before raises ``XNATAsyncUsageError`` instead of blocking the event loop). At most
``max_concurrency`` requests of one session are in flight at a time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import AsyncGenerator, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TypeVar, overload
from urllib.parse import urlencode

import httpx

from xnat_sdk._http import Files, Query, RetryPolicy, Timeout
from xnat_sdk.aio import transfer as aio_transfer
from xnat_sdk.aio._bound import AsyncBound, XNATAsyncUsageError
from xnat_sdk.aio._transport import AsyncBody, AsyncHttpTransport
from xnat_sdk.aio.downloads import (
    BulkProgress,
    PlannedFile,
    download_planned,
    plan_rows,
    planned_from_row,
)
from xnat_sdk.aio.inspect import AsyncInspect
from xnat_sdk.aio.listing import AsyncListing
from xnat_sdk.aio.prearchive import AsyncPrearchive, AsyncServices
from xnat_sdk.aio.search import AsyncQuery
from xnat_sdk.aio.users import AsyncUsers
from xnat_sdk.auth import Credentials
from xnat_sdk.errors import (
    XNATAuthError,
    XNATSessionClosedError,
    XNATValueError,
)
from xnat_sdk.listing import LISTING_SPECS, Listing
from xnat_sdk.login_rules import (
    LOGOUT,
    WHO_AM_I,
    configure_logger,
    describe_connection,
    logged_in_as,
    login_refused,
    login_request,
    redirect_probe,
    renewal_refused,
    warn_if_unverified,
)
from xnat_sdk.objects import FileData, XnatObject, bind
from xnat_sdk.parsing import (
    JSON,
    RowObjects,
    checked,
    first_item,
    parse_json,
    query_with_format,
    redirect_base,
    result_rows,
)
from xnat_sdk.service_requests import scan_files_uri
from xnat_sdk.transfer import TransferStats, UploadMethod, check_file_name

if TYPE_CHECKING:
    from xnat_sdk._modelbase import XnatModel
    from xnat_sdk.models import (
        AbstractResource,
        ExperimentData,
        ImageSessionData,
        ProjectData,
        SubjectData,
    )

T = TypeVar("T")
M = TypeVar("M", bound=XnatObject)
Searched = TypeVar("Searched", bound="XnatModel")


class AsyncXNATSession:
    """An async connection to one XNAT server; open it with ``await xnat_sdk.connect_async``."""

    def __init__(
        self,
        transport: AsyncHttpTransport,
        credentials: Credentials | None,
        *,
        logger: logging.Logger,
        original_uri: str | None = None,
    ) -> None:
        self._transport = transport
        self._credentials = credentials
        self.logger = logger
        self.original_uri = original_uri or transport.server
        self.logged_in_user: str | None = None
        self._bound = AsyncBound(self)
        self._row_objects = RowObjects()
        self._closed = False
        self._login_lock = asyncio.Lock()
        self._logins = 0

    def __repr__(self) -> str:
        user = self.logged_in_user or "anonymous"
        state = " closed" if self._closed else ""
        return f"<AsyncXNATSession {user}@{self._transport.server}{state}>"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an AsyncXNATSession holds a live login and cannot be pickled")

    @property
    def server(self) -> str:
        """The base URL every REST path is resolved against."""
        return self._transport.server

    @property
    def interface(self) -> httpx.AsyncClient:
        """The underlying httpx client (cookies and connection pool of this session)."""
        return self._transport.client

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._transport.retry

    @property
    def logins(self) -> int:
        """How many times this session logged in (1 + renewals)."""
        return self._logins

    @property
    def max_concurrency(self) -> int:
        """The most requests this session has in flight at once."""
        return self._transport.max_concurrency

    @property
    def peak_concurrency(self) -> int:
        """The most requests that were in flight at once so far (at most ``max_concurrency``)."""
        return self._transport.peak_in_flight

    # -- login and lifetime ---------------------------------------------------------------

    async def login(self) -> None:
        """Open a JSESSION with the session's credentials and check who is logged in (the
        same requests as ``XNATSession.login``)."""
        transport = self._transport
        transport.client.cookies.clear()
        opening = login_request(self._credentials)
        try:
            await transport.request(
                opening.method,
                opening.path,
                data=opening.data,
                auth=opening.auth,
                accepted_status=opening.accepted_status,
            )
        except XNATAuthError as refused:
            raise login_refused(refused, self._credentials) from None
        answer = (await transport.request("GET", WHO_AM_I)).text
        self.logged_in_user = logged_in_as(answer, transport.url(WHO_AM_I))
        self._logins += 1
        self.logger.info("logged in to %s as %s", self.server, self.logged_in_user)

    async def _renew(self, expired: XNATAuthError, logins_before: int) -> None:
        """Log in again after ``expired`` (a 401), unless another task already did."""
        refused = renewal_refused(expired, self._credentials, self.logged_in_user)
        if refused is not None:
            raise refused from expired
        async with self._login_lock:
            if self._logins == logins_before:
                self.logger.info("session expired; logging in again")
                await self.login()

    async def disconnect(self) -> None:
        """End the server session and close connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._transport.request(
                LOGOUT.method, LOGOUT.path, accepted_status=LOGOUT.accepted_status
            )
        except Exception as exc:  # a failed logout must not hide why the block ended
            self.logger.debug("logout failed: %s", exc)
        await self._transport.aclose()

    aclose = disconnect

    async def __aenter__(self) -> AsyncXNATSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # -- low-level verbs ------------------------------------------------------------------

    def _check_open(self, method: str, path: str) -> None:
        if self._closed:
            raise XNATSessionClosedError(f"{method} {path}: the session was disconnected")

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        content: AsyncBody | None = None,
        json: object = None,
        files: Files | None = None,
        follow_redirects: bool = False,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request; an expired login is renewed once and the request repeated."""
        self._check_open(method, path)

        async def send() -> httpx.Response:
            return await self._transport.request(
                method,
                path,
                query=query,
                accepted_status=accepted_status,
                timeout=timeout,
                headers=headers,
                data=data,
                content=content,
                json=json,
                files=files,
                follow_redirects=follow_redirects,
                idempotent=idempotent,
            )

        logins = self._logins
        try:
            return await send()
        except XNATAuthError as expired:
            await self._renew(expired, logins)
            return await send()

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        timeout: Timeout = None,
        accepted_status: Collection[int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[httpx.Response]:
        """A response whose body the caller reads in chunks; an expired login is renewed once
        before the body starts."""
        self._check_open(method, path)

        def open_stream() -> AbstractAsyncContextManager[httpx.Response]:
            return self._transport.stream(
                method,
                path,
                query=query,
                timeout=timeout,
                accepted_status=accepted_status,
                headers=headers,
            )

        async with AsyncExitStack() as stack:
            logins = self._logins
            try:
                response = await stack.enter_async_context(open_stream())
            except XNATAuthError as expired:
                await self._renew(expired, logins)
                response = await stack.enter_async_context(open_stream())
            yield response

    async def get(
        self,
        path: str,
        format: str | None = None,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET a REST path; raises a typed ``XNATResponseError`` unless the status is accepted."""
        return await self.request(
            "GET",
            path,
            query=query_with_format(query, format),
            accepted_status=accepted_status,
            timeout=timeout,
            headers=headers,
        )

    async def put(
        self,
        path: str,
        data: Mapping[str, str] | bytes | None = None,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """PUT form fields or a raw body to a REST path."""
        return await self._write("PUT", path, data, query, accepted_status, timeout, headers)

    async def post(
        self,
        path: str,
        data: Mapping[str, str] | bytes | None = None,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST to a REST path (never retried blindly: it may have been applied)."""
        return await self._write("POST", path, data, query, accepted_status, timeout, headers)

    async def _write(
        self,
        method: str,
        path: str,
        data: Mapping[str, str] | bytes | None,
        query: Query | None,
        accepted_status: Collection[int] | None,
        timeout: Timeout,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        return await self.request(
            method,
            path,
            query=query,
            accepted_status=accepted_status,
            timeout=timeout,
            headers=headers,
            data=data if isinstance(data, Mapping) else None,
            content=data if isinstance(data, bytes) else None,
        )

    async def delete(
        self,
        path: str,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
    ) -> httpx.Response:
        """DELETE a REST path."""
        return await self.request(
            "DELETE", path, query=query, accepted_status=accepted_status, timeout=timeout
        )

    async def get_json(
        self,
        uri: str,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
    ) -> JSON:
        """GET ``uri`` with ``format=json`` and return the parsed document."""
        response = await self.get(uri, format="json", query=query, accepted_status=accepted_status)
        return parse_json(response)

    def external_url(self, uri: str, query: Mapping[str, str] | None = None) -> str:
        """The absolute URL of ``uri`` on this server, with ``query``."""
        url = self._transport.url(uri)
        return f"{url}?{urlencode(query)}" if query else url

    # -- listings and objects -------------------------------------------------------------

    @property
    def projects(self) -> AsyncListing[ProjectData]:
        """Every project the user can see."""
        from xnat_sdk.models import ProjectData

        return AsyncListing(self, "/data/projects", ProjectData, LISTING_SPECS["projects"])

    @property
    def subjects(self) -> AsyncListing[SubjectData]:
        """Every subject the user can see."""
        from xnat_sdk.models import SubjectData

        return AsyncListing(self, "/data/subjects", SubjectData, LISTING_SPECS["subjects"])

    @property
    def experiments(self) -> AsyncListing[ExperimentData]:
        """Every experiment the user can see (items are their concrete xsi:type class)."""
        from xnat_sdk.models import ExperimentData

        return AsyncListing(self, "/data/experiments", ExperimentData, LISTING_SPECS["experiments"])

    def listing(self, navigation: Listing[T]) -> AsyncListing[T]:
        """The async listing that ``navigation`` describes: ``session.listing(project.subjects)``
        is an ``AsyncListing[SubjectData]``, ``session.listing(scan.resources)`` an
        ``AsyncListing[AbstractResource]``, with ``navigation``'s filters. Navigation on an
        async-loaded object makes no request, so this is typed exactly as the sync API."""
        return AsyncListing(
            self, navigation.uri, navigation.item_type, navigation.spec, navigation.filters
        )

    async def listing_rows(self, uri: str, query: Mapping[str, str]) -> list[dict[str, str]]:
        """The rows of the ``ResultSet`` listing at ``uri``, every value a string."""
        document = await self.get_json(uri, query={k: v for k, v in query.items() if k != "format"})
        return result_rows(document, self._transport.url(uri))

    def item_from_row(self, row: dict[str, str], key: str, listing: AsyncListing[T]) -> T:
        """The object for a listing row, bound to this session (no request)."""
        return self._row_objects.build(
            row, key, listing.uri, listing.spec, listing.item_type, self._bound
        )

    def items_from_rows(
        self, rows: Sequence[dict[str, str]], keys: Sequence[str], listing: AsyncListing[T]
    ) -> list[T]:
        """The objects for many rows of ``listing`` in one batch (``all()``, ``async for``)."""
        return self._row_objects.build_many(
            rows, keys, listing.uri, listing.spec, listing.item_type, self._bound
        )

    async def object_at(self, uri: str) -> XnatObject:
        """The object at ``uri``, fetched in full, as the class its xsi:type names."""
        obj = first_item(await self.get_json(uri), self._transport.url(uri))
        bind(obj, self._bound, uri, complete=True)
        return obj

    async def load(self, obj: M) -> M:
        """Fetch every field of ``obj`` (from a listing row) in place and return it, so that
        fields the row did not hold can be read without blocking."""
        fresh = await self.object_at(obj.uri)
        checked(fresh, type(obj), obj.uri)
        self._bound.preload(obj.uri, fresh)
        obj.fetch()  # served from the preloaded object: XnatObject's own copy rule, no I/O
        return obj

    async def set(
        self, obj: XnatObject, values: Mapping[str, object] | None = None, **kwargs: object
    ) -> None:
        """Write fields of ``obj`` in one request (``XnatObject.mset``'s validation and query:
        an invalid value raises ``FieldValueError`` and sends nothing); ``obj`` is loaded first
        if it came from a listing row, and holds the new values once the server took them."""
        changes = {**(values or {}), **kwargs}
        prepared = self._prepare_write(obj, changes)
        if prepared is None:  # a row-built object: mset needs every field
            await self.load(obj)
            prepared = self._prepare_write(obj, changes)
        if prepared is None:
            raise XNATAsyncUsageError(f"{obj.uri} could not be loaded for writing")
        candidate, writes = prepared
        for uri, query in writes:
            await self.put(uri, query=query)
        self._bound.preload(obj.uri, candidate)
        obj.fetch()  # takes the candidate's values: XnatObject's copy rule, no I/O

    def _prepare_write(
        self, obj: XnatObject, changes: Mapping[str, object]
    ) -> tuple[XnatObject, list[tuple[str, dict[str, str]]]] | None:
        """A copy of ``obj`` with ``changes`` applied by ``mset`` and the writes it asked for;
        ``None`` when ``obj`` must be loaded first. No await inside: no other task's writes
        can be recorded here."""
        with self._bound.recording() as writes:
            candidate = obj.model_copy()
            try:
                candidate.mset(changes)
            except XNATAsyncUsageError:
                return None
        return candidate, writes

    async def read_bytes(self, file: FileData | str) -> bytes:
        """The whole content of a file (or of any URI)."""
        uri = file if isinstance(file, str) else file.uri
        return (await self.get(uri)).content

    # -- transfers ------------------------------------------------------------------------

    @overload
    async def download(
        self,
        item: FileData | str,
        target: str | os.PathLike[str],
        *,
        stats: TransferStats | None = None,
    ) -> Path: ...
    @overload
    async def download(
        self,
        item: AbstractResource | ImageSessionData,
        target: str | os.PathLike[str],
        *,
        stats: TransferStats | None = None,
    ) -> list[Path]: ...
    async def download(
        self,
        item: FileData | AbstractResource | ImageSessionData | str,
        target: str | os.PathLike[str],
        *,
        stats: TransferStats | None = None,
    ) -> Path | list[Path]:
        """Download atomically and verified (length; md5 when the catalog has one):

        - a ``FileData`` or a URI to the file ``target`` (into it when it is a directory);
        - a resource's files below the directory ``target`` (their paths in the resource);
        - an image session's scan files below ``target/{label}/scans/{scan}/resources/
          {resource}/files/`` (XNAT's zip layout), fetched ``max_concurrency`` at a time.
        """
        if isinstance(item, (FileData, str)):
            uri = item if isinstance(item, str) else item.uri
            md5 = None if isinstance(item, str) else item.digest
            destination = Path(target)
            if destination.is_dir():
                destination = destination / check_file_name(uri.rsplit("/", 1)[-1])
            return await aio_transfer.download_file(
                self, uri, destination, expected_md5=md5, stats=stats
            )
        with BulkProgress(f"Downloading {item.uri}", show=False) as progress:
            files = await self._plan(item, Path(target))
            progress.plan(files)
            return await download_planned(self, files, self.max_concurrency, progress)

    async def _plan(
        self, item: FileData | AbstractResource | ImageSessionData | str, folder: Path
    ) -> list[PlannedFile]:
        """What downloading ``item`` below ``folder`` fetches (one listing request at most)."""
        from xnat_sdk.models import AbstractResource, ImageSessionData

        if isinstance(item, str):
            name = check_file_name(item.rsplit("/", 1)[-1])
            return [PlannedFile(item, folder / name, None, None)]
        if isinstance(item, FileData):
            row = {"URI": item.uri, "digest": item.digest or "", "Size": str(item.size or "")}
            return [planned_from_row(row, folder / check_file_name(item.name))]
        if isinstance(item, AbstractResource):
            return await plan_rows(self, f"{item.uri}/files", folder, placed=False)
        if not isinstance(item, ImageSessionData):  # pyright: ignore[reportUnnecessaryIsInstance]  # callers may be untyped
            raise XNATValueError(f"cannot download a {type(item).__name__}")
        held = vars(item).get("label")
        label = held if isinstance(held, str) and held else item.uri.rsplit("/", 1)[-1]
        folder = folder / check_file_name(label)
        held_id = vars(item).get("id")
        listing = scan_files_uri(held_id if isinstance(held_id, str) else None, item.uri)
        return await plan_rows(self, listing, folder, placed=True)

    async def download_many(
        self,
        items: Iterable[FileData | AbstractResource | ImageSessionData | str],
        target_dir: str | os.PathLike[str],
        *,
        concurrency: int = 8,
        progress: bool | BulkProgress | None = None,
    ) -> list[Path]:
        """Download every item below ``target_dir`` concurrently, with ONE progress display for
        all: files by name, resources into ``{resource label}/``, image sessions into
        ``{label}/scans/...``. At most ``concurrency`` files (and ``max_concurrency`` requests)
        are in flight; every file is verified and written atomically. ``progress`` shows the
        display on a terminal (``None``), always/never (a bool), or adds to a ``BulkProgress``
        the caller holds (one display across several calls). Returns the paths written."""
        folder = Path(target_dir)
        listed = list(items)
        if isinstance(progress, BulkProgress):
            return await self._download_many(listed, folder, concurrency, progress)
        with BulkProgress(f"Downloading {len(listed)} items", show=progress) as shown:
            return await self._download_many(listed, folder, concurrency, shown)

    async def _download_many(
        self,
        items: list[FileData | AbstractResource | ImageSessionData | str],
        folder: Path,
        concurrency: int,
        progress: BulkProgress,
    ) -> list[Path]:
        plans = await aio_transfer.run_all(
            [self._plan(item, self._folder_for(item, folder)) for item in items]
        )
        files = [file for plan in plans for file in plan]
        progress.plan(files)
        return await download_planned(self, files, concurrency, progress)

    def _folder_for(
        self, item: FileData | AbstractResource | ImageSessionData | str, folder: Path
    ) -> Path:
        from xnat_sdk.models import AbstractResource

        if isinstance(item, AbstractResource):
            held = vars(item).get("label")
            label = held if isinstance(held, str) and held else item.uri.rsplit("/", 1)[-1]
            return folder / check_file_name(label)
        return folder

    async def upload(
        self,
        uri: str,
        source: str | bytes | os.PathLike[str],
        query: Query | None = None,
        content_type: str | None = None,
        method: Literal["put", "post"] = "put",
        overwrite: bool = False,
    ) -> httpx.Response:
        """Upload a file (a path, streamed) or bytes to ``uri``, as ``XNATSession.upload``."""
        return await aio_transfer.upload(
            self,
            uri,
            source,
            query=query,
            content_type=content_type,
            method=method,
            overwrite=overwrite,
        )

    async def upload_file(
        self,
        resource: AbstractResource,
        source: str | bytes | os.PathLike[str],
        remotepath: str,
        overwrite: bool = False,
    ) -> None:
        """Upload a file or bytes to ``remotepath`` inside ``resource``."""
        await self.upload(f"{resource.uri}/files/{remotepath}", source, overwrite=overwrite)

    async def upload_dir(
        self,
        resource: AbstractResource,
        directory: str | os.PathLike[str],
        overwrite: bool = False,
        method: UploadMethod = "tgz_file",
    ) -> None:
        """Upload the tree below ``directory`` into ``resource`` (xnatpy's five methods;
        ``per_file`` sends ``max_concurrency`` files at once)."""
        await aio_transfer.upload_dir(
            self,
            resource.uri,
            directory,
            overwrite=overwrite,
            method=method,
            concurrency=self.max_concurrency,
        )

    # -- services -------------------------------------------------------------------------

    @functools.cached_property
    def prearchive(self) -> AsyncPrearchive:
        """The sessions waiting in the prearchive, and their actions."""
        return AsyncPrearchive(self)

    @functools.cached_property
    def services(self) -> AsyncServices:
        """The import service."""
        return AsyncServices(self)

    @functools.cached_property
    def users(self) -> AsyncUsers:
        """The user accounts of the site (``await session.users.all()``)."""
        return AsyncUsers(self)

    @functools.cached_property
    def inspect(self) -> AsyncInspect:
        """The searchable data types and their search fields."""
        return AsyncInspect(self)

    def search(self, model: type[Searched]) -> AsyncQuery[Searched]:
        """A typed search over ``model``: ``await session.search(MrSessionData).filter(
        MrSessionData.c.date >= day).all()`` (the queries of ``xnat_sdk.search``)."""
        return AsyncQuery(self, model)


async def _detect_redirect(transport: AsyncHttpTransport) -> str:
    """The server URL after the redirects of ``GET {server}/`` (``login_rules.redirect_probe``)."""
    probe = redirect_probe(transport.server)
    response = await transport.request(
        probe.method,
        probe.path,
        follow_redirects=probe.follow_redirects,
        accepted_status=probe.accepted_status,
    )
    return redirect_base(str(response.url))


async def connect_async(
    server: str | None = None,
    user: str | None = None,
    password: str | None = None,
    verify: bool = True,
    netrc_file: str | os.PathLike[str] | None = None,
    debug: bool = False,
    loglevel: int | str | None = None,
    logger: logging.Logger | None = None,
    detect_redirect: bool = True,
    *,
    timeout: float | httpx.Timeout | None = None,
    retry: RetryPolicy | int | None = None,
    max_concurrency: int = 8,
) -> AsyncXNATSession:
    """Log in to an XNAT server and return the async session (an async context manager).

    Credentials, ``verify``, ``timeout`` and ``retry`` work as in ``xnat_sdk.connect`` (the
    same rules: ``xnat_sdk.login_rules``). ``max_concurrency`` bounds the requests of this
    session in flight at once (and its connection pool). There is no keep-alive heartbeat: an
    expired login is renewed on the next request instead.
    """
    log = configure_logger(logger, debug, loglevel)
    config, credentials = describe_connection(
        server,
        user,
        password,
        netrc_file,
        verify=verify,
        timeout=timeout,
        retry=retry,
        keepalive=None,
        detect_redirect=detect_redirect,
    )
    warn_if_unverified(config, log)
    transport = AsyncHttpTransport(
        config.server,
        verify=config.verify,
        timeout=config.http_timeout(),
        retry=config.retry,
        logger=log,
        max_concurrency=max_concurrency,
    )
    try:
        if config.detect_redirect:
            redirected = await _detect_redirect(transport)
            if redirected != transport.server:
                log.info("%s redirects to %s; using the latter", config.server, redirected)
                transport.server = redirected
        session = AsyncXNATSession(transport, credentials, logger=log, original_uri=config.server)
        await session.login()
    except BaseException:
        await transport.aclose()
        raise
    return session
