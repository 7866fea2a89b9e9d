"""session.services against the emulator over loopback: DICOM import (archive, prearchive,
directories, tarballs, several studies), its error paths, DICOM dumps, alias tokens and catalog
refreshes."""

from __future__ import annotations

import datetime
import hashlib
import sys
import tempfile
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk import PrearchiveSession, TokenResult
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.emulator.server import Emulator
from xnat_sdk.models import CtSessionData, MrSessionData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
from dicom_factory import Study, make_series, pack_tar, pack_zip


def series_files(
    directory: Path, study: Study, *, modality: str = "MR", series: int = 2
) -> list[Path]:
    files: list[Path] = []
    for number in range(1, series + 1):
        files += make_series(
            directory / f"s{number}",
            study,
            modality=modality,
            series_number=number,
            series_description=f"SERIES{number}",
        )
    return files


@pytest.fixture
def project(session: xnat_sdk.XNATSession) -> str:
    session.projects.create("P1")
    return "P1"


def test_import_to_the_archive_returns_the_typed_experiment(
    session: xnat_sdk.XNATSession, project: str, tmp_path: Path
) -> None:
    zipped = pack_zip(
        series_files(tmp_path / "d", Study(patient_name="Doe^A", patient_id="MR_A")),
        tmp_path / "a.zip",
    )
    experiment = session.services.import_(zipped, project=project, destination="/archive")
    assert isinstance(experiment, MrSessionData)
    assert experiment.uri == "/data/projects/P1/subjects/Doe_A/experiments/MR_A"
    assert experiment.date == datetime.date(2024, 1, 2)
    assert sorted(experiment.scans.keys()) == ["1", "2"]
    files = experiment.scans["1"].resources["DICOM"].files
    assert len(files) == 2
    # The listing caches were dropped: the project shows the new subject at once.
    assert [s.label for s in session.projects[project].subjects] == ["Doe_A"]
    assert session.prearchive.sessions() == []


def test_import_overrides_labels_and_reads_tarballs(
    session: xnat_sdk.XNATSession, project: str, tmp_path: Path
) -> None:
    tarball = pack_tar(
        series_files(tmp_path / "d", Study(patient_id="CT_X"), modality="CT", series=1),
        tmp_path / "ct.tar.gz",
        gzip=True,
    )
    experiment = session.services.import_(
        tarball, project=project, subject="SUBJ1", experiment="CT_VISIT1", destination="archive"
    )
    assert isinstance(experiment, CtSessionData)
    assert experiment.uri == "/data/projects/P1/subjects/SUBJ1/experiments/CT_VISIT1"


def test_import_to_the_prearchive_returns_the_session(
    session: xnat_sdk.XNATSession, project: str, tmp_path: Path
) -> None:
    single = series_files(tmp_path / "d", Study(patient_id="MR_ONE"), series=1)[0]
    received = session.services.import_(single, project=project, destination="/prearchive")
    assert isinstance(received, PrearchiveSession)
    assert (received.project, received.name, received.status) == ("P1", "MR_ONE", "READY")
    assert [len(scan.files) for scan in received.scans] == [1]

    unassigned = session.services.import_(
        pack_zip(series_files(tmp_path / "u", Study(patient_id="MR_U")), tmp_path / "u.zip")
    )
    assert isinstance(unassigned, PrearchiveSession)
    assert unassigned.project == "Unassigned"


def test_import_sessions_answers_every_study(
    session: xnat_sdk.XNATSession, project: str, tmp_path: Path
) -> None:
    files = series_files(tmp_path / "a", Study(patient_id="MR_A"), series=1)
    files += make_series(tmp_path / "b", Study(patient_id="MR_B"), series_number=7)
    results = session.services.import_sessions(
        pack_zip(files, tmp_path / "two.zip"), project=project, destination="/archive"
    )
    assert sorted(r.label for r in results if isinstance(r, MrSessionData)) == ["MR_A", "MR_B"]
    assert len(results) == 2


def test_import_dir_packs_a_temporary_zip_and_deletes_it(
    session: xnat_sdk.XNATSession,
    project: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "export"
    series_files(source / "nested", Study(patient_id="MR_DIR"))
    temp_root = tmp_path / "temp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    experiment = session.services.import_dir(source, project=project, destination="/archive")
    assert isinstance(experiment, MrSessionData)
    assert experiment.label == "MR_DIR"
    assert sum(len(scan.resources["DICOM"].files) for scan in experiment.scans) == 4
    assert list(temp_root.iterdir()) == []


def test_import_of_a_non_dicom_file_is_refused(
    session: xnat_sdk.XNATSession, project: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a DICOM file\n")
    with pytest.raises(xnat_sdk.XNATResponseError) as caught:
        session.services.import_(notes, project=project, destination="/archive")
    assert caught.value.status_code == 400
    assert "DICOM" in caught.value.message or "import" in caught.value.message
    assert session.prearchive.sessions() == []
    assert len(session.projects[project].experiments) == 0

    mixed = pack_zip(
        [*series_files(tmp_path / "d", Study(patient_id="MR_M")), notes], tmp_path / "m.zip"
    )
    with pytest.raises(xnat_sdk.XNATResponseError, match="400"):
        session.services.import_(mixed, project=project, destination="/archive")
    kept = session.services.import_(
        mixed, project=project, destination="/archive", ignore_unparsable=True
    )
    assert kept.label == "MR_M"


def test_import_argument_errors_send_nothing(
    session: xnat_sdk.XNATSession, project: str, tmp_path: Path
) -> None:
    with pytest.raises(xnat_sdk.XNATValueError, match="not a file"):
        session.services.import_(tmp_path / "missing.zip", project=project)
    with pytest.raises(xnat_sdk.XNATValueError, match="not a directory"):
        session.services.import_dir(tmp_path / "missing", project=project)
    (tmp_path / "empty").mkdir()
    with pytest.raises(xnat_sdk.XNATValueError, match="holds no files"):
        session.services.import_dir(tmp_path / "empty", project=project)
    upload = pack_zip(series_files(tmp_path / "d", Study()), tmp_path / "x.zip")
    with pytest.raises(xnat_sdk.XNATValueError, match="must start with /archive or /prearchive"):
        session.services.import_(upload, destination="/elsewhere")
    with pytest.raises(xnat_sdk.XNATInvalidLabelError, match=r"'\.'"):
        session.services.import_(upload, project=project, experiment="visit.1")
    with pytest.raises(xnat_sdk.XNATNotFoundError, match="NOPE"):
        session.services.import_(upload, project="NOPE", destination="/archive")


def test_dicom_dump_of_archived_and_prearchived_data(
    session: xnat_sdk.XNATSession, project: str, tmp_path: Path
) -> None:
    upload = pack_zip(
        series_files(tmp_path / "d", Study(patient_name="Doe^D", patient_id="MR_D")),
        tmp_path / "d.zip",
    )
    experiment = session.services.import_(upload, project=project, destination="/archive")
    by_object = session.services.dicom_dump(experiment, ["PatientName"])
    assert [(r["tag1"], r["vr"], r["value"]) for r in by_object] == [("(0010,0010)", "PN", "Doe^D")]
    by_path = session.services.dicom_dump(
        "/archive/projects/P1/experiments/MR_D/scans/2", fields=["0008103E"]
    )
    assert [r["value"] for r in by_path] == ["SERIES2"]
    everything = session.services.dicom_dump(experiment.scans["1"])
    assert {"(0010,0020)", "(0020,000D)"} <= {r["tag1"] for r in everything}

    received = session.services.import_(upload, project=project, destination="/prearchive")
    rows = session.services.dicom_dump(received, ["PatientID"])
    assert [r["value"] for r in rows] == ["MR_D"]
    with pytest.raises(xnat_sdk.XNATValueError, match="names no archived or prearchived"):
        session.services.dicom_dump("/somewhere/else")
    with pytest.raises(xnat_sdk.XNATResponseError, match="Unknown DICOM field"):
        session.services.dicom_dump(experiment, ["NoSuchKeyword"])


def test_issue_token_logs_in_and_hides_its_secret(session: xnat_sdk.XNATSession) -> None:
    token = session.services.issue_token()
    assert isinstance(token, TokenResult)
    alias, secret = token
    assert alias and secret and alias != secret
    assert secret not in repr(token) and secret not in str(token)
    assert alias in repr(token)
    with xnat_sdk.connect(session.server, alias, secret, keepalive=None) as by_token:
        assert by_token.logged_in_user == session.logged_in_user


def test_issue_token_for_another_user_needs_admin(tmp_path: Path) -> None:
    with Emulator(tmp_path / "data", users={"bob": "bob-pw"}) as emulator:
        admin_login, admin_password = emulator.admin
        with xnat_sdk.connect(emulator.url, admin_login, admin_password, keepalive=None) as admin:
            for_bob = admin.services.issue_token("bob")
        with xnat_sdk.connect(emulator.url, for_bob.alias, for_bob.secret, keepalive=None) as s:
            assert s.logged_in_user == "bob"
        with xnat_sdk.connect(emulator.url, "bob", "bob-pw", keepalive=None) as bob:
            with pytest.raises(xnat_sdk.XNATForbiddenError) as caught:
                bob.services.issue_token(user=admin_login)
            assert caught.value.status_code == 403
            own = bob.services.issue_token()
        with xnat_sdk.connect(emulator.url, own.alias, own.secret, keepalive=None) as s:
            assert s.logged_in_user == "bob"


def test_refresh_catalog_rereads_changed_files(
    session: xnat_sdk.XNATSession,
    project: str,
    xnat_emulator: EmulatorHandle,
    tmp_path: Path,
) -> None:
    data_dir = xnat_emulator.data_dir
    subject = session.projects[project].subjects.create("S1")
    experiment = subject.experiments.create_as(MrSessionData, "S1_MR")
    resource = experiment.create_resource("NOTES", format="TXT")
    original = b"catalogued content " + tmp_path.name.encode()
    resource.upload(original, "note.txt")
    before = resource.files["note.txt"]
    assert before.digest == hashlib.md5(original).hexdigest()

    # A file changed behind XNAT's back (what the refresh exists for): the server cannot be
    # asked to do that, so the test rewrites the stored content itself.
    stored = [p for p in data_dir.rglob("*") if p.is_file() and p.read_bytes() == original]
    assert len(stored) == 1
    changed = b"changed on disk, longer than before"
    stored[0].write_bytes(changed)
    assert resource.files["note.txt"].digest == before.digest  # the catalog still says old

    session.services.refresh_catalog(resource, checksum=True)
    after = resource.files["note.txt"]
    assert after.digest == hashlib.md5(changed).hexdigest()
    assert after.size == len(changed)
    with pytest.raises(xnat_sdk.XNATNotFoundError):
        session.services.refresh_catalog(f"{experiment.uri}/resources/MISSING")
