"""xnatpy 0.8.1 (PyPI ``xnat``) against the emulator: the calls its users make every day.

xnatpy is untyped; its objects are used through ``Any`` here on purpose (this file checks the
emulator's answers, not xnatpy's types).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dicom_samples import sample_series, zip_files

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle

xnat: Any = pytest.importorskip("xnat", reason="xnatpy is a development dependency")


@pytest.fixture
def session(xnat_emulator: EmulatorHandle) -> Iterator[Any]:
    connection = xnat.connect(
        xnat_emulator.url, user=xnat_emulator.user, password=xnat_emulator.password
    )
    try:
        yield connection
    finally:
        connection.disconnect()


def make_project(session: Any, name: str = "PROJ1") -> Any:
    session.put(f"/data/projects/{name}")
    session.clearcache()
    return session.projects[name]


def test_connect_reads_version_and_schemas(session: Any) -> None:
    assert session.xnat_version.startswith("1.8")
    assert "xnat:mrSessionData" in session.XNAT_CLASS_LOOKUP
    assert len(session.projects) == 0


def test_create_project_subject_session_scans_and_fields(session: Any) -> None:
    project = make_project(session)
    assert project.id == "PROJ1"
    subject = session.classes.SubjectData(parent=project, label="SUBJ1")
    assert subject.label == "SUBJ1"
    assert subject.id.startswith("XNAT_S")
    experiment = session.classes.MrSessionData(parent=subject, label="SUBJ1_MR1")
    experiment.date = "2024-01-02"
    scan = session.classes.MrScanData(parent=experiment, id="1", type="T1w")
    scan.series_description = "T1 MPRAGE"
    subject.fields["age_group"] = "adult"

    session.clearcache()
    fresh = session.projects["PROJ1"].subjects["SUBJ1"]
    assert fresh.fields["age_group"] == "adult"
    fresh_experiment = fresh.experiments["SUBJ1_MR1"]
    assert fresh_experiment.__xsi_type__ == "xnat:mrSessionData"
    assert str(fresh_experiment.date) == "2024-01-02"
    assert list(fresh_experiment.scans.keys()) == ["1"]
    assert fresh_experiment.scans["1"].type == "T1w"
    assert fresh_experiment.scans["1"].series_description == "T1 MPRAGE"
    assert session.experiments[experiment.id].label == "SUBJ1_MR1"


def test_upload_and_download_resource_files_and_zips(session: Any, tmp_path: Path) -> None:
    project = make_project(session)
    subject = session.classes.SubjectData(parent=project, label="S1")
    experiment = session.classes.MrSessionData(parent=subject, label="S1_MR")
    scan = session.classes.MrScanData(parent=experiment, id="2", type="rest")
    resource = scan.create_resource("NIFTI")
    payload = bytes(range(256)) * 64
    source = tmp_path / "image.nii"
    source.write_bytes(payload)
    resource.upload(str(source), "sub/image.nii")
    session.clearcache()
    files = scan.resources["NIFTI"].files
    assert list(files.keys()) == ["sub/image.nii"]
    target = tmp_path / "back.nii"
    files["sub/image.nii"].download(str(target))
    assert target.read_bytes() == payload
    zipped = tmp_path / "resource.zip"
    scan.resources["NIFTI"].download(str(zipped))
    with zipfile.ZipFile(zipped) as archive:
        members = [n for n in archive.namelist() if n.endswith("image.nii")]
        assert len(members) == 1
        assert archive.read(members[0]) == payload
    experiment_zip = tmp_path / "experiment.zip"
    session.experiments[experiment.id].download(str(experiment_zip))
    assert zipfile.is_zipfile(experiment_zip)


def test_prearchive_import_and_archive(session: Any, tmp_path: Path) -> None:
    make_project(session, "PRE1")
    files = sample_series(
        tmp_path / "dicom", patient_name="Import^Me", patient_id="IMP_MR1", series_number=3
    )
    upload = zip_files(files, tmp_path / "upload.zip")
    prearchive_session = session.services.import_(
        str(upload), project="PRE1", destination="/prearchive", content_type="application/zip"
    )
    assert prearchive_session.status == "READY"
    assert prearchive_session.project == "PRE1"
    assert prearchive_session.subject == "Import_Me"
    assert prearchive_session.label == "IMP_MR1"
    assert [s.id for s in prearchive_session.scans] == ["3"]
    listed = session.prearchive.sessions("PRE1")
    assert [s.label for s in listed] == ["IMP_MR1"]
    header = prearchive_session.scans[0].dicom_dump(fields=["PatientID"])
    assert header[0]["value"] == "IMP_MR1"
    dataset = prearchive_session.scans[0].read_dicom()
    assert str(dataset.PatientID) == "IMP_MR1"

    experiment = prearchive_session.archive(subject="SUBJ9", experiment="ARCH_MR1")
    assert experiment.label == "ARCH_MR1"
    assert experiment.__xsi_type__ == "xnat:mrSessionData"
    assert session.prearchive.sessions("PRE1") == []
    session.clearcache()
    archived = session.projects["PRE1"].subjects["SUBJ9"].experiments["ARCH_MR1"]
    assert list(archived.scans.keys()) == ["3"]
    dicom_files = archived.scans["3"].resources["DICOM"].files
    assert len(dicom_files) == 2


def test_direct_archive_import(session: Any, tmp_path: Path) -> None:
    make_project(session, "DIRECT")
    files = sample_series(tmp_path / "d", patient_name="D", patient_id="DIR_CT", modality="CT")
    data = io.BytesIO(zip_files(files, tmp_path / "u.zip").read_bytes())
    experiment = session.services.import_(
        data=data, project="DIRECT", destination="/archive", content_type="application/zip"
    )
    assert experiment.label == "DIR_CT"
    assert experiment.__xsi_type__ == "xnat:ctSessionData"


def test_delete_subject(session: Any, xnat_emulator: EmulatorHandle) -> None:
    project = make_project(session)
    session.classes.SubjectData(parent=project, label="GONE")
    session.clearcache()
    # delete through a listed object: xnatpy 0.8.1 only un-caches objects it fetched itself
    session.projects["PROJ1"].subjects["GONE"].delete()
    session.clearcache()
    assert "GONE" not in session.projects["PROJ1"].subjects
    gone = httpx.get(
        f"{xnat_emulator.url}/data/projects/PROJ1/subjects/GONE",
        auth=(xnat_emulator.user, xnat_emulator.password),
    )
    assert gone.status_code == 404


def test_prearchive_download_move_rebuild_delete(session: Any, tmp_path: Path) -> None:
    make_project(session, "FROM")
    make_project(session, "TO")
    files = sample_series(tmp_path / "dicom", patient_name="Move^Me", patient_id="MOVE1")
    prearchive_session = session.services.import_(
        str(zip_files(files, tmp_path / "u.zip")), project="FROM", content_type="application/zip"
    )
    downloaded = tmp_path / "session.zip"
    prearchive_session.download(str(downloaded))
    with zipfile.ZipFile(downloaded) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".dcm")]) == 2
    assert prearchive_session.rebuild().status_code == 200
    assert prearchive_session.move("TO").status_code == 200
    (moved,) = session.prearchive.sessions("TO")
    assert moved.label == "MOVE1"
    assert session.prearchive.sessions("FROM") == []
    assert moved.delete().status_code == 200
    assert session.prearchive.sessions() == []
