"""session.prearchive against the emulator over loopback: listing, typed values, scans and
files, and the actions (archive, move, rebuild, delete) with their error paths."""

from __future__ import annotations

import datetime
import io
import sys
import zipfile
from pathlib import Path
from typing import get_args

import pydicom
import pytest

import xnat_sdk
from xnat_sdk import PrearchiveSession, PrearchiveStatus, PrearchiveStatusError
from xnat_sdk.emulator.prearchive import PrearchiveStore
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.models import MrSessionData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
from dicom_factory import Study, make_series, pack_zip


def upload_zip(tmp_path: Path, study: Study, name: str = "upload", series: int = 2) -> Path:
    """A zip of ``series`` two-file series of ``study``, as a scanner export would be."""
    files: list[Path] = []
    for number in range(1, series + 1):
        files += make_series(
            tmp_path / name / f"s{number}",
            study,
            series_number=number,
            series_description=f"SERIES{number}",
        )
    return pack_zip(files, tmp_path / f"{name}.zip")


@pytest.fixture
def staged(session: xnat_sdk.XNATSession, tmp_path: Path) -> PrearchiveSession:
    """One study of two series, received into the prearchive of project P1."""
    for project in ("P1", "P2"):
        session.projects.create(project)
    study = Study(patient_name="Doe^A", patient_id="MR_A")
    return session.services.import_(
        upload_zip(tmp_path, study), project="P1", destination="/prearchive"
    )


def test_sessions_lists_typed_values(
    session: xnat_sdk.XNATSession, staged: PrearchiveSession
) -> None:
    listed = session.prearchive.sessions()
    assert listed == [staged]
    found = listed[0]
    assert (found.project, found.subject, found.name, found.label) == (
        "P1",
        "Doe_A",
        "MR_A",
        "MR_A",
    )
    assert found.status == "READY"
    assert found.status in get_args(PrearchiveStatus)
    assert found.id == f"P1/{found.data['timestamp']}/MR_A"
    assert found.uri == f"/data/prearchive/projects/{found.id}"
    assert found.scan_date == datetime.date(2024, 1, 2)
    assert found.scan_time == datetime.time(9, 30, 15, 250000)
    assert isinstance(found.uploaded, datetime.datetime)
    assert isinstance(found.lastmod, datetime.datetime)
    assert isinstance(found.timestamp, datetime.datetime)
    # The folder timestamp and the upload time name the same moment (to the second).
    assert abs((found.uploaded - found.timestamp).total_seconds()) < 2
    assert found.prevent_anon is False and found.prevent_auto_commit is False
    assert found.tag  # the Study Instance UID


def test_sessions_filters_by_project_and_is_never_cached(
    session: xnat_sdk.XNATSession, staged: PrearchiveSession, tmp_path: Path
) -> None:
    prearchive = session.prearchive
    assert prearchive is session.prearchive
    assert prearchive.sessions("P2") == []
    second = session.services.import_(
        upload_zip(tmp_path, Study(patient_name="Roe^B", patient_id="MR_B"), "b"),
        project="P2",
        destination="/prearchive",
    )
    assert prearchive.sessions("P2") == [second]
    assert sorted(s.name for s in prearchive.sessions()) == ["MR_A", "MR_B"]
    assert prearchive.find(subject="Roe_B") == [second]
    assert prearchive.find(project="P1", session="MR_B") == []


def test_scans_files_and_downloads(
    session: xnat_sdk.XNATSession, staged: PrearchiveSession, tmp_path: Path
) -> None:
    originals = {p.read_bytes() for p in (tmp_path / "upload").rglob("*.dcm")}
    scans = staged.scans
    assert [(s.id, s.series_description, s.xsi_type) for s in scans] == [
        ("1", "SERIES1", "xnat:mrScanData"),
        ("2", "SERIES2", "xnat:mrScanData"),
    ]
    files = scans[0].files
    assert len(files) == 2
    assert all(f.size == len(f.open().read()) for f in files)
    target = files[0].download(tmp_path / "out" / "first.dcm")
    assert target.read_bytes() in originals
    with files[1].open() as stream:
        assert stream.read() in originals

    scan_zip = scans[1].download(tmp_path / "scan2.zip")
    with zipfile.ZipFile(scan_zip) as archive:
        assert len(archive.namelist()) == 2
        assert all(archive.read(name) in originals for name in archive.namelist())
    session_zip = staged.download(tmp_path / "session.zip")
    with zipfile.ZipFile(session_zip) as archive:
        contents = [archive.read(name) for name in archive.namelist() if name.endswith(".dcm")]
    assert set(contents) == originals


def test_scan_dicom_dump_and_read_dicom(staged: PrearchiveSession) -> None:
    scan = staged.scans[0]
    rows = scan.dicom_dump(["PatientName", "00100020"])
    assert {row["tag1"]: row["value"] for row in rows} == {
        "(0010,0010)": "Doe^A",
        "(0010,0020)": "MR_A",
    }
    dataset = scan.read_dicom()
    assert str(dataset.PatientName) == "Doe^A"
    assert "PixelData" not in dataset
    with_pixels = scan.read_dicom(scan.files[1], read_pixel_data=True)
    assert with_pixels.PixelData == bytes(range(32))
    other_scan_file = staged.scans[1].files[0]
    with pytest.raises(xnat_sdk.XNATValueError, match="is not a file of prearchive scan"):
        scan.read_dicom(other_scan_file)
    assert isinstance(dataset, pydicom.Dataset)


def test_archive_returns_the_typed_experiment(
    session: xnat_sdk.XNATSession, staged: PrearchiveSession
) -> None:
    experiment = staged.archive()
    assert isinstance(experiment, MrSessionData)
    assert experiment.label == "MR_A"
    assert experiment.uri == "/data/projects/P1/subjects/Doe_A/experiments/MR_A"
    assert experiment.date == datetime.date(2024, 1, 2)
    assert sorted(experiment.scans.keys()) == ["1", "2"]
    assert session.prearchive.sessions() == []
    assert session.projects["P1"].subjects["Doe_A"].experiments["MR_A"].id == experiment.id


def test_archive_with_overrides(session: xnat_sdk.XNATSession, staged: PrearchiveSession) -> None:
    experiment = staged.archive(project="P2", subject="SUBJ9", experiment="VISIT9")
    assert experiment.uri == "/data/projects/P2/subjects/SUBJ9/experiments/VISIT9"
    assert experiment.project == session.projects["P2"].id


def test_archive_into_a_missing_project_fails_and_keeps_the_session(
    session: xnat_sdk.XNATSession, staged: PrearchiveSession
) -> None:
    with pytest.raises(xnat_sdk.XNATNotFoundError, match="NOPE"):
        staged.archive(project="NOPE")
    remaining = session.prearchive.sessions()
    assert remaining == [staged]
    assert len(remaining[0].scans) == 2


def test_archive_conflict_then_overwrite(session: xnat_sdk.XNATSession, tmp_path: Path) -> None:
    session.projects.create("P1")
    study = Study(patient_name="Doe^A", patient_id="MR_A")
    zipped = upload_zip(tmp_path, study)
    first = session.services.import_(zipped, project="P1", destination="/prearchive")
    second = session.services.import_(zipped, project="P1", destination="/prearchive")
    first.archive()
    with pytest.raises(xnat_sdk.XNATConflictError, match="already exists"):
        second.archive()
    conflicted = second.refresh()
    assert conflicted.status == "CONFLICT"
    with pytest.raises(xnat_sdk.XNATConflictError, match="Scan 1 already exists"):
        conflicted.archive(overwrite="append")
    replaced = conflicted.archive(overwrite="delete")
    assert isinstance(replaced, MrSessionData)
    assert sorted(replaced.scans.keys()) == ["1", "2"]
    assert session.prearchive.sessions() == []


@pytest.mark.parametrize("busy", ["BUILDING", "ARCHIVING", "_MOVING", "QUEUED_DELETING"])
def test_actions_in_a_wrong_status_raise_before_sending(
    session: xnat_sdk.XNATSession,
    xnat_emulator: EmulatorHandle,
    staged: PrearchiveSession,
    busy: PrearchiveStatus,
) -> None:
    # A busy status cannot be produced on demand (the emulator works synchronously): set it in
    # the server's own store, as a running XNAT operation would.
    store = PrearchiveStore(xnat_emulator.data_dir)
    store.set_status(store.get_by_url(staged.uri), busy)
    with pytest.raises(PrearchiveStatusError, match=f"its status is {busy}") as caught:
        staged.archive()
    assert caught.value.status == busy
    assert caught.value.action == "archive"
    assert isinstance(caught.value, xnat_sdk.XNATError)
    for action in (staged.delete, staged.rebuild, lambda: staged.move("P2")):
        with pytest.raises(PrearchiveStatusError, match=busy):
            action()
    # Nothing was done: the session is still there, in the same status.
    assert [s.status for s in session.prearchive.sessions("P1")] == [busy]


def test_invalid_labels_are_refused_before_sending(
    session: xnat_sdk.XNATSession, staged: PrearchiveSession
) -> None:
    with pytest.raises(xnat_sdk.XNATInvalidLabelError, match="'/'"):
        staged.archive(subject="a/b")
    with pytest.raises(xnat_sdk.XNATInvalidLabelError, match="' '"):
        staged.move("P 2")
    assert session.prearchive.sessions("P1") == [staged]
    assert staged.refresh().status == "READY"


def test_move_rebuild_delete(session: xnat_sdk.XNATSession, staged: PrearchiveSession) -> None:
    moved = staged.move("P2")
    assert moved.project == "P2"
    assert moved.status == "READY"
    assert session.prearchive.sessions("P1") == []
    assert session.prearchive.sessions("P2") == [moved]
    with pytest.raises(xnat_sdk.XNATNotFoundError):
        moved.move("MISSING")

    rebuilt = moved.rebuild()
    assert rebuilt.status == "READY"
    assert [s.id for s in rebuilt.scans] == ["1", "2"]

    rebuilt.delete()
    assert session.prearchive.sessions() == []
    with pytest.raises(xnat_sdk.XNATNotFoundError):
        rebuilt.delete()


def test_a_member_sees_only_the_prearchive_of_projects_they_may_write(
    tmp_path: Path,
) -> None:
    from xnat_sdk.emulator.server import Emulator

    with Emulator(tmp_path / "data", users={"alice": "alice-pw"}) as emulator:
        admin_login, admin_password = emulator.admin
        with xnat_sdk.connect(emulator.url, admin_login, admin_password, keepalive=None) as admin:
            admin.projects.create("P1")
            admin.projects.create("P2")
            admin.put("/data/projects/P1/users/Members/alice")
            for project in ("P1", "P2"):
                admin.services.import_(
                    upload_zip(tmp_path, Study(patient_id=f"MR_{project}"), project),
                    project=project,
                    destination="/prearchive",
                )
        with xnat_sdk.connect(emulator.url, "alice", "alice-pw", keepalive=None) as alice:
            assert [s.project for s in alice.prearchive.sessions()] == ["P1"]
            assert alice.prearchive.sessions("P2") == []


def test_file_open_reads_in_parts(staged: PrearchiveSession) -> None:
    # open() gives a readable stream: reading it in parts yields the whole file.
    file = staged.scans[0].files[0]
    with file.open() as stream:
        head = stream.read(128)
        rest = stream.read()
    assert pydicom.dcmread(io.BytesIO(head + rest)).PatientID == "MR_A"
