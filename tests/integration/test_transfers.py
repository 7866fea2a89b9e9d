"""Transfers over loopback: uploads, downloads (atomic, verified), zips, directory trees, and
the operations built on them (resources, share, assessors, DICOM)."""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk import FileData, transfer
from xnat_sdk.models import (
    AbstractResource,
    ImageSessionData,
    MrScanData,
    MrSessionData,
    QcAssessmentData,
    SubjectData,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from sample_data import ScanPlan, dicom_slice


@pytest.fixture
def mr(session: xnat_sdk.XNATSession) -> Iterator[MrSessionData]:
    project = session.projects.create("XFER", name="Transfers")
    subject = project.subjects.create("S01")
    yield subject.experiments.create_as(MrSessionData, "S01_MR")


@pytest.fixture
def resource(mr: MrSessionData) -> AbstractResource:
    return mr.create_resource("DATA", format="TXT")


def _tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha",
        "sub/b.txt": b"bravo" * 1000,
        "sub/deeper/c.bin": bytes(range(256)) * 64,
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_upload_and_download_one_file(resource: AbstractResource, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"x" * 100_000)
    resource.upload(source, "folder/in.bin")
    resource.upload(b"from bytes", "bytes.txt")
    assert sorted(resource.files.keys()) == ["bytes.txt", "folder/in.bin"]
    stored = resource.files["folder/in.bin"]
    assert stored.size == 100_000
    assert stored.digest in (None, hashlib.md5(source.read_bytes()).hexdigest())
    target = resource.download("folder/in.bin", tmp_path / "out.bin")
    assert target.read_bytes() == source.read_bytes()
    assert resource.files["bytes.txt"].read() == b"from bytes"


def test_upload_refuses_to_overwrite_unless_asked(resource: AbstractResource) -> None:
    resource.upload(b"one", "same.txt")
    with pytest.raises(xnat_sdk.XNATResponseError) as caught:
        resource.upload(b"two", "same.txt")
    assert caught.value.status_code in (400, 409)
    resource.upload(b"two", "same.txt", overwrite=True)
    assert resource.files["same.txt"].read() == b"two"


@pytest.mark.parametrize("method", transfer.UPLOAD_METHODS)
def test_upload_dir_with_every_method(
    mr: MrSessionData, tmp_path: Path, method: transfer.UploadMethod
) -> None:
    files = _tree(tmp_path / "tree")
    target = mr.create_resource(f"TREE_{method.upper()}")
    target.upload_dir(tmp_path / "tree", method=method)
    assert sorted(target.files.keys()) == sorted(files)
    out = target.download_dir(tmp_path / "out")
    downloaded = {path.name: path.read_bytes() for path in out}
    assert downloaded == {Path(name).name: data for name, data in files.items()}


def test_download_with_wrong_digest_leaves_nothing(
    session: xnat_sdk.XNATSession, resource: AbstractResource, tmp_path: Path
) -> None:
    resource.upload(b"payload", "p.txt")
    uri = resource.files["p.txt"].uri
    target_dir = tmp_path / "downloads"
    target_dir.mkdir()
    with pytest.raises(xnat_sdk.XNATDigestError, match="md5"):
        transfer.download_file(session, uri, target_dir / "p.txt", expected_md5="0" * 32)
    assert list(target_dir.iterdir()) == []


def test_file_download_is_checked_against_the_catalog_digest(
    session: xnat_sdk.XNATSession, resource: AbstractResource, tmp_path: Path
) -> None:
    resource.upload(b"payload", "p.txt")
    listed = resource.files["p.txt"]
    assert listed.digest == hashlib.md5(b"payload").hexdigest()
    assert listed.download(tmp_path).read_bytes() == b"payload"
    tampered = FileData(session, listed.uri, path=listed.path, digest="0" * 32)
    target_dir = tmp_path / "tampered"
    target_dir.mkdir()
    with pytest.raises(xnat_sdk.XNATDigestError, match="md5"):
        tampered.download(target_dir)
    assert list(target_dir.iterdir()) == []


def test_download_stream_reports_progress_xnatpy_style(
    session: xnat_sdk.XNATSession, resource: AbstractResource
) -> None:
    resource.upload(b"z" * 300_000, "big.bin")
    calls: list[tuple[int, int | None, bool]] = []
    sink = io.BytesIO()
    count = session.download_stream(
        resource.files["big.bin"].uri,
        sink,
        chunk_size=65536,
        update_func=lambda done, total, finished: calls.append((done, total, finished)),
    )
    assert count == 300_000 == len(sink.getvalue())
    assert calls[-1] == (300_000, 300_000, True)
    assert [done for done, _, finished in calls if not finished] == sorted(
        done for done, _, finished in calls if not finished
    )


def test_download_zip_of_a_resource(
    session: xnat_sdk.XNATSession, resource: AbstractResource, tmp_path: Path
) -> None:
    resource.upload(b"zipped", "z.txt")
    target = session.download_zip(f"{resource.uri}/files", tmp_path / "r.zip", verbose=False)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
    assert any(name.endswith("z.txt") for name in names)


def test_session_upload_helper_accepts_stream(
    session: xnat_sdk.XNATSession, resource: AbstractResource
) -> None:
    session.upload(f"{resource.uri}/files/stream.txt", io.BytesIO(b"streamed"))
    assert resource.files["stream.txt"].read() == b"streamed"


def test_remote_paths_that_escape_are_refused(resource: AbstractResource) -> None:
    for bad in ("../x", "/abs", "a/../../b", "nul\0name"):
        with pytest.raises(xnat_sdk.XNATValueError):
            resource.upload(b"x", bad)


def test_subject_and_project_download_dir_layout(
    session: xnat_sdk.XNATSession, mr: MrSessionData, tmp_path: Path
) -> None:
    scan = mr.scans.create_as(MrScanData, "1", type="T1w")
    dicom = scan.create_resource("DICOM", format="DICOM")
    data = dicom_slice("P", "S01_MR", ScanPlan("1", "T1w", 1), 0, "1.2.3", "1.2.3.4")
    dicom.upload(data, "0001.dcm")
    project = session.projects["XFER"]
    project_dir = project.download_dir(tmp_path)
    assert project_dir == tmp_path / "Transfers"
    files = [p.relative_to(project_dir).parts for p in project_dir.rglob("*.dcm")]
    assert len(files) == 1
    assert files[0][:3] == ("S01", "S01_MR", "scans")
    subject = project.subjects["S01"]
    assert isinstance(subject, SubjectData)
    subject_dir = subject.download_dir(tmp_path / "subject")
    assert len(list(subject_dir.rglob("*.dcm"))) == 1


def test_dicom_dump_and_read_dicom(mr: MrSessionData) -> None:
    scan = mr.scans.create_as(MrScanData, "3", type="T2w")
    dicom = scan.create_resource("DICOM", format="DICOM")
    data = dicom_slice("Doe^J", "S01_MR", ScanPlan("3", "T2w", 1), 0, "1.2.3", "1.2.3.5")
    dicom.upload(data, "0001.dcm")
    dataset = scan.read_dicom()
    assert dataset.SeriesDescription == "T2w"
    assert "PixelData" not in dataset
    with_pixels = scan.read_dicom(read_pixel_data=True)
    assert len(with_pixels.PixelData) == 16
    rows = scan.dicom_dump()
    assert any(row.get("value") == "T2w" for row in rows)


def test_share_into_another_project(session: xnat_sdk.XNATSession, mr: MrSessionData) -> None:
    session.projects.create("OTHER", name="Other")
    mr.share("OTHER", label="SHARED_MR")
    session.clearcache()
    shared = session.projects["OTHER"].experiments["SHARED_MR"]
    assert shared.id == mr.id


def test_create_assessor(mr: ImageSessionData) -> None:
    assessor = mr.create_assessor("QC1", QcAssessmentData)
    assert isinstance(assessor, QcAssessmentData)
    assert mr.assessors["QC1"].id == assessor.id


def test_upload_zip_with_extract_unpacks_on_the_server(resource: AbstractResource) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x/one.txt", "1")
        archive.writestr("two.txt", "2")
    resource.upload(buffer.getvalue(), "bundle.zip", extract=True)
    assert sorted(resource.files.keys()) == ["two.txt", "x/one.txt"]
    assert resource.files["x/one.txt"].read() == b"1"


def test_dicom_dump_limited_to_fields(mr: MrSessionData) -> None:
    scan = mr.scans.create_as(MrScanData, "4", type="T1w")
    dicom = scan.create_resource("DICOM", format="DICOM")
    data = dicom_slice("Doe^J", "S01_MR", ScanPlan("4", "T1w", 1), 0, "1.2.3", "1.2.3.6")
    dicom.upload(data, "0001.dcm")
    rows = scan.dicom_dump(fields=["SeriesDescription", "00080060"])
    values = sorted(row.get("value", "") for row in rows)
    assert values == ["MR", "T1w"]
