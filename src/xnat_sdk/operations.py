"""What you do with archive objects beyond reading and writing their fields.

Resources and their files, downloads of whole trees with xnatpy's directory layout, sharing,
assessors and DICOM headers. Users call these as xnatpy's methods (``resource.upload(...)``),
which ``xnat_sdk.behaviour`` mixes into the generated classes; the work is done here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from xnat_sdk import parallel, transfer
from xnat_sdk.errors import XNATError, XNATNotFoundError, XNATValueError
from xnat_sdk.models import (
    AbstractResource,
    ExperimentData,
    ImageAssessorData,
    ImageScanData,
    ImageSessionData,
    ProjectData,
    SubjectData,
)
from xnat_sdk.objects import FileData, XnatObject, check_label, session_of
from xnat_sdk.service_requests import scan_files_uri
from xnat_sdk.session import XNATSession

if TYPE_CHECKING:  # pydicom costs ~0.3 s to import: only read_dicom needs it, at run time
    import pydicom

A = TypeVar("A", bound=ImageAssessorData)


def _session(obj: XnatObject) -> XNATSession:
    session = session_of(obj)
    if not isinstance(session, XNATSession):
        raise XNATError(
            f"{type(obj).__name__} is bound to a {type(session).__name__}, not a client session"
        )
    return session


def create_resource(
    owner: ProjectData | SubjectData | ExperimentData | ImageScanData,
    label: str,
    format: str | None = None,
) -> AbstractResource:
    """Create an (empty) resource called ``label`` below ``owner`` and return it."""
    check_label(label)
    session = _session(owner)
    query = {"xsiType": "xnat:resourceCatalog"}
    if format is not None:
        query["format"] = format
    session.put(f"{owner.uri}/resources/{label}", query=query)
    resources = owner.resources
    resources.clearcache()
    return resources[label]


def upload(
    resource: AbstractResource,
    data: str | bytes | os.PathLike[str] | IO[bytes],
    remotepath: str,
    overwrite: bool = False,
    extract: bool = False,
) -> None:
    """Upload a file (a path), bytes or a stream to ``remotepath`` inside ``resource``.

    ``extract=True`` asks the server to unpack an uploaded zip/tar into the resource.
    """
    _check_remote_path(remotepath)
    session = _session(resource)
    query = {"extract": "true"} if extract else None
    transfer.upload(
        session, f"{resource.uri}/files/{remotepath}", data, query=query, overwrite=overwrite
    )
    resource.files.clearcache()


def upload_dir(
    resource: AbstractResource,
    directory: str | os.PathLike[str],
    overwrite: bool = False,
    method: transfer.UploadMethod = "tgz_file",
    max_workers: int | None = None,
) -> None:
    """Upload the tree below ``directory`` into ``resource`` (``directory/a/b.txt`` becomes
    ``a/b.txt``), with one of the five methods of xnatpy (see ``transfer.UPLOAD_METHODS``).
    ``max_workers`` runs that many ``per_file`` uploads at once (no other method has files to
    run in parallel)."""
    session = _session(resource)
    if max_workers is None:
        transfer.upload_dir(session, resource.uri, directory, overwrite=overwrite, method=method)
    elif method != "per_file":
        raise XNATValueError(f"max_workers needs method='per_file', not {method!r}")
    else:
        parallel.upload_tree(
            session, resource.uri, directory, overwrite=overwrite, max_workers=max_workers
        )
    resource.files.clearcache()


def download(
    resource: AbstractResource, path: str, target: str | os.PathLike[str], *, verify: bool = True
) -> Path:
    """Download the file ``path`` of ``resource`` to ``target`` (verified by its md5 digest
    unless ``verify`` is False)."""
    files = resource.files
    found = files.get(path)
    if found is None:
        raise XNATNotFoundError(
            "GET", f"{resource.uri}/files/{path}", 404, f"{resource.uri} has no file {path!r}"
        )
    return found.download(target, verify=verify)


def download_resource_dir(
    resource: AbstractResource,
    target_dir: str | os.PathLike[str],
    verbose: bool = False,
    max_workers: int | None = None,
    *,
    verify: bool = True,
) -> list[Path]:
    """Download every file of ``resource`` below ``target_dir``: one zip unpacked as the server
    lays it out, or with ``max_workers``, file by file that many at a time (each verified) to
    ``target_dir/<path in the resource>``."""
    session = _session(resource)
    if max_workers is None:
        return transfer.download_zip_to_dir(
            session, f"{resource.uri}/files", target_dir, verbose=verbose
        )
    files = resource.files
    files.clearcache()  # the files as they are now, not as first listed
    return parallel.download_files(
        session, files.values(), target_dir, max_workers=max_workers, verbose=verbose, verify=verify
    )


def download_experiment_dir(
    experiment: ImageSessionData, target_dir: str | os.PathLike[str], verbose: bool = False
) -> Path:
    """Download every scan file of ``experiment`` into ``target_dir/{experiment.label}``, as
    XNAT lays out its zip (``{label}/scans/{scan}/resources/{resource}/files/...``)."""
    target = Path(target_dir)
    label = experiment.label or experiment.uri.rsplit("/", 1)[-1]
    session = _session(experiment)
    listing = scan_files_uri(experiment.id, experiment.uri)
    if session.listing_rows(listing, {"format": "json"}):  # no scans: nothing to fetch
        transfer.download_zip_to_dir(session, listing, target, verbose=verbose)
    result = target / label
    result.mkdir(parents=True, exist_ok=True)
    return result


def download_subject_dir(
    subject: SubjectData, target_dir: str | os.PathLike[str], verbose: bool = False
) -> Path:
    """Download every image session of ``subject`` into ``target_dir/{subject.label}/``."""
    label = subject.label or subject.uri.rsplit("/", 1)[-1]
    subject_dir = Path(target_dir) / transfer.check_file_name(label)  # a name from the server
    subject_dir.mkdir(parents=True, exist_ok=True)
    for experiment in subject.experiments:
        if isinstance(experiment, ImageSessionData):
            download_experiment_dir(experiment, subject_dir, verbose=verbose)
    return subject_dir


def download_project_dir(
    project: ProjectData, target_dir: str | os.PathLike[str], verbose: bool = False
) -> Path:
    """Download the project into ``target_dir/{project.name}/{subject}/{experiment}/``."""
    name = project.name or project.id or project.uri.rsplit("/", 1)[-1]
    project_dir = Path(target_dir) / transfer.check_file_name(name)  # a title is free text
    project_dir.mkdir(parents=True, exist_ok=True)
    for subject in project.subjects:
        download_subject_dir(subject, project_dir, verbose=verbose)
    return project_dir


def share(obj: SubjectData | ExperimentData, project: str, label: str | None = None) -> None:
    """Share ``obj`` into ``project`` (optionally under another ``label``)."""
    check_label(project)
    query: dict[str, str] = {}
    if label is not None:
        query["label"] = check_label(label)
    session = _session(obj)
    session.put(f"{obj.uri}/projects/{project}", query=query)


def create_assessor(experiment: ImageSessionData, label: str, type_: type[A]) -> A:
    """Create an assessor of class ``type_`` called ``label`` on ``experiment``."""
    return experiment.assessors.create_as(type_, label)


def dicom_dump(scan: ImageScanData, fields: Sequence[str] | None = None) -> list[dict[str, str]]:
    """The DICOM header of the scan's first file (``/data/services/dicomdump``), one row per
    tag (``tag1``, ``tag2``, ``vr``, ``value``, ``desc``); ``fields`` limits the tags."""
    session = _session(scan)
    query: list[tuple[str, str]] = [("src", "/archive" + scan.uri.removeprefix("/data"))]
    query.extend(("field", field) for field in fields or ())
    document = session.get_json("/data/services/dicomdump", query=query)
    result_set = document.get("ResultSet") if isinstance(document, dict) else None
    rows = result_set.get("Result") if isinstance(result_set, dict) else None
    if not isinstance(rows, list):
        raise XNATError("the DICOM dump answer is not a ResultSet listing")
    return [
        {str(k): "" if v is None else str(v) for k, v in row.items()}
        for row in rows
        if isinstance(row, dict)
    ]


def read_dicom(
    scan: ImageScanData,
    file: FileData | None = None,
    read_pixel_data: bool = False,
    force: bool = False,
) -> pydicom.Dataset:
    """Read one DICOM file of ``scan`` (the first of its DICOM resource unless ``file`` is
    given) with pydicom; pixel data only when asked."""
    import pydicom

    if file is None:
        file = _first_dicom_file(scan)
    buffer = io.BytesIO()
    session = _session(scan)
    transfer.download_stream(session, file.uri, buffer, expected_md5=file.digest)
    buffer.seek(0)
    dataset: pydicom.Dataset = pydicom.dcmread(  # pyright: ignore[reportUnknownMemberType]  # pydicom's own PathLike[Unknown]
        buffer, stop_before_pixels=not read_pixel_data, force=force
    )
    return dataset


def _first_dicom_file(scan: ImageScanData) -> FileData:
    resources = scan.resources
    chosen = resources.get("DICOM") or (resources[0] if len(resources) else None)
    if chosen is None:
        raise XNATValueError(f"scan {scan.uri} has no resources to read DICOM from")
    files = chosen.files
    if not len(files):
        raise XNATValueError(f"resource {chosen.uri} has no files")
    return files[0]


def _check_remote_path(remotepath: str) -> None:
    parts = remotepath.split("/")
    if not remotepath or remotepath.startswith("/") or ".." in parts or "\0" in remotepath:
        raise XNATValueError(f"remote path {remotepath!r} must be relative, without '..' or NUL")
