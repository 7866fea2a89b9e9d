"""Live objects over loopback: fields write through, validation before requests, creation,
deletion, custom variables and the typed errors of the server."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import xnat_sdk
from xnat_sdk.emulator.server import Emulator
from xnat_sdk.models import MrScanData, MrSessionData, ProjectData, SubjectData


class RequestCounter:
    """Counts the requests a session sends (an httpx event hook on the real client)."""

    def __init__(self, session: xnat_sdk.XNATSession) -> None:
        self.requests: list[str] = []
        session.interface.event_hooks["request"].append(self._seen)

    def _seen(self, request: httpx.Request) -> None:
        self.requests.append(f"{request.method} {request.url.path}")


@pytest.fixture
def project(session: xnat_sdk.XNATSession) -> Iterator[ProjectData]:
    yield session.projects.create("LIVE", name="Live objects")


def test_set_writes_the_xpath_and_updates_the_object(
    session: xnat_sdk.XNATSession, project: ProjectData
) -> None:
    subject = project.subjects.create("S01")
    mr = subject.experiments.create_as(MrSessionData, "S01_MR")
    mr.set("note", "first note")
    mr.mset(date=datetime.date(2023, 5, 6), visit_id="V1")
    assert mr.note == "first note" and mr.date == datetime.date(2023, 5, 6)
    session.clearcache()
    fresh = session.projects["LIVE"].subjects["S01"].experiments["S01_MR"]
    assert isinstance(fresh, MrSessionData)
    assert fresh.note == "first note"
    assert fresh.date == datetime.date(2023, 5, 6)
    assert fresh.visit_id == "V1"


def test_attribute_assignment_writes_through(
    session: xnat_sdk.XNATSession, project: ProjectData
) -> None:
    project.description = "set by attribute"
    session.clearcache()
    assert session.projects["LIVE"].description == "set by attribute"


def test_invalid_value_is_rejected_before_any_request(
    session: xnat_sdk.XNATSession, project: ProjectData
) -> None:
    subject = project.subjects.create("S02")
    mr = subject.experiments.create_as(MrSessionData, "S02_MR")
    mr.fetch()
    counter = RequestCounter(session)
    with pytest.raises(xnat_sdk.FieldValueError, match="date"):
        mr.set("date", "not a date")
    with pytest.raises(xnat_sdk.FieldValueError, match="no field"):
        mr.mset(no_such_field="x")
    with pytest.raises(xnat_sdk.FieldValueError, match="date"):
        subject.experiments.create_as(MrSessionData, "S02_MR2", date="yesterday-ish")
    assert counter.requests == []
    assert mr.date is None


def test_invalid_label_characters_are_named_before_any_request(
    session: xnat_sdk.XNATSession, project: ProjectData
) -> None:
    counter = RequestCounter(session)
    with pytest.raises(xnat_sdk.XNATInvalidLabelError) as caught:
        project.subjects.create("bad label")
    assert caught.value.character == " "
    with pytest.raises(xnat_sdk.XNATInvalidLabelError, match="'/'"):
        project.subjects.create("a/b")
    assert counter.requests == []


def test_scans_created_typed_and_readable(project: ProjectData) -> None:
    subject = project.subjects.create("S03")
    mr = subject.experiments.create_as(MrSessionData, "S03_MR")
    scan = mr.scans.create_as(MrScanData, "7", type="FLAIR", quality="usable")
    assert isinstance(scan, MrScanData)
    assert scan.id == "7" and scan.type == "FLAIR"
    assert mr.scans["FLAIR"].id == "7"


def test_delete_removes_the_object(session: xnat_sdk.XNATSession, project: ProjectData) -> None:
    subject = project.subjects.create("GONE")
    subject.delete()
    session.clearcache()
    assert "GONE" not in session.projects["LIVE"].subjects
    with pytest.raises(xnat_sdk.XNATNotFoundError):
        subject.fetch()


def test_custom_variables_round_trip(session: xnat_sdk.XNATSession, project: ProjectData) -> None:
    subject = project.subjects.create("S04")
    subject.custom_fields["weight"] = "70"
    subject.custom_fields["site"] = "north"
    fresh = session.projects["LIVE"].subjects["S04"]
    assert dict(fresh.custom_fields) == {"weight": "70", "site": "north"}
    # xnatpy's name for the same mapping
    fresh.fields["arm"] = "B"
    assert dict(session.projects["LIVE"].subjects["S04"].fields) == {
        "weight": "70",
        "site": "north",
        "arm": "B",
    }


def test_fulldata_and_external_uri(session: xnat_sdk.XNATSession, project: ProjectData) -> None:
    subject = project.subjects.create("S05")
    data = subject.fulldata
    assert data["label"] == "S05"
    assert data["ID"] == subject.id
    assert subject.external_uri().startswith(session.server + "/data/")
    assert session.url_for(subject, scheme="https").startswith("https://")


def test_detached_model_cannot_navigate() -> None:
    subject = SubjectData(id="X", label="L")
    with pytest.raises(xnat_sdk.objects.DetachedObjectError):
        _ = subject.experiments


def test_forbidden_and_hidden_for_a_user_without_access(tmp_path: Path) -> None:
    with Emulator(tmp_path / "emu", users={"bob": "bobs-password"}) as emulator:
        with xnat_sdk.connect(emulator.url, *emulator.admin, keepalive=None) as admin:
            admin.projects.create("PRIV", name="Private")
            admin.projects.create("PUB", name="Public")
            admin.put("/data/projects/PUB/accessibility/public")
        with xnat_sdk.connect(emulator.url, "bob", "bobs-password", keepalive=None) as bob:
            assert bob.projects.keys() == ["PUB"]  # a private project is not even listed
            with pytest.raises(xnat_sdk.XNATNotFoundError):
                bob.get("/data/projects/PRIV")
            assert bob.projects["PUB"].name == "Public"  # readable...
            with pytest.raises(xnat_sdk.XNATForbiddenError) as caught:
                bob.projects["PUB"].delete()  # ...but not his to delete
            assert caught.value.status_code == 403


def test_duplicate_project_is_a_conflict_or_update(
    session: xnat_sdk.XNATSession, project: ProjectData
) -> None:
    # XNAT answers a PUT on an existing object as an update: the project keeps its ID.
    again = session.projects.create("LIVE", name="Live objects")
    assert again.id == project.id
    assert len(session.projects) == 1


def test_xnatpy_style_classes_create_typed_objects(
    session: xnat_sdk.XNATSession, project: ProjectData
) -> None:
    subject = session.classes.SubjectData(parent=project, label="VIA_CLASSES")
    assert isinstance(subject, SubjectData)
    mr = session.classes.MrSessionData(parent=subject, label="VIA_CLASSES_MR")
    assert isinstance(mr, MrSessionData)
    scan = session.classes.MrScanData(parent=mr, id="5", type="DWI")
    assert isinstance(scan, MrScanData) and scan.type == "DWI"
    project2 = session.classes.ProjectData(id="VIA_CLASSES_P", name="Made via classes")
    assert isinstance(project2, ProjectData) and project2.name == "Made via classes"
    with pytest.raises(AttributeError):
        _ = session.classes.NoSuchData
    with pytest.raises(xnat_sdk.XNATValueError, match="parent"):
        session.classes.SubjectData(label="ORPHAN")


def test_pickled_model_is_plain_data_without_the_session(
    session: xnat_sdk.XNATSession, project: ProjectData
) -> None:
    import pickle

    subject = project.subjects.create("PICKLED")
    subject.fetch()
    blob = pickle.dumps(subject)
    assert b"JSESSIONID" not in blob and b"admin" not in blob
    restored = pickle.loads(blob)
    assert isinstance(restored, SubjectData)
    assert restored.label == "PICKLED" and restored.id == subject.id
    with pytest.raises(xnat_sdk.objects.DetachedObjectError):
        _ = restored.experiments


def test_label_used_by_another_parent_is_a_conflict(project: ProjectData) -> None:
    first = project.subjects.create("HOLDER")
    other = project.subjects.create("OTHER")
    first.experiments.create_as(MrSessionData, "TAKEN_MR")
    with pytest.raises(xnat_sdk.XNATConflictError, match="TAKEN_MR"):
        other.experiments.create_as(MrSessionData, "TAKEN_MR")


def test_existing_file_upload_is_a_conflict(project: ProjectData) -> None:

    resource = project.create_resource("FILES")
    resource.upload(b"1", "x.txt")
    with pytest.raises(xnat_sdk.XNATConflictError, match="overwrite"):
        resource.upload(b"2", "x.txt")


def test_add_a_constructed_model(project: ProjectData) -> None:
    subject = project.subjects.create("ADDER")
    model = MrSessionData(id="", label="ADDED_MR", date=datetime.date(2022, 2, 2), note="hi")
    stored = subject.experiments.add(model)
    assert isinstance(stored, MrSessionData)
    assert stored.id and stored.id != ""
    assert stored.date == datetime.date(2022, 2, 2) and stored.note == "hi"
    with pytest.raises(xnat_sdk.XNATValueError, match="cannot be added"):
        project.subjects.add(MrSessionData(id="", label="WRONG_PLACE"))
