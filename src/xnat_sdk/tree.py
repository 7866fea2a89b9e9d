"""Every file of a project's scans in a few requests, however many objects the tree holds.

Walking ``project.subjects -> subject.experiments -> experiment.scans -> scan.resources ->
resource.files`` costs one request per object above the files. XNAT answers bigger questions in
one request, and this module asks those instead:

1. ``GET /data/projects/{P}/experiments?columns=...,subject_ID,subject_label``: every session
   of the project with its subject (one request);
2. ``GET /data/experiments/{E1,E2,...}/scans/ALL/resources/ALL/files``: the files of every scan
   resource of many sessions at once (XNAT's ``XNATTemplate`` splits the session IDs on commas
   and ``ALL`` selects every scan and resource), batched so that each URL stays short.

So a project costs ``1 + ceil(sessions / batch)`` requests, where a batch holds as many session
IDs as fit in ``MAX_ID_CHARS`` (about 400 accession IDs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xnat_sdk.errors import XNATResponseError, XNATValueError
from xnat_sdk.listing import LISTING_SPECS
from xnat_sdk.objects import FileData, session_of

if TYPE_CHECKING:
    from xnat_sdk.models import ImageSessionData, ProjectData
    from xnat_sdk.session import XNATSession

#: The session IDs of one files request, comma-joined, stay below this many characters (with
#: the rest of the URL well inside the 8 KiB request line that servers such as Tomcat accept).
MAX_ID_CHARS = 4000

#: The experiment listing's standard columns plus the subject of each session.
EXPERIMENT_COLUMNS = (*LISTING_SPECS["experiments"].columns, "subject_ID", "subject_label")

#: ``.../experiments/{session}/scans/{scan}/resources/{resource}/files/{path}``
_SCAN_FILE_URI = re.compile(r"/experiments/([^/]+)/scans/([^/]+)/resources/([^/]+)/files/(.+)$")


@dataclass(frozen=True)
class ScanFile:
    """One file of a scan resource, with the session, subject, scan and resource it is in."""

    #: The image session (its concrete class: ``MrSessionData``, ...), live and bound.
    experiment: ImageSessionData
    subject_id: str
    subject_label: str
    scan_id: str
    #: The resource's label (``DICOM``, ``NIFTI``, ...).
    resource: str
    file: FileData

    @property
    def path(self) -> str:
        """The file's path inside its resource."""
        return self.file.path


def scan_files(project: ProjectData) -> list[ScanFile]:
    """Every file of every scan resource of the project's image sessions (see the module
    docstring for the requests it costs)."""
    from xnat_sdk.models import ExperimentData, ImageSessionData
    from xnat_sdk.session import XNATSession

    session = session_of(project)
    if not isinstance(session, XNATSession):
        raise XNATValueError(f"{project!r} is not bound to an XNATSession")
    rows = session.listing_rows(
        f"{project.uri}/experiments", {"format": "json", "columns": ",".join(EXPERIMENT_COLUMNS)}
    )
    listing = session.listing_for(project, "experiments", ExperimentData)
    sessions: dict[str, tuple[ImageSessionData, dict[str, str]]] = {}
    for row in rows:
        experiment = session.item_from_row(row, listing.spec.key(row), listing)
        if isinstance(experiment, ImageSessionData):
            sessions[row["ID"]] = (experiment, row)
    found: list[ScanFile] = []
    for batch in _batches(list(sessions), MAX_ID_CHARS):
        uri = f"/data/experiments/{','.join(batch)}/scans/ALL/resources/ALL/files"
        for row in session.listing_rows(uri, {"format": "json"}):
            found.append(_scan_file(session, row, sessions, uri))
    return found


def _scan_file(
    session: XNATSession,
    row: dict[str, str],
    sessions: dict[str, tuple[ImageSessionData, dict[str, str]]],
    listing_uri: str,
) -> ScanFile:
    from xnat_sdk.parsing import file_from_row

    file_uri = row.get("URI", "")
    match = _SCAN_FILE_URI.search(file_uri)
    owner = sessions.get(match.group(1)) if match else None
    if match is None or owner is None:
        raise XNATResponseError(
            "GET", session.external_url(listing_uri), 200, f"unexpected file URI {file_uri!r}"
        )
    experiment, experiment_row = owner
    return ScanFile(
        experiment=experiment,
        subject_id=experiment_row.get("subject_ID", ""),
        subject_label=experiment_row.get("subject_label", ""),
        scan_id=match.group(2),
        resource=row.get("collection") or match.group(3),
        file=file_from_row(session, row, file_uri, match.group(4)),
    )


def _batches(ids: Sequence[str], limit: int) -> Iterator[list[str]]:
    """``ids`` in runs whose comma-joined length stays within ``limit``."""
    batch: list[str] = []
    length = 0
    for one in ids:
        if batch and length + 1 + len(one) > limit:
            yield batch
            batch, length = [], 0
        length += len(one) + (1 if batch else 0)
        batch.append(one)
    if batch:
        yield batch
