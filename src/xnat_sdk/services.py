"""XNAT's ``/data/services`` calls (``session.services``): importing DICOM, DICOM dumps, alias
tokens and catalog refreshes, with typed results.

An import streams the file from disk (a directory is first packed into a temporary zip, deleted
afterwards) and answers with what the server made of it: the new experiment when it went to the
archive, the ``PrearchiveSession`` when it went to the prearchive.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, overload
from urllib.parse import quote

from xnat_sdk import transfer
from xnat_sdk.dicomdump import DicomDumpRow, dicom_dump, dump_source
from xnat_sdk.errors import XNATError, XNATValueError
from xnat_sdk.objects import XnatObject
from xnat_sdk.prearchive import (
    OverwriteMode,
    PrearchiveScan,
    PrearchiveSession,
    load_archived,
)
from xnat_sdk.service_requests import import_query, imported_uris, staged_row

if TYPE_CHECKING:
    from xnat_sdk.models import AbstractResource, ImageSessionData
    from xnat_sdk.session import XNATSession

#: Destinations whose result is always an archived experiment / a prearchive session.
ArchiveDestination = Literal["/archive", "archive"]
PrearchiveDestination = Literal["/prearchive", "prearchive"]
#: XNAT's import handlers (``import-handler``); the default is ``DICOM-zip``.
ImportHandler = Literal["DICOM-zip", "gradual-DICOM", "SI", "dicom"]


class TokenResult(NamedTuple):
    """An alias token: log in with ``alias`` as user name and ``secret`` as password.

    The repr hides the secret, so a token never ends up in a log by accident."""

    alias: str
    secret: str

    def __repr__(self) -> str:
        return f"TokenResult(alias={self.alias!r}, secret='***')"


def guess_content_type(path: str | os.PathLike[str]) -> str:
    """The content type the import service expects for ``path`` (zip, tar, gzip or DICOM)."""
    name = os.fspath(path).lower()
    if name.endswith(".zip"):
        return "application/zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "application/x-gzip"
    if name.endswith(".tar"):
        return "application/x-tar"
    if name.endswith(".dcm"):
        return "application/dicom"
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


class Services:
    """The service calls of the connected server (``session.services``)."""

    def __init__(self, session: XNATSession) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<Services of {self._session.server}>"

    # -- import ---------------------------------------------------------------------------

    @overload
    def import_(
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
    def import_(
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
    ) -> PrearchiveSession: ...

    @overload
    def import_(
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
    ) -> ImageSessionData | PrearchiveSession: ...

    def import_(
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
    ) -> ImageSessionData | PrearchiveSession:
        """Upload a zip, tar(.gz) or single DICOM file to the import service.

        ``destination`` is ``/archive`` or ``/prearchive`` (optionally with ``/projects/P``...;
        the server's default when omitted); ``project``/``subject``/``experiment`` override the
        labels the server would derive from the DICOM headers. Returns the new experiment or
        the prearchive session; when one upload holds several studies, the first of them (see
        ``import_sessions`` for all). The file is streamed from disk.
        """
        results = self.import_sessions(
            path,
            overwrite=overwrite,
            quarantine=quarantine,
            destination=destination,
            trigger_pipelines=trigger_pipelines,
            project=project,
            subject=subject,
            experiment=experiment,
            content_type=content_type,
            import_handler=import_handler,
            ignore_unparsable=ignore_unparsable,
        )
        return results[0]

    def import_sessions(
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
    ) -> list[ImageSessionData | PrearchiveSession]:
        """As ``import_``, but every session the upload produced (one per study)."""
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
        response = transfer.upload(
            self._session,
            "/data/services/import",
            source,
            query=query,
            content_type=content_type or guess_content_type(source),
            method="post",
        )
        return [self._result(uri) for uri in imported_uris(response.text, source)]

    def _result(self, uri: str) -> ImageSessionData | PrearchiveSession:
        row = staged_row(uri)
        if row is not None:
            return PrearchiveSession(self._session, row).refresh()
        return load_archived(self._session, uri)

    @overload
    def import_dir(
        self,
        directory: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        *,
        destination: ArchiveDestination,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> ImageSessionData: ...

    @overload
    def import_dir(
        self,
        directory: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        *,
        destination: PrearchiveDestination,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> PrearchiveSession: ...

    @overload
    def import_dir(
        self,
        directory: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        destination: str | None = None,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> ImageSessionData | PrearchiveSession: ...

    def import_dir(
        self,
        directory: str | os.PathLike[str],
        overwrite: OverwriteMode | None = None,
        quarantine: bool = False,
        destination: str | None = None,
        trigger_pipelines: bool | None = None,
        project: str | None = None,
        subject: str | None = None,
        experiment: str | None = None,
        import_handler: ImportHandler | None = None,
        ignore_unparsable: bool | None = None,
    ) -> ImageSessionData | PrearchiveSession:
        """Pack every file below ``directory`` into a temporary zip (deleted afterwards) and
        import it as ``import_`` does."""
        source = Path(directory)
        if not source.is_dir():
            raise XNATValueError(f"cannot import {source}: it is not a directory")
        files = list(transfer.iter_tree(source))
        if not files:
            raise XNATValueError(f"cannot import {source}: it holds no files")
        with tempfile.TemporaryDirectory(prefix="xnat-sdk-import-") as temp_dir:
            packed = Path(temp_dir) / f"{source.resolve().name or 'upload'}.zip"
            with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
                for file, relative in files:
                    archive.write(file, relative)
            return self.import_(
                packed,
                overwrite=overwrite,
                quarantine=quarantine,
                destination=destination,
                trigger_pipelines=trigger_pipelines,
                project=project,
                subject=subject,
                experiment=experiment,
                content_type="application/zip",
                import_handler=import_handler,
                ignore_unparsable=ignore_unparsable,
            )

    # -- other services -------------------------------------------------------------------

    def dicom_dump(
        self,
        src: str | XnatObject | PrearchiveSession | PrearchiveScan,
        fields: Sequence[str] | None = None,
    ) -> list[DicomDumpRow]:
        """The DICOM header of the first file of ``src``: an archived or prearchived session or
        scan, as an object or a path (``/archive/projects/P/experiments/E``, ``/prearchive/
        projects/P/{timestamp}/{name}``); ``fields`` limits the tags (keywords or ``GGGGEEEE``)."""
        uri = src if isinstance(src, str) else src.uri
        dump_source(uri)  # refuses a path the service cannot read before anything is sent
        return dicom_dump(self._session, uri, fields)

    def issue_token(self, user: str | None = None) -> TokenResult:
        """Issue an alias token for the logged-in user, or for ``user`` (admins only: others
        get ``XNATForbiddenError``)."""
        uri = "/data/services/tokens/issue"
        if user is not None:
            if not user:
                raise XNATValueError("user must be a login name, not empty")
            uri += f"/user/{quote(user, safe='')}"
        document = self._session.get_json(uri)
        alias = document.get("alias") if isinstance(document, dict) else None
        secret = document.get("secret") if isinstance(document, dict) else None
        if not isinstance(alias, str) or not isinstance(secret, str):
            raise XNATError(f"{uri} answered without an alias and secret")
        return TokenResult(alias, secret)

    def refresh_catalog(
        self,
        resource: AbstractResource | XnatObject | str,
        checksum: bool = False,
        delete: bool = False,
        append: bool = False,
        populate_stats: bool = False,
    ) -> None:
        """Ask the server to bring the catalogs below ``resource`` (a resource, or any archive
        object or path above resources) in line with the files on disk: ``checksum`` fills
        missing digests, ``delete`` drops entries without a file, ``append`` adds files that
        are not catalogued, ``populate_stats`` updates the resource's counts."""
        uri = resource if isinstance(resource, str) else resource.uri
        target = "/archive" + uri.removeprefix("/data").removeprefix("/archive")
        options = [
            name
            for name, wanted in (
                ("checksum", checksum),
                ("delete", delete),
                ("append", append),
                ("populateStats", populate_stats),
            )
            if wanted
        ]
        query = {"resource": target}
        if options:
            query["options"] = ",".join(options)
        self._session.post("/data/services/refresh/catalog", query=query)
        self._session.forget("/data" + target.removeprefix("/archive"))
