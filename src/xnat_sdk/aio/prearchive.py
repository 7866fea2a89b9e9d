"""The prearchive and the import service for the async session.

``AsyncPrearchiveSession`` reads its values through a ``PrearchiveSession`` snapshot of the same
listing row (one implementation of what a row means); its actions build their requests with
``xnat_sdk.service_requests`` and check the server's current status first, as the sync ones do.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from xnat_sdk.aio import transfer as aio_transfer
from xnat_sdk.errors import XNATError, XNATNotFoundError, XNATResponseError, XNATValueError
from xnat_sdk.objects import check_label
from xnat_sdk.prearchive import OverwriteMode, PrearchiveSession, PrearchiveStatus
from xnat_sdk.service_requests import (
    archive_query,
    archived_uri,
    async_flag,
    import_query,
    imported_uris,
    moved_session_uri,
    require_status,
    staged_row,
)
from xnat_sdk.services import (
    ArchiveDestination,
    ImportHandler,
    PrearchiveDestination,
    guess_content_type,
)

if TYPE_CHECKING:
    from xnat_sdk.aio.session import AsyncXNATSession
    from xnat_sdk.models import ImageSessionData


def _snapshot(row: dict[str, str], url: str) -> PrearchiveSession:
    """The sync ``PrearchiveSession`` of ``row`` used for its values only (never its actions:
    it is not bound to a sync session)."""
    snapshot = PrearchiveSession.__new__(PrearchiveSession)
    snapshot.data = dict(row)
    snapshot.uri = "/data" + row.get("url", "")
    if not row.get("url", "").startswith("/prearchive/"):
        raise XNATResponseError("GET", url, 200, f"invalid session url {row.get('url', '')!r}")
    return snapshot


class AsyncPrearchiveSession:
    """A prearchive session as its listing row described it when read; actions are awaited."""

    def __init__(self, session: AsyncXNATSession, row: dict[str, str]) -> None:
        self._session = session
        self._values = _snapshot(row, session.external_url("/data/prearchive"))
        #: The listing row (column -> text).
        self.data = self._values.data
        #: The REST path (``/data/prearchive/projects/{p}/{timestamp}/{name}``).
        self.uri = self._values.uri

    def __repr__(self) -> str:
        return f"<AsyncPrearchiveSession {self.id} {self.status}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncPrearchiveSession) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def id(self) -> str:
        """``{project}/{timestamp}/{name}``: unique within the prearchive."""
        return self._values.id

    @property
    def project(self) -> str:
        return self._values.project

    @property
    def name(self) -> str:
        """The session label the importer chose."""
        return self._values.name

    @property
    def subject(self) -> str:
        return self._values.subject

    @property
    def status(self) -> PrearchiveStatus | None:
        """The status when this snapshot was read."""
        return self._values.status

    @property
    def tag(self) -> str:
        """The Study Instance UID."""
        return self._values.tag

    @property
    def timestamp(self) -> datetime.datetime | None:
        return self._values.timestamp

    @property
    def scan_date(self) -> datetime.date | None:
        return self._values.scan_date

    async def scan_ids(self) -> list[str]:
        """The IDs of the session's scans (read from the server)."""
        rows = await self._session.listing_rows(f"{self.uri}/scans", {})
        return [row.get("ID", "") for row in rows]

    async def refresh(self) -> AsyncPrearchiveSession:
        """The session as the server describes it now."""
        rows = await self._session.listing_rows(self.uri, {})
        if not rows:
            raise XNATNotFoundError(
                "GET", self._session.external_url(self.uri), 404, "the session is gone"
            )
        return AsyncPrearchiveSession(self._session, rows[0])

    async def _check(self, action: Literal["archive", "move", "rebuild", "delete"]) -> None:
        current = (await self.refresh()).data.get("status", "")
        require_status(action, self.uri, current)

    async def archive(
        self,
        overwrite: OverwriteMode | None = None,
        quarantine: bool | None = None,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
    ) -> ImageSessionData:
        """Archive the session; return the new experiment (its concrete class)."""
        query = archive_query(
            self.uri,
            overwrite=overwrite,
            quarantine=quarantine,
            trigger_pipelines=trigger_pipelines,
            project=project,
            subject=subject,
            experiment=experiment,
        )
        await self._check("archive")
        response = await self._session.post("/data/services/archive", query=query)
        return await load_archived(self._session, response.text)

    async def delete(self, asynchronous: bool | None = None) -> None:
        """Delete the session and its files from the prearchive."""
        await self._check("delete")
        await self._session.post(
            "/data/services/prearchive/delete", query={"src": self.uri, **async_flag(asynchronous)}
        )

    async def move(
        self, new_project: str, asynchronous: bool | None = None
    ) -> AsyncPrearchiveSession:
        """Move the session to the prearchive of ``new_project``; return it there."""
        check_label(new_project)
        await self._check("move")
        query = {"src": self.uri, "newProject": new_project, **async_flag(asynchronous)}
        await self._session.post("/data/services/prearchive/move", query=query)
        moved = moved_session_uri(new_project, self.data.get("timestamp", ""), self.name)
        return await AsyncPrearchiveSession(
            self._session, {**self.data, "url": moved.removeprefix("/data")}
        ).refresh()

    async def download(self, path: str | os.PathLike[str]) -> Path:
        """Download the whole session as a zip to ``path`` (atomic, verified length)."""
        return await aio_transfer.download_file(self._session, self.uri, path, format="zip")


async def load_archived(session: AsyncXNATSession, answer: str) -> ImageSessionData:
    """The experiment an archive/import answer names first, loaded in full."""
    from xnat_sdk.models import ImageSessionData

    uri = archived_uri(answer)
    loaded = await session.object_at(uri)
    if not isinstance(loaded, ImageSessionData):
        raise XNATError(f"{uri} is a {type(loaded).__name__}, expected an image session")
    return loaded


class AsyncPrearchive:
    """The prearchive of the connected server (``session.prearchive``)."""

    def __init__(self, session: AsyncXNATSession) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<AsyncPrearchive of {self._session.server}>"

    async def sessions(self, project: str | None = None) -> list[AsyncPrearchiveSession]:
        """The sessions waiting in the prearchive (of ``project`` only, if given), read afresh."""
        uri = "/data/prearchive/projects" + (f"/{project}" if project is not None else "")
        rows = await self._session.listing_rows(uri, {})
        return [AsyncPrearchiveSession(self._session, row) for row in rows]


class AsyncServices:
    """The import service of the connected server (``session.services``)."""

    def __init__(self, session: AsyncXNATSession) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<AsyncServices of {self._session.server}>"

    @overload
    async def import_(
        self,
        path: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        *,
        destination: ArchiveDestination,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        content_type: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> ImageSessionData: ...

    @overload
    async def import_(
        self,
        path: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        *,
        destination: PrearchiveDestination,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        content_type: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> AsyncPrearchiveSession: ...

    @overload
    async def import_(
        self,
        path: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        destination: str | None = None,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        content_type: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> ImageSessionData | AsyncPrearchiveSession: ...

    async def import_(
        self,
        path: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        destination: str | None = None,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        content_type: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> ImageSessionData | AsyncPrearchiveSession:
        """Upload a zip, tar(.gz) or DICOM file to the import service (streamed from disk), as
        ``Services.import_``; return the new experiment or the prearchive session (the first
        when the upload holds several studies)."""
        source = Path(path)
        if not source.is_file():
            raise XNATValueError(f"cannot import {source}: it is not a file")
        query = import_query(
            overwrite=overwrite,
            quarantine=quarantine,
            destination=destination,
            trigger_pipelines=trigger_pipelines,
            project=project,
            subject=subject,
            experiment=experiment,
            import_handler=import_handler,
            ignore_unparsable=ignore_unparsable,
        )
        response = await aio_transfer.upload(
            self._session,
            "/data/services/import",
            source,
            query=query,
            content_type=content_type or guess_content_type(source),
            method="post",
        )
        first = imported_uris(response.text, source)[0]
        row = staged_row(first)
        if row is not None:
            return await AsyncPrearchiveSession(self._session, row).refresh()
        return await load_archived(self._session, first)
