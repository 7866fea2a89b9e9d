"""DICOM unpacking, parsing and XNAT's default routing rules (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dicom_factory import Study, make_series, pack_tar, pack_zip

from xnat_sdk.emulator.dicom_import import (
    DicomImportError,
    RoutingOverrides,
    contained_assignment,
    dump_header,
    parse_dump_fields,
    read_instances,
    route_instances,
    session_type,
    straight_assignment,
    to_label_chars,
    unpack_upload,
)

KNOWN = {"PROJ1": "PROJ1", "ALIAS1": "PROJ1", "STUDYDESC": "PROJ2"}


def resolve(name: str) -> str | None:
    return KNOWN.get(name)


def test_label_chars_follow_xnat() -> None:
    assert to_label_chars("Doe^Jane Q.") == "Doe_Jane_Q_"
    assert to_label_chars("ok-label_1") == "ok-label_1"


def test_contained_assignment_matches_xnat_extractor() -> None:
    assert contained_assignment("Project: PROJ1", "Project") == "PROJ1"
    assert contained_assignment("baz Subject:S1;Session: E1", "session") == "E1"
    assert contained_assignment("nothing here", "Project") is None
    assert contained_assignment("", "Project") is None


def test_straight_assignment_needs_exactly_two_commas() -> None:
    assert straight_assignment("SUBJ, SESS ,x", 1) == "SESS"
    assert straight_assignment("SUBJ,SESS,x", 0) == "SUBJ"
    assert straight_assignment("a,b", 1) is None


def test_session_type_prefers_pet_then_mr() -> None:
    assert session_type(["CT", "PT"]) == ("PT", "xnat:petSessionData")
    assert session_type(["MR"]) == ("MR", "xnat:mrSessionData")
    assert session_type(["ZZ"])[1] == "xnat:otherDicomSessionData"


def test_default_routing_from_headers(tmp_path: Path) -> None:
    study = Study(patient_name="Doe^Jane", patient_id="MR 001", study_description="STUDYDESC")
    files = make_series(tmp_path / "in", study, series_number=3, series_description="T1 MPRAGE")
    files += make_series(tmp_path / "in", study, series_number=5, series_description="rest")
    sessions = route_instances(
        read_instances(files, ignore_unparsable=False), RoutingOverrides(), resolve
    )
    assert len(sessions) == 1
    session = sessions[0]
    assert session.project == "PROJ2"
    assert session.subject == "Doe_Jane"
    assert session.label == "MR_001"
    assert session.xsi_type == "xnat:mrSessionData"
    assert session.date == "20240102"
    assert sorted(session.scans) == ["3", "5"]
    scan = session.scans["3"]
    assert scan.xsi_type == "xnat:mrScanData"
    assert scan.series_description == "T1 MPRAGE"
    assert [i.instance_number for i in scan.instances] == ["1", "2"]


def test_comment_assignments_win_over_name_and_id(tmp_path: Path) -> None:
    study = Study(patient_comments="Project: ALIAS1 Subject: S9 Session: E9")
    files = make_series(tmp_path, study, count=1)
    (session,) = route_instances(
        read_instances(files, ignore_unparsable=False), RoutingOverrides(), resolve
    )
    assert (session.project, session.subject, session.label) == ("PROJ1", "S9", "E9")


def test_unknown_project_is_unassigned_and_overrides_win(tmp_path: Path) -> None:
    files = make_series(tmp_path, Study(study_description="NOPE"), modality="CT", count=1)
    instances = read_instances(files, ignore_unparsable=False)
    (unrouted,) = route_instances(instances, RoutingOverrides(), resolve)
    assert unrouted.project is None
    assert unrouted.xsi_type == "xnat:ctSessionData"
    (routed,) = route_instances(instances, RoutingOverrides("P", "SUB", "SES"), resolve)
    assert (routed.project, routed.subject, routed.label) == ("P", "SUB", "SES")


def test_two_studies_become_two_sessions(tmp_path: Path) -> None:
    files = make_series(tmp_path / "a", Study(patient_id="A"), count=1)
    files += make_series(tmp_path / "b", Study(patient_id="B"), count=1)
    sessions = route_instances(
        read_instances(files, ignore_unparsable=False), RoutingOverrides(), resolve
    )
    assert sorted(s.label for s in sessions) == ["A", "B"]


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz", "single"])
def test_unpack_every_upload_form(tmp_path: Path, kind: str) -> None:
    files = make_series(tmp_path / "src", Study(), count=3)
    if kind == "zip":
        upload = pack_zip(files, tmp_path / "u.zip")
    elif kind == "tar":
        upload = pack_tar(files, tmp_path / "u.tar")
    elif kind == "tgz":
        upload = pack_tar(files, tmp_path / "u.tar.gz", gzip=True)
    else:
        upload = files[0]
    staged = unpack_upload(upload, tmp_path / "staging")
    expected = 1 if kind == "single" else 3
    assert len(staged) == expected
    assert all(p.parent == tmp_path / "staging" for p in staged)
    assert len(read_instances(staged, ignore_unparsable=False)) == expected


def test_archive_member_names_cannot_escape_staging(tmp_path: Path) -> None:
    import zipfile

    upload = tmp_path / "evil.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr("../../escape.dcm", b"not dicom")
    staged = unpack_upload(upload, tmp_path / "staging")
    assert [p.parent for p in staged] == [tmp_path / "staging"]
    assert not (tmp_path / "escape.dcm").exists()


def test_non_dicom_is_rejected_unless_ignored(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(DicomImportError, match=r"notes\.txt is not a DICOM file"):
        read_instances([junk], ignore_unparsable=False)
    good = make_series(tmp_path / "d", Study(), count=1)
    assert len(read_instances([junk, *good], ignore_unparsable=True)) == 1
    with pytest.raises(DicomImportError, match="no DICOM files"):
        read_instances([junk], ignore_unparsable=True)


def test_file_name_follows_default_template(tmp_path: Path) -> None:
    study = Study()
    (path,) = make_series(tmp_path, study, series_number=7, count=1)
    (instance,) = read_instances([path], ignore_unparsable=False)
    name = instance.file_name
    assert name.startswith(f"{study.study_uid}-7-1-")
    assert name.endswith(".dcm")


def test_dump_header_rows_and_field_filter(tmp_path: Path) -> None:
    (path,) = make_series(tmp_path, Study(patient_id="PID42"), count=1)
    rows = dump_header(path)
    assert all(set(r) == {"tag1", "tag2", "vr", "value", "desc"} for r in rows)
    by_tag = {r["tag1"]: r for r in rows}
    assert by_tag["(0010,0020)"]["value"] == "PID42"
    assert by_tag["(0010,0020)"]["desc"] == "Patient ID"
    assert by_tag["(0010,0020)"]["vr"] == "LO"
    assert "(0002,0010)" in by_tag
    only = dump_header(path, parse_dump_fields(["PatientID", "00080060"]))
    assert [r["tag1"] for r in only] == ["(0008,0060)", "(0010,0020)"]
    with pytest.raises(DicomImportError, match="Unknown DICOM field: NoSuchThing"):
        parse_dump_fields(["NoSuchThing"])
