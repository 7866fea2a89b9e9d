"""XNATSession: one logged-in connection to an XNAT server, and ``connect()`` that opens it.

The session owns the transport, the login (JSESSIONID from the credentials used once; the same
credentials renew it when it expires), the keep-alive thread, the listing cache and the
low-level verbs. Live objects and listings reach the server only through it.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import threading
from collections.abc import Collection, Generator, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Literal, TypeAlias, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from xnat_sdk import transfer
from xnat_sdk._http import (
    Files,
    HttpTransport,
    Query,
    RetryPolicy,
    Timeout,
)
from xnat_sdk._wire import FileWire
from xnat_sdk.auth import Credentials
from xnat_sdk.classes import ModelClasses
from xnat_sdk.config import DEFAULT_KEEPALIVE_SECONDS, SessionConfig
from xnat_sdk.errors import (
    XNATAuthError,
    XNATConflictError,
    XNATError,
    XNATNotFoundError,
    XNATSessionClosedError,
    XNATValueError,
)
from xnat_sdk.inspect import Inspect
from xnat_sdk.listing import LISTING_SPECS, Listing, ListingSpec
from xnat_sdk.login_rules import (
    LOGOUT,
    WHO_AM_I,
    auth_method,
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
    custom_field_values,
    elsewhere_message,
    first_item,
    new_model,
    parse_json,
    query_with_format,
    redirect_base,
    result_rows,
    store_query,
)
from xnat_sdk.prearchive import Prearchive
from xnat_sdk.services import Services
from xnat_sdk.users import Users

if TYPE_CHECKING:
    from xnat_sdk._modelbase import XnatModel
    from xnat_sdk.models import ExperimentData, ProjectData, SubjectData
    from xnat_sdk.search import Query as SearchQuery

T = TypeVar("T")
U = TypeVar("U")
M = TypeVar("M", bound="XnatModel")

#: What ``put``/``post`` accept as a body: form fields, raw bytes/text or a binary stream.
Body: TypeAlias = Mapping[str, str] | bytes | str | IO[bytes] | None


class XNATSession:
    """A connection to one XNAT server; create it with ``xnat_sdk.connect``.

    ``extension_types`` and ``no_parse_model`` are accepted for xnatpy compatibility: the models
    are generated ahead of time, so there is no server schema to parse at connect time and every
    generated type (core and extension) is always available.
    """

    def __init__(
        self,
        transport: HttpTransport,
        credentials: Credentials | None,
        *,
        logger: logging.Logger,
        keepalive: float | None = DEFAULT_KEEPALIVE_SECONDS,
        original_uri: str | None = None,
        config: SessionConfig | None = None,
        portable: bool = False,
    ) -> None:
        self._transport = transport
        self._credentials = credentials
        self.logger = logger
        self.original_uri = original_uri or transport.server
        self.logged_in_user: str | None = None
        self.caching = True
        self._listings: dict[str, Listing[object]] = {}
        self._row_objects = RowObjects()
        self._closed = False
        self._version: str | None = None
        self._keepalive_interval = keepalive
        self._stop = threading.Event()
        self._keepalive_thread: threading.Thread | None = None
        self._login_lock = threading.Lock()
        self._logins = 0  # how many logins this session made (renewals included)
        #: What the session was opened with (secret-free unless the user's own config had one);
        #: ``portable``: opened from a SessionConfig, so its live objects pickle as references.
        user = credentials.user if credentials else None
        self._config = config or SessionConfig(
            self.original_uri, user, auth=auth_method(user, credentials)
        )
        self._portable = portable
        #: The lean HTTP/1.1 path for the first try of file bodies (``xnat_sdk._wire``);
        #: ``None`` where it does not apply (a proxy). Set it to ``None`` to send every file
        #: request through httpx.
        self.file_wire: FileWire | None = FileWire.for_transport(transport, os.environ)

    # -- identity -------------------------------------------------------------------------

    def __repr__(self) -> str:
        user = self.logged_in_user or "anonymous"
        state = " closed" if self._closed else ""
        return f"<XNATSession {user}@{self._transport.server}{state}>"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError(
            "an XNATSession holds a live login and cannot be pickled: send session.config() "
            "and reconnect with config.session() (or config.connect()) in the other process"
        )

    def config(self, include_secret: bool = False) -> SessionConfig:
        """A picklable description of this session to reconnect from in another process.

        Without ``include_secret`` it holds no password or token secret: the other process
        finds them itself (its netrc file or ``XNAT_USER``/``XNAT_PASS``)."""
        if include_secret and self._credentials is not None:
            return replace(
                self._config, user=self._credentials.user, password=self._credentials.password
            )
        return self._config.without_secret()

    def reference_config(self) -> SessionConfig | None:
        """The config this session's live objects pickle with: the ``SessionConfig`` it was
        opened from (``config.connect()``, ``connect(config=...)``), as given; ``None`` for a
        session opened with ``connect(server, user, ...)``, whose objects pickle as plain
        models."""
        return self._config if self._portable else None

    @property
    def closed(self) -> bool:
        """Whether ``disconnect()`` was called."""
        return self._closed

    @property
    def server(self) -> str:
        """The base URL every REST path is resolved against (after redirect detection)."""
        return self._transport.server

    @property
    def interface(self) -> httpx.Client:
        """The underlying httpx client (cookies and connection pool of this session)."""
        return self._transport.client

    # -- login and lifetime ---------------------------------------------------------------

    def login(self) -> None:
        """Open a JSESSION with the session's credentials and check who is logged in (the
        requests and checks of ``xnat_sdk.login_rules``)."""
        transport = self._transport
        transport.client.cookies.clear()
        opening = login_request(self._credentials)
        try:
            transport.request(
                opening.method,
                opening.path,
                data=opening.data,
                auth=opening.auth,
                accepted_status=opening.accepted_status,
            )
        except XNATAuthError as refused:
            raise login_refused(refused, self._credentials) from None
        answer = transport.request("GET", WHO_AM_I).text
        self.logged_in_user = logged_in_as(answer, transport.url(WHO_AM_I))
        self._logins += 1
        self.logger.info("logged in to %s as %s", self.server, self.logged_in_user)

    @property
    def retry_policy(self) -> RetryPolicy:
        """When failed requests are retried (and how often a download may stall and resume)."""
        return self._transport.retry

    @property
    def logins(self) -> int:
        """How many times this session logged in (1 + renewals after the server expired it)."""
        return self._logins

    def _renew(self, expired: XNATAuthError, logins_before: int) -> None:
        """Log in again after ``expired`` (a 401), unless another thread already did.

        An anonymous session has nothing to renew with: it gets ``XNATLoginRequiredError``.
        """
        refused = renewal_refused(expired, self._credentials, self.logged_in_user)
        if refused is not None:
            raise refused from expired
        with self._login_lock:
            if self._logins == logins_before:
                self.logger.info("session expired; logging in again")
                self.login()

    def start_keepalive(self) -> None:
        """Start the background heartbeat (``GET /data/JSESSION``) that keeps the login alive."""
        interval = self._keepalive_interval
        if interval is None or self._keepalive_thread is not None:
            return
        expiration = self.session_expiration_time
        if expiration is not None:
            interval = min(interval, max(expiration[1] / 2, 1.0))
        thread = threading.Thread(
            target=self._heartbeat, args=(interval,), name="xnat-sdk-keepalive", daemon=True
        )
        self._keepalive_thread = thread
        thread.start()

    def _heartbeat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.request("GET", "/data/JSESSION")
            except XNATError as exc:
                self.logger.debug("keep-alive failed: %s", exc)

    def disconnect(self) -> None:
        """End the server session, stop the keep-alive and close connections (idempotent)."""
        if self._closed:
            return
        self._stop.set()
        if self._keepalive_thread is not None:
            self._keepalive_thread.join(timeout=5)
        try:
            self._transport.request(
                LOGOUT.method, LOGOUT.path, accepted_status=LOGOUT.accepted_status
            )
        except XNATError as exc:
            self.logger.debug("logout failed: %s", exc)
        if self.file_wire is not None:
            self.file_wire.close()
        self._transport.close()
        self._closed = True

    def __enter__(self) -> XNATSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.disconnect()

    # -- low-level verbs ------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        content: bytes | IO[bytes] | None = None,
        json: object = None,
        files: Files | None = None,
        follow_redirects: bool = False,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request; a login that expired is renewed once and the request repeated.

        ``idempotent`` overrides whether the method may be retried after a transient failure
        (``False`` for a PUT that must not happen twice)."""
        if self._closed:
            raise XNATSessionClosedError(f"{method} {path}: the session was disconnected")

        def send() -> httpx.Response:
            return self._transport.request(
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
            return send()
        except XNATAuthError as expired:
            if not isinstance(content, (bytes, type(None))) and not content.seekable():
                raise  # a one-shot stream body cannot be sent again
            self._renew(expired, logins)
            if not isinstance(content, (bytes, type(None))):
                content.seek(0)
            return send()

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        timeout: Timeout = None,
        accepted_status: Collection[int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Generator[httpx.Response]:
        """A response whose body the caller reads in chunks (see ``xnat_sdk.transfer``); an
        expired login is renewed once before the body starts, as for ``request``."""
        if self._closed:
            raise XNATSessionClosedError(f"{method} {path}: the session was disconnected")

        def open_stream() -> AbstractContextManager[httpx.Response]:
            return self._transport.stream(
                method,
                path,
                query=query,
                timeout=timeout,
                accepted_status=accepted_status,
                headers=headers,
            )

        with ExitStack() as stack:
            logins = self._logins
            try:
                response = stack.enter_context(open_stream())
            except XNATAuthError as expired:
                self._renew(expired, logins)
                response = stack.enter_context(open_stream())
            yield response

    def get(
        self,
        path: str,
        format: str | None = None,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET a REST path; raises a typed ``XNATResponseError`` unless the status is accepted."""
        return self.request(
            "GET",
            path,
            query=query_with_format(query, format),
            accepted_status=accepted_status,
            timeout=timeout,
            headers=headers,
        )

    def head(
        self,
        path: str,
        accepted_status: Collection[int] | None = None,
        allow_redirects: bool = False,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """HEAD a REST path (``allow_redirects`` follows a redirect instead of answering it)."""
        accepted = accepted_status
        if accepted is None and not allow_redirects:
            accepted = {200, 301, 302, 303, 307, 308}
        return self.request(
            "HEAD",
            path,
            accepted_status=accepted,
            timeout=timeout,
            headers=headers,
            follow_redirects=allow_redirects,
        )

    def put(
        self,
        path: str,
        data: Body = None,
        files: Files | None = None,
        json: object = None,
        format: str | None = None,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """PUT to a REST path: form fields, a raw body, multipart ``files`` or ``json``."""
        return self._write(
            "PUT", path, data, files, json, format, query, accepted_status, timeout, headers
        )

    def post(
        self,
        path: str,
        data: Body = None,
        files: Files | None = None,
        json: object = None,
        format: str | None = None,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST to a REST path (never retried blindly: it may have been applied)."""
        return self._write(
            "POST", path, data, files, json, format, query, accepted_status, timeout, headers
        )

    def delete(
        self,
        path: str,
        headers: Mapping[str, str] | None = None,
        accepted_status: Collection[int] | None = None,
        query: Query | None = None,
        timeout: Timeout = None,
    ) -> httpx.Response:
        """DELETE a REST path."""
        return self.request(
            "DELETE",
            path,
            query=query,
            accepted_status=accepted_status,
            timeout=timeout,
            headers=headers,
        )

    def _write(
        self,
        method: str,
        path: str,
        data: Body,
        files: Files | None,
        json: object,
        format: str | None,
        query: Query | None,
        accepted_status: Collection[int] | None,
        timeout: Timeout,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        form: Mapping[str, str] | None = None
        content: bytes | IO[bytes] | None = None
        if isinstance(data, Mapping):
            form = data
        elif isinstance(data, str):
            content = data.encode()
        else:
            content = data
        return self.request(
            method,
            path,
            query=query_with_format(query, format),
            accepted_status=accepted_status,
            timeout=timeout,
            headers=headers,
            data=form,
            content=content,
            json=json,
            files=files,
        )

    def get_json(
        self,
        uri: str,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
    ) -> JSON:
        """GET ``uri`` with ``format=json`` and return the parsed document."""
        response = self.get(uri, format="json", query=query, accepted_status=accepted_status)
        return parse_json(response)

    # -- transfers ------------------------------------------------------------------------

    def download(
        self,
        uri: str,
        target: str | os.PathLike[str],
        format: str | None = None,
        verbose: bool = True,
        timeout: Timeout = None,
        *,
        expected_md5: str | None = None,
        verify: bool = True,
    ) -> Path:
        """Download ``uri`` to the file ``target`` (written atomically), checked against
        ``expected_md5`` when given unless ``verify=False`` (the length is always checked)."""
        return transfer.download_file(
            self,
            uri,
            target,
            format=format,
            verbose=verbose,
            timeout=timeout,
            expected_md5=expected_md5,
            verify=verify,
        )

    def download_stream(
        self,
        uri: str,
        target_stream: IO[bytes],
        format: str | None = None,
        verbose: bool = False,
        chunk_size: int = transfer.DEFAULT_CHUNK,
        update_func: transfer.UpdateFunc | None = None,
        timeout: Timeout = None,
        *,
        expected_md5: str | None = None,
        verify: bool = True,
    ) -> int:
        """Write the body of ``uri`` to ``target_stream``; ``update_func(done, total, finished)``
        is called after each chunk, as in xnatpy. Returns the number of bytes. The body is
        checked against ``expected_md5`` when given unless ``verify=False``."""
        return transfer.download_stream(
            self,
            uri,
            target_stream,
            format=format,
            verbose=verbose,
            chunk_size=chunk_size,
            update_func=update_func,
            timeout=timeout,
            expected_md5=expected_md5,
            verify=verify,
        )

    def download_zip(
        self,
        uri: str,
        target: str | os.PathLike[str],
        verbose: bool = True,
        timeout: Timeout = None,
    ) -> Path:
        """Download ``uri`` as a zip file to ``target`` (written atomically)."""
        return transfer.download_file(
            self, uri, target, format="zip", verbose=verbose, timeout=timeout
        )

    def upload(
        self,
        uri: str,
        file_: str | bytes | os.PathLike[str] | IO[bytes],
        retries: int = 1,
        query: Query | None = None,
        content_type: str | None = None,
        method: Literal["put", "post"] = "put",
        overwrite: bool = False,
        timeout: Timeout = None,
    ) -> httpx.Response:
        """Upload a file (path), bytes or a binary stream to ``uri``.

        ``retries`` is accepted for xnatpy compatibility; safe retries are the transport's job
        (``RetryPolicy`` on ``connect``).
        """
        return transfer.upload(
            self,
            uri,
            file_,
            query=query,
            content_type=content_type,
            method=method,
            overwrite=overwrite,
            timeout=timeout,
        )

    # -- site information -----------------------------------------------------------------

    @property
    def xnat_version(self) -> str:
        """The server's XNAT version (``/data/version``, else ``/xapi/siteConfig/buildInfo``)."""
        if self._version is None:
            response = self.get("/data/version", accepted_status={200, 404, 405})
            if response.status_code == 200 and response.text.strip():
                self._version = response.text.strip()
            else:
                info = self.get_json("/xapi/siteConfig/buildInfo")
                version = info.get("version") if isinstance(info, dict) else None
                self._version = version if isinstance(version, str) else "unknown"
        return self._version

    @property
    def session_expiration_time(self) -> tuple[datetime.datetime, float] | None:
        """When the server session was last refreshed and its timeout in seconds, from the
        ``SESSION_EXPIRATION_TIME`` cookie; ``None`` if absent or unreadable."""
        raw = self._transport.client.cookies.get("SESSION_EXPIRATION_TIME")
        if raw is None:
            return None
        try:
            created, timeout = raw.strip('"').split(",")
            when = datetime.datetime.fromtimestamp(int(created) / 1000, tz=datetime.timezone.utc)
            return when, int(timeout) / 1000
        except ValueError:
            return None

    @property
    def scan_types(self) -> list[str]:
        """The scan types used on this server (``/data/archive/scan_types``)."""
        return [
            row.get("type") or row.get("scan_type", "")
            for row in self.listing_rows("/data/archive/scan_types", {"format": "json"})
        ]

    @property
    def scanners(self) -> list[str]:
        """The scanners referenced on this server (``/data/archive/scanners``)."""
        return [
            row.get("scanner", "")
            for row in self.listing_rows("/data/archive/scanners", {"format": "json"})
        ]

    def url_for(
        self, obj: XnatObject, query: Mapping[str, str] | None = None, scheme: str | None = None
    ) -> str:
        """The external URL of ``obj`` (``scheme`` replaces the server's scheme)."""
        url = self.external_url(obj.uri, query)
        if scheme is not None:
            parts = urlsplit(url)
            url = urlunsplit((scheme, *parts[1:]))
        return url

    # -- listings -------------------------------------------------------------------------

    @property
    def projects(self) -> Listing[ProjectData]:
        """Every project the user can see."""
        from xnat_sdk.models import ProjectData

        return self._listing_at("/data/projects", LISTING_SPECS["projects"], ProjectData)

    @property
    def subjects(self) -> Listing[SubjectData]:
        """Every subject the user can see."""
        from xnat_sdk.models import SubjectData

        return self._listing_at("/data/subjects", LISTING_SPECS["subjects"], SubjectData)

    @property
    def experiments(self) -> Listing[ExperimentData]:
        """Every experiment the user can see (items are their concrete xsi:type class)."""
        from xnat_sdk.models import ExperimentData

        return self._listing_at("/data/experiments", LISTING_SPECS["experiments"], ExperimentData)

    @property
    def classes(self) -> ModelClasses:
        """xnatpy-style creation: ``session.classes.SubjectData(parent=project, label="S1")``."""
        return ModelClasses(self)

    @functools.cached_property
    def prearchive(self) -> Prearchive:
        """The sessions waiting in the prearchive, and their actions."""
        return Prearchive(self)

    @functools.cached_property
    def services(self) -> Services:
        """The ``/data/services`` calls: import, DICOM dump, tokens, catalog refresh."""
        return Services(self)

    @functools.cached_property
    def users(self) -> Users:
        """The server's user accounts by login."""
        return Users(self)

    @functools.cached_property
    def inspect(self) -> Inspect:
        """The searchable data types and their search fields."""
        return Inspect(self)

    def search(self, model: type[M]) -> SearchQuery[M]:
        """A typed search over ``model``: ``session.search(MrSessionData).filter(
        MrSessionData.c.date >= day).all()`` (see ``xnat_sdk.search``)."""
        from xnat_sdk.search import Query

        return Query(self, model)

    def listing_at_root(self, name: str, item_type: type[T]) -> Listing[T]:
        """The site-wide listing ``/data/{name}`` (projects, subjects, experiments)."""
        return self._listing_at(f"/data/{name}", LISTING_SPECS[name], item_type)

    def clearcache(self) -> None:
        """Forget every cached listing."""
        self._listings.clear()

    def listing_for(self, owner: XnatObject, name: str, item_type: type[T]) -> Listing[T]:
        """The listing ``name`` below ``owner`` (what generated navigation calls)."""
        spec = LISTING_SPECS.get(name)
        if spec is None:
            raise XNATValueError(f"{type(owner).__name__} has no listing called {name!r}")
        return self._listing_at(f"{owner.uri}/{spec.path}", spec, item_type)

    def _listing_at(self, uri: str, spec: ListingSpec, item_type: type[T]) -> Listing[T]:
        cached = self._listings.get(uri) if self.caching else None
        if cached is not None and cached.item_type is item_type:
            return cached  # type: ignore[return-value]  # same item_type, so a Listing[T]
        listing = Listing(self, uri, item_type, spec)
        self._listings[uri] = listing
        return listing

    def forget(self, uri: str) -> None:
        """Drop cached rows of listings at, above or below ``uri`` (after a write)."""
        for key in [key for key in self._listings if key.startswith(uri) or uri.startswith(key)]:
            self._listings[key].clearcache()

    def listing_rows(self, uri: str, query: Mapping[str, str]) -> list[dict[str, str]]:
        """The rows of the ``ResultSet`` listing at ``uri``, every value a string."""
        document = self.get_json(uri, query={k: v for k, v in query.items() if k != "format"})
        return result_rows(document, self._transport.url(uri))

    def item_from_row(self, row: dict[str, str], key: str, listing: Listing[T]) -> T:
        """The live object for a listing row: its xsi:type's class, bound below the listing."""
        return self._row_objects.build(row, key, listing.uri, listing.spec, listing.item_type, self)

    def items_from_rows(
        self, rows: Sequence[dict[str, str]], keys: Sequence[str], listing: Listing[T]
    ) -> list[T]:
        """The live objects for many rows of ``listing`` in one batch (iterating a listing)."""
        return self._row_objects.build_many(
            rows, keys, listing.uri, listing.spec, listing.item_type, self
        )

    # -- live-object support (the SessionLike protocol) -----------------------------------

    def load_item(self, uri: str) -> XnatObject:
        """GET the object at ``uri`` in full, parse it by xsi:type and bind it."""
        obj = first_item(self.get_json(uri), self._transport.url(uri))
        bind(obj, self, uri, complete=True)
        return obj

    def load_custom_fields(self, uri: str) -> dict[str, str]:
        """The custom variables (``fields/field`` children) of the object at ``uri``."""
        return custom_field_values(self.get_json(uri))

    def write_fields(self, uri: str, query: Mapping[str, str]) -> None:
        """PUT xpath=value pairs on the object at ``uri``."""
        self.put(uri, query=query)
        self.forget(uri)

    def delete_object(self, uri: str, *, remove_files: bool) -> None:
        """DELETE the object at ``uri`` and forget the listings that held it."""
        self.delete(uri, query={"removeFiles": remove_files})
        self.forget(uri.rsplit("/", 1)[0])

    def download_to(self, uri: str, target: Path, expected_md5: str | None = None) -> Path:
        """Download ``uri`` to ``target`` atomically, checked against ``expected_md5`` (no
        md5 is computed without one)."""
        return transfer.download_file(self, uri, target, expected_md5=expected_md5)

    def download_files(
        self,
        files: Iterable[FileData],
        target_dir: str | os.PathLike[str],
        *,
        max_workers: int = 8,
        verbose: bool = False,
        verify: bool = True,
    ) -> list[Path]:
        """Download ``files`` below ``target_dir`` (each at its path in its resource),
        ``max_workers`` at a time, each atomic and verified (``verify=False``: by length
        only, no md5); see ``parallel.download_files``."""
        from xnat_sdk import parallel  # the thread pool is imported only when used

        return parallel.download_files(
            self, files, target_dir, max_workers=max_workers, verbose=verbose, verify=verify
        )

    def read_bytes(self, uri: str) -> bytes:
        """The whole body of ``uri``."""
        return self.get(uri).content

    def external_url(self, uri: str, query: Mapping[str, str] | None = None) -> str:
        """The absolute URL of ``uri`` on this server, with ``query``."""
        url = self._transport.url(uri)
        return f"{url}?{urlencode(query)}" if query else url

    def create_item(
        self,
        listing_uri: str,
        spec: ListingSpec,
        key: str,
        item_type: type[U],
        fields: Mapping[str, object],
    ) -> U:
        """Validate ``fields`` for ``item_type`` (nothing is sent if one is wrong), then PUT."""
        created = self.add_item(listing_uri, key, new_model(item_type, spec, key, fields))
        return checked(created, item_type, f"{listing_uri}/{key}")

    def add_item(self, listing_uri: str, key: str, obj: U) -> U:
        """PUT the model ``obj`` at ``listing_uri/key``; return it as stored, live."""
        query = store_query(obj, key)
        uri = f"{listing_uri}/{key}"
        stored = self.put(uri, query=query)
        self.forget(listing_uri)
        try:
            loaded = self.load_item(uri)
        except XNATNotFoundError:
            # XNAT keys labels per project: the PUT went to an object of another parent.
            raise XNATConflictError(
                "PUT",
                str(stored.request.url),
                stored.status_code,
                elsewhere_message(key, uri),
            ) from None
        return checked(loaded, type(obj), uri)


def _detect_redirect(transport: HttpTransport) -> str:
    """The server URL after following the redirects of ``GET {server}`` (http->https, a
    path prefix): everything before ``/app/`` or ``/data/`` in the final URL."""
    probe = redirect_probe(transport.server)
    response = transport.request(
        probe.method,
        probe.path,
        follow_redirects=probe.follow_redirects,
        accepted_status=probe.accepted_status,
    )
    return redirect_base(str(response.url))


def connect(
    server: str | None = None,
    user: str | None = None,
    password: str | None = None,
    verify: bool = True,
    netrc_file: str | os.PathLike[str] | None = None,
    debug: bool = False,
    extension_types: bool = True,
    loglevel: int | str | None = None,
    logger: logging.Logger | None = None,
    detect_redirect: bool = True,
    no_parse_model: bool = False,
    *,
    timeout: float | httpx.Timeout | None = None,
    retry: RetryPolicy | int | None = None,
    keepalive: float | None = DEFAULT_KEEPALIVE_SECONDS,
    config: SessionConfig | None = None,
) -> XNATSession:
    """Log in to an XNAT server and return the session (a context manager).

    Credentials: ``user``/``password``, else ``netrc_file`` or ``~/.netrc``, else the
    ``XNAT_USER``/``XNAT_PASS`` environment (``XNAT_HOST`` when ``server`` is omitted), else
    anonymous. ``user`` may be an alias token with its secret as ``password``. ``keepalive`` is
    the heartbeat interval in seconds (``None`` for none). ``timeout`` (seconds or an
    ``httpx.Timeout``) replaces the default connect/read timeouts; every verb also takes one.
    ``retry`` is a ``RetryPolicy`` or a number of retries (0: none) for idempotent requests
    that fail transiently; POSTs are never retried. ``verify=False`` turns TLS verification off
    and logs one warning. See ``XNATSession`` for
    ``extension_types`` and ``no_parse_model``. ``config`` (a ``SessionConfig``) replaces the
    server, credential, timeout and retry arguments, which must then be left out.
    """
    del no_parse_model  # documented on XNATSession: nothing to parse
    log = configure_logger(logger, debug, loglevel)
    if config is not None:
        given = [
            name
            for name, value in (
                ("server", server),
                ("user", user),
                ("password", password),
                ("netrc_file", netrc_file),
                ("timeout", timeout),
                ("retry", retry),
            )
            if value is not None
        ]
        if given:
            raise XNATValueError(
                f"connect(config=...) takes these from the config; do not pass {', '.join(given)}"
            )
        return config.connect(logger=log)
    description, credentials = describe_connection(
        server,
        user,
        password,
        netrc_file,
        verify=verify,
        timeout=timeout,
        retry=retry,
        keepalive=keepalive,
        detect_redirect=detect_redirect,
        extension_types=extension_types,
    )
    return open_session(description, credentials, logger=log, portable=False)


def open_session(
    config: SessionConfig,
    credentials: Credentials | None,
    *,
    logger: logging.Logger,
    portable: bool = True,
) -> XNATSession:
    """Log in as ``credentials`` to the server ``config`` describes, with its transport
    settings; ``portable`` sessions' live objects pickle as references to ``config``."""
    warn_if_unverified(config, logger)
    transport = HttpTransport(
        config.server,
        verify=config.verify,
        timeout=config.http_timeout(),
        retry=config.retry,
        logger=logger,
    )
    try:
        if config.detect_redirect:
            redirected = _detect_redirect(transport)
            if redirected != transport.server:
                logger.info("%s redirects to %s; using the latter", config.server, redirected)
                transport.server = redirected
        session = XNATSession(
            transport,
            credentials,
            logger=logger,
            keepalive=config.keepalive,
            original_uri=config.server,
            config=config,
            portable=portable,
        )
        session.login()
    except BaseException:
        transport.close()
        raise
    session.start_keepalive()
    return session
