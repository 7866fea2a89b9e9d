"""The prearchive: DICOM sessions the server has received and not yet archived.

``session.prearchive.sessions()`` reads ``/data/prearchive/projects[/{project}]`` afresh on every
call and gives ``PrearchiveSession`` snapshots of the listing rows. Their actions go through
XNAT's services (``/data/services/archive``, ``/data/services/prearchive/{move,rebuild,delete}``)
and first re-read the session's status, so acting on a session that is busy or not ready fails
with ``PrearchiveStatusError`` before anything is changed.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Literal, get_args

from xnat_sdk import transfer
from xnat_sdk.dicomdump import DicomDumpRow, dicom_dump
from xnat_sdk.errors import XNATError, XNATNotFoundError, XNATResponseError, XNATValueError
from xnat_sdk.objects import check_label
from xnat_sdk.service_requests import (
    archive_query,
    archived_uri,
    async_flag,
    moved_session_uri,
    require_status,
)

if TYPE_CHECKING:
    import pydicom

    from xnat_sdk.models import ImageSessionData
    from xnat_sdk.session import XNATSession

#: ``PrearcUtils.PrearcStatus`` of XNAT (xnat-web ``helpers/prearchive/PrearcUtils.java``):
#: ``QUEUED_`` marks a queued operation, ``_`` one that is running.
PrearchiveStatus = Literal[
    "ARCHIVING",
    "BUILDING",
    "CONFLICT",
    "DELETING",
    "ERROR",
    "MOVING",
    "READY",
    "RECEIVING",
    "RECEIVING_INTERRUPT",
    "SEPARATING",
    "QUEUED_ARCHIVING",
    "QUEUED_BUILDING",
    "QUEUED_DELETING",
    "QUEUED_MOVING",
    "QUEUED_SEPARATING",
    "_ARCHIVING",
    "_BUILDING",
    "_CONFLICT",
    "_DELETING",
    "_MOVING",
    "_RECEIVING",
    "_RECEIVING_INTERRUPT",
    "_SEPARATING",
]
PREARCHIVE_STATUSES: Final[tuple[PrearchiveStatus, ...]] = get_args(PrearchiveStatus)

PrearchiveAction = Literal["archive", "move", "rebuild", "delete"]
#: Statuses from which an action may start. Archiving needs a built session (READY) or one whose
#: archiving failed (CONFLICT, ERROR); the other actions need a session no operation is busy with.
ALLOWED_STATUSES: Final[dict[PrearchiveAction, frozenset[PrearchiveStatus]]] = {
    "archive": frozenset({"READY", "CONFLICT", "ERROR"}),
    "move": frozenset({"READY", "CONFLICT", "ERROR", "RECEIVING_INTERRUPT"}),
    "rebuild": frozenset({"READY", "CONFLICT", "ERROR", "RECEIVING_INTERRUPT"}),
    "delete": frozenset({"READY", "CONFLICT", "ERROR", "RECEIVING_INTERRUPT"}),
}

#: How archiving treats an existing session of the same label (XNAT's ``overwrite``).
OverwriteMode = Literal["none", "append", "delete"]


class PrearchiveStatusError(XNATError):
    """An action was asked of a prearchive session whose status does not allow it."""

    def __init__(self, action: PrearchiveAction, session_uri: str, status: str) -> None:
        self.action = action
        self.session_uri = session_uri
        self.status = status
        allowed = ", ".join(sorted(ALLOWED_STATUSES[action]))
        super().__init__(
            f"cannot {action} prearchive session {session_uri}: its status is {status} "
            f"(needs one of {allowed})"
        )


def _status(value: str) -> PrearchiveStatus | None:
    for status in PREARCHIVE_STATUSES:
        if status == value:
            return status
    return None


def _datetime(value: str, *formats: str) -> datetime.datetime | None:
    for format in formats:
        try:
            return datetime.datetime.strptime(value, format)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class PrearchiveFile:
    """One file of a prearchive scan (a row of its ``resources/DICOM/files`` listing)."""

    name: str
    size: int | None
    uri: str
    _session: XNATSession = field(repr=False, compare=False)

    def download(self, path: str | os.PathLike[str]) -> Path:
        """Download the file to ``path`` (written atomically); return the path."""
        return transfer.download_file(self._session, self.uri, path)

    def open(self) -> IO[bytes]:
        """The file's content as a readable binary stream (spooled to disk when large)."""
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        try:
            transfer.download_stream(self._session, self.uri, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool


@dataclass(frozen=True)
class PrearchiveScan:
    """One scan (DICOM series) of a prearchive session."""

    id: str
    series_description: str
    xsi_type: str
    uri: str
    _session: XNATSession = field(repr=False, compare=False)

    @property
    def files(self) -> list[PrearchiveFile]:
        """The scan's DICOM files (read from the server on each access)."""
        rows = self._session.listing_rows(f"{self.uri}/resources/DICOM/files", {})
        return [
            PrearchiveFile(
                name=row.get("Name", ""),
                size=int(row["Size"]) if row.get("Size", "").isdigit() else None,
                uri=row.get("URI") or f"{self.uri}/resources/DICOM/files/{row.get('Name', '')}",
                _session=self._session,
            )
            for row in rows
        ]

    def download(self, path: str | os.PathLike[str]) -> Path:
        """Download the scan as a zip to ``path`` (written atomically); return the path."""
        return transfer.download_file(self._session, self.uri, path, format="zip")

    def dicom_dump(self, fields: Sequence[str] | None = None) -> list[DicomDumpRow]:
        """The DICOM header of the scan's first file; ``fields`` limits the tags (names or
        ``GGGGEEEE`` numbers)."""
        return dicom_dump(self._session, self.uri, fields)

    def read_dicom(
        self,
        file: PrearchiveFile | None = None,
        read_pixel_data: bool = False,
        force: bool = False,
    ) -> pydicom.Dataset:
        """Read one file of the scan (the first unless ``file`` is given) with pydicom."""
        import pydicom

        if file is None:
            files = self.files
            if not files:
                raise XNATValueError(f"prearchive scan {self.uri} has no files")
            file = files[0]
        elif not file.uri.startswith(f"{self.uri}/"):
            raise XNATValueError(f"{file.uri} is not a file of prearchive scan {self.uri}")
        with file.open() as stream:
            dataset: pydicom.Dataset = pydicom.dcmread(  # pyright: ignore[reportUnknownMemberType]  # pydicom's own PathLike[Unknown]
                stream, stop_before_pixels=not read_pixel_data, force=force
            )
        return dataset


class PrearchiveSession:
    """A prearchive session as its listing row described it when it was read.

    The values are a snapshot; ``refresh()`` reads the session again. Actions check the
    server's current status first.
    """

    def __init__(self, session: XNATSession, row: dict[str, str]) -> None:
        url = row.get("url", "")
        if not url.startswith("/prearchive/"):
            raise XNATResponseError(
                "GET", session.external_url("/data/prearchive"), 200, f"invalid session url {url!r}"
            )
        self._session = session
        self.data: dict[str, str] = dict(row)
        #: The REST path of the session (``/data/prearchive/projects/{p}/{timestamp}/{name}``).
        self.uri = "/data" + url

    def __repr__(self) -> str:
        return f"<PrearchiveSession {self.id} {self.status}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrearchiveSession) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    # -- values ---------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """``{project}/{timestamp}/{name}``: unique within the prearchive."""
        return f"{self.project}/{self.data.get('timestamp', '')}/{self.name}"

    @property
    def project(self) -> str:
        """The project folder (``Unassigned`` when no project could be identified)."""
        return self.data.get("project", "")

    @property
    def name(self) -> str:
        """The session label the importer chose."""
        return self.data.get("name", "")

    @property
    def label(self) -> str:
        """The session label (same as ``name``)."""
        return self.name

    @property
    def folder_name(self) -> str:
        """The session's folder in the prearchive."""
        return self.data.get("folderName", "")

    @property
    def subject(self) -> str:
        """The subject label the importer chose."""
        return self.data.get("subject", "")

    @property
    def status(self) -> PrearchiveStatus | None:
        """The status when this snapshot was read (``None`` for a value XNAT does not define)."""
        return _status(self.data.get("status", ""))

    @property
    def tag(self) -> str:
        """The Study Instance UID of the session."""
        return self.data.get("tag", "")

    @property
    def autoarchive(self) -> str:
        """The project's auto-archive setting (``Manual``, ...)."""
        return self.data.get("autoarchive", "")

    @property
    def prevent_anon(self) -> bool:
        """Whether the site anonymization script is skipped for this session."""
        return self.data.get("prevent_anon", "").lower() == "true"

    @property
    def prevent_auto_commit(self) -> bool:
        """Whether auto-archiving is disabled for this session."""
        return self.data.get("prevent_auto_commit", "").lower() == "true"

    @property
    def uploaded(self) -> datetime.datetime | None:
        """When the upload arrived (``None`` when the server does not say)."""
        return _datetime(self.data.get("uploaded", ""), "%Y-%m-%d %H:%M:%S.%f")

    @property
    def lastmod(self) -> datetime.datetime | None:
        """When the session last changed."""
        return _datetime(self.data.get("lastmod", ""), "%Y-%m-%d %H:%M:%S.%f")

    @property
    def timestamp(self) -> datetime.datetime | None:
        """The moment named by the timestamp folder (``yyyyMMdd_HHmmss[SSS]``)."""
        value = self.data.get("timestamp", "")
        if len(value) == 18:
            return _datetime(value + "000", "%Y%m%d_%H%M%S%f")
        return _datetime(value, "%Y%m%d_%H%M%S")

    @property
    def scan_date(self) -> datetime.date | None:
        """The study date from the DICOM headers."""
        moment = _datetime(self.data.get("scan_date", ""), "%Y-%m-%d")
        return moment.date() if moment is not None else None

    @property
    def scan_time(self) -> datetime.time | None:
        """The study time from the DICOM headers."""
        moment = _datetime(self.data.get("scan_time", ""), "%H:%M:%S.%f", "%H:%M:%S")
        return moment.time() if moment is not None else None

    @property
    def scans(self) -> list[PrearchiveScan]:
        """The session's scans (read from the server on each access)."""
        return [
            PrearchiveScan(
                id=row.get("ID", ""),
                series_description=row.get("series_description", ""),
                xsi_type=row.get("xsiType", ""),
                uri=f"{self.uri}/scans/{row.get('ID', '')}",
                _session=self._session,
            )
            for row in self._session.listing_rows(f"{self.uri}/scans", {})
        ]

    # -- actions --------------------------------------------------------------------------

    def refresh(self) -> PrearchiveSession:
        """The session as the server describes it now."""
        rows = self._session.listing_rows(self.uri, {})
        if not rows:
            raise XNATNotFoundError(
                "GET", self._session.external_url(self.uri), 404, "the session is gone"
            )
        return PrearchiveSession(self._session, rows[0])

    def _check(self, action: PrearchiveAction) -> None:
        require_status(action, self.uri, self.refresh().data.get("status", ""))

    def archive(
        self,
        overwrite: OverwriteMode | None = None,
        quarantine: bool | None = None,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
    ) -> ImageSessionData:
        """Archive the session; return the new experiment (its concrete class, e.g.
        ``MrSessionData``). ``project``/``subject``/``experiment`` override the labels the
        importer chose; ``overwrite`` says what to do with an existing session of that label."""
        query = archive_query(
            self.uri,
            overwrite=overwrite,
            quarantine=quarantine,
            trigger_pipelines=trigger_pipelines,
            project=project,
            subject=subject,
            experiment=experiment,
        )
        self._check("archive")
        response = self._session.post("/data/services/archive", query=query)
        return load_archived(self._session, response.text)

    def delete(self, asynchronous: bool | None = None) -> None:
        """Delete the session and its files from the prearchive."""
        self._check("delete")
        self._session.post(
            "/data/services/prearchive/delete", query={"src": self.uri, **async_flag(asynchronous)}
        )

    def move(self, new_project: str, asynchronous: bool | None = None) -> PrearchiveSession:
        """Move the session to the prearchive of ``new_project``; return it there."""
        check_label(new_project)
        self._check("move")
        query = {"src": self.uri, "newProject": new_project, **async_flag(asynchronous)}
        self._session.post("/data/services/prearchive/move", query=query)
        moved = moved_session_uri(new_project, self.data.get("timestamp", ""), self.name)
        row = {**self.data, "url": moved.removeprefix("/data")}
        return PrearchiveSession(self._session, row).refresh()

    def rebuild(self, asynchronous: bool | None = None) -> PrearchiveSession:
        """Re-read the session's DICOM and rebuild its scans; return the session as it is
        afterwards (its status may still be ``BUILDING`` when ``asynchronous``)."""
        self._check("rebuild")
        self._session.post(
            "/data/services/prearchive/rebuild", query={"src": self.uri, **async_flag(asynchronous)}
        )
        return self.refresh()

    def download(self, path: str | os.PathLike[str]) -> Path:
        """Download the whole session as a zip to ``path`` (written atomically)."""
        return transfer.download_file(self._session, self.uri, path, format="zip")


def load_archived(session: XNATSession, answer: str) -> ImageSessionData:
    """The experiment named by the first URI of an archive/import answer, loaded and bound."""
    from xnat_sdk.models import ImageSessionData

    uri = archived_uri(answer)
    session.forget(uri)
    session.forget("/data/experiments")
    session.forget("/data/subjects")
    loaded = session.load_item(uri)
    if not isinstance(loaded, ImageSessionData):
        raise XNATError(f"{uri} is a {type(loaded).__name__}, expected an image session")
    return loaded


class Prearchive:
    """The prearchive of the connected server (``session.prearchive``)."""

    def __init__(self, session: XNATSession) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<Prearchive of {self._session.server}>"

    def sessions(self, project: str | None = None) -> list[PrearchiveSession]:
        """The sessions waiting in the prearchive (of ``project`` only, if given); read from
        the server on every call, never cached."""
        uri = "/data/prearchive/projects" + (f"/{project}" if project is not None else "")
        return [
            PrearchiveSession(self._session, row) for row in self._session.listing_rows(uri, {})
        ]

    def find(
        self, project: str | None = None, subject: str | None = None, session: str | None = None
    ) -> list[PrearchiveSession]:
        """The sessions matching every given project, subject and session label."""
        return [
            found
            for found in self.sessions(project)
            if (subject is None or found.subject == subject)
            and (session is None or found.name == session)
        ]
