"""``project.scan_files()``: every file of a project's scans in a number of requests that grows
with the tree's levels, not its objects, and the same files a nested walk finds."""

from __future__ import annotations

import httpx
import pytest

import xnat_sdk
from xnat_sdk import tree
from xnat_sdk.models import (
    CtScanData,
    CtSessionData,
    ImageSessionData,
    MrScanData,
    MrSessionData,
    ProjectData,
    SubjectVariablesData,
)

SUBJECTS, SCANS, FILES = 3, 2, 2


@pytest.fixture
def archive(session: xnat_sdk.XNATSession) -> xnat_sdk.XNATSession:
    """A project of 3 subjects x (MR, CT and a non-image session): 2 scans x 2 files in each
    image session, plus a session-level resource (not a scan file) and a second project."""
    project = session.projects.create("TREE", name="Tree walk")
    for s in range(SUBJECTS):
        subject = project.subjects.create(f"S{s}")
        mr = subject.experiments.create_as(MrSessionData, f"S{s}_MR")
        ct = subject.experiments.create_as(CtSessionData, f"S{s}_CT")
        subject.experiments.create_as(SubjectVariablesData, f"S{s}_VARS")
        for experiment, scan_type in ((mr, MrScanData), (ct, CtScanData)):
            for n in range(1, SCANS + 1):
                scan = experiment.scans.create_as(scan_type, str(n), type=f"T{n}")
                resource = scan.create_resource("DICOM")
                for f in range(FILES):
                    resource.upload(f"{experiment.label}/{n}/{f}".encode(), f"dir/{f}.dcm")
        notes = mr.create_resource("NOTES")
        notes.upload(b"session-level", "notes.txt")
    other = session.projects.create("OTHER", name="Another project")
    other.subjects.create("X0").experiments.create_as(MrSessionData, "X0_MR")
    session.clearcache()
    return session


def count_requests(session: xnat_sdk.XNATSession) -> list[str]:
    seen: list[str] = []

    def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    session.interface.event_hooks["request"].append(hook)
    return seen


def nested_walk(project: ProjectData) -> set[tuple[str, str, str, str, str]]:
    """(subject label, session label, scan ID, resource label, path), the object-by-object way."""
    found: set[tuple[str, str, str, str, str]] = set()
    for subject in project.subjects:
        for experiment in subject.experiments:
            if not isinstance(experiment, ImageSessionData):
                continue
            for scan in experiment.scans:
                for resource in scan.resources:
                    for file in resource.files:
                        label = resource.label or ""
                        entry = (subject.label or "", experiment.label or "", scan.id or "")
                        found.add((*entry, label, file.path))
    return found


def test_scan_files_find_what_a_nested_walk_finds_in_two_requests(
    archive: xnat_sdk.XNATSession,
) -> None:
    requests = count_requests(archive)
    files = archive.projects["TREE"].scan_files()
    assert len(requests) == 3  # the project itself, its sessions, their scan files
    assert requests[1] == "/data/projects/TREE/experiments"
    assert requests[2].endswith("/scans/ALL/resources/ALL/files")
    walked = {
        (f.subject_label, f.experiment.label or "", f.scan_id, f.resource, f.path) for f in files
    }
    assert len(files) == SUBJECTS * 2 * SCANS * FILES == len(walked)
    del requests[:]
    assert walked == nested_walk(archive.projects["TREE"])
    # subjects, then per subject its sessions, per image session its scans, per scan its
    # resources and per resource its files: one request per object on the way down
    sessions, scans = 2 * SUBJECTS, 2 * SUBJECTS * SCANS
    assert len(requests) == 1 + SUBJECTS + sessions + 2 * scans


def test_scan_files_are_typed_bound_and_downloadable(archive: xnat_sdk.XNATSession) -> None:
    files = archive.projects["TREE"].scan_files()
    by_kind = {type(f.experiment) for f in files}
    assert by_kind == {MrSessionData, CtSessionData}
    first = next(f for f in files if f.experiment.label == "S1_CT" and f.scan_id == "2")
    assert first.subject_label == "S1" and first.subject_id.startswith("XNAT_S")
    assert first.experiment.subject_id == first.subject_id  # filled from the row, no fetch
    assert first.resource == "DICOM" and first.path.startswith("dir/")
    assert first.file.size == len(f"S1_CT/2/{first.path[4]}".encode())
    assert first.file.read() == f"S1_CT/2/{first.path[4]}".encode()
    scan = first.experiment.scans["2"]
    assert isinstance(scan, CtScanData) and scan.type == "T2"


def test_many_sessions_are_batched_by_url_length(
    archive: xnat_sdk.XNATSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tree, "MAX_ID_CHARS", 30)  # two session IDs per request
    requests = count_requests(archive)
    files = archive.projects["TREE"].scan_files()
    assert len(files) == SUBJECTS * 2 * SCANS * FILES
    file_requests = [path for path in requests if path.endswith("/files")]
    assert len(file_requests) == SUBJECTS  # 6 image sessions, 2 per request
    assert all(path.count(",") == 1 for path in file_requests)


def test_a_project_without_image_sessions_costs_one_listing(
    session: xnat_sdk.XNATSession,
) -> None:
    session.projects.create("EMPTY", name="Nothing scanned")
    session.projects["EMPTY"].subjects.create("S").experiments.create_as(
        SubjectVariablesData, "S_VARS"
    )
    session.clearcache()
    project = session.projects["EMPTY"]
    requests = count_requests(session)
    assert project.scan_files() == []
    assert requests == ["/data/projects/EMPTY/experiments"]


def test_batches_keep_every_id_once_in_order() -> None:
    ids = [f"XNAT_E{n:05d}" for n in range(1000)]
    batches = list(tree._batches(ids, limit=100))  # pyright: ignore[reportPrivateUsage]  # the batching rule itself
    assert [one for batch in batches for one in batch] == ids
    assert all(len(",".join(batch)) <= 100 for batch in batches)
    assert len(batches) == 1000 // 8  # 8 IDs of 11 characters and 7 commas: 95 of 100
