"""session.users and session.inspect against the emulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk import User
from xnat_sdk.emulator.server import Emulator
from xnat_sdk.models import MrSessionData, SubjectData


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator with two accounts besides the admin, and two projects."""
    data_dir = tmp_path_factory.mktemp("users-inspect")
    with Emulator(data_dir, users={"alice": "alice-pw", "bob": "bob-pw"}) as emulator:
        login, password = emulator.admin
        with xnat_sdk.connect(emulator.url, login, password, keepalive=None) as admin:
            admin.projects.create("P1")
            admin.projects.create("P2")
            admin.put("/data/projects/P1/users/Members/alice")
        yield emulator


@pytest.fixture
def admin(site: Emulator) -> Iterator[xnat_sdk.XNATSession]:
    login, password = site.admin
    with xnat_sdk.connect(site.url, login, password, keepalive=None) as opened:
        yield opened


def test_users_is_a_typed_mapping_by_login(admin: xnat_sdk.XNATSession) -> None:
    users = admin.users
    assert users is admin.users
    assert isinstance(users, Mapping)
    assert sorted(users) == ["admin", "alice", "bob"]
    assert len(users) == 3
    alice = users["alice"]
    assert isinstance(alice, User)
    assert alice.login == "alice"
    assert isinstance(alice.id, int)
    assert len({user.id for user in users.values()}) == 3
    assert isinstance(alice.email, str) and isinstance(alice.first_name, str)
    assert alice.data["login"] == "alice"
    assert set(alice.data) >= {"xdat_user_id", "login", "firstname", "lastname", "email"}
    assert "nobody" not in users
    with pytest.raises(KeyError):
        users["nobody"]
    with pytest.raises(AttributeError):
        alice.login = "mallory"  # type: ignore[misc]  # frozen: the assignment must fail
    assert str(alice) == "alice"


def test_users_are_read_once_until_clearcache(admin: xnat_sdk.XNATSession, site: Emulator) -> None:
    before = site.faults.seen("GET", "/data/users")
    users = admin.users
    assert "alice" in users and len(users) == 3 and sorted(users)
    assert site.faults.seen("GET", "/data/users") == before + 1
    users.clearcache()
    assert users["bob"].login == "bob"
    assert site.faults.seen("GET", "/data/users") == before + 2


def test_inspect_datatypes(admin: xnat_sdk.XNATSession) -> None:
    every = admin.inspect.datatypes()
    assert {"xnat:projectData", "xnat:subjectData", "xnat:mrSessionData"} <= set(every)
    assert not any(name.startswith("xdat:") for name in every)
    mr = admin.inspect.datatypes("xnat:mr*")
    assert mr and all(name.startswith("xnat:mr") for name in mr)
    assert "xnat:mrSessionData" in mr and "xnat:ctSessionData" not in mr
    assert admin.inspect.datatypes("xnat:mrSessionData") == ["xnat:mrSessionData"]
    assert admin.inspect.datatypes("xnat:MRSESSIONDATA") == []


def test_inspect_datafields(admin: xnat_sdk.XNATSession) -> None:
    fields = admin.inspect.datafields("xnat:mrSessionData")
    assert "xnat:mrSessionData/LABEL" in fields
    assert all(field.startswith("xnat:mrSessionData/") for field in fields)
    # The server also lists one "label within project P" field per readable project; those
    # carry "=" and are left out, as xnatpy and pyxnat do.
    raw = admin.listing_rows("/data/search/elements/xnat:mrSessionData", {})
    assert any("=" in row["FIELD_ID"] for row in raw)
    assert not any("=" in field for field in fields)
    assert admin.inspect.datafields(MrSessionData) == fields
    bare = admin.inspect.datafields("xnat:mrSessionData", prepend_type=False)
    assert bare == [field.split("/", 1)[1] for field in fields]
    dates = admin.inspect.datafields("xnat:mrSessionData", "*DATE*", prepend_type=False)
    assert dates and all("DATE" in field for field in dates)
    assert "DATE" in dates
    subject_fields = admin.inspect.datatypes("xnat:subjectData", fields_pattern="*LABEL*")
    assert subject_fields == admin.inspect.datafields(SubjectData, "*LABEL*")
    assert "xnat:subjectData/LABEL" in subject_fields


def test_inspect_errors(admin: xnat_sdk.XNATSession) -> None:
    with pytest.raises(xnat_sdk.XNATValueError, match="not a data type name"):
        admin.inspect.datafields("mrSessionData")
    with pytest.raises(xnat_sdk.XNATResponseError, match="Unknown data type"):
        admin.inspect.datafields("xnat:noSuchData")


def test_a_member_sees_the_label_fields_of_readable_projects_only(site: Emulator) -> None:
    with xnat_sdk.connect(site.url, "alice", "alice-pw", keepalive=None) as alice:
        raw = alice.listing_rows("/data/search/elements/xnat:subjectData", {})
        assert [row["VALUE"] for row in raw if "=" in row["FIELD_ID"]] == ["P1"]
        assert sorted(alice.users) == ["admin", "alice", "bob"]


def test_users_of_a_fresh_site(tmp_path: Path) -> None:
    with Emulator(tmp_path / "fresh") as emulator:
        login, password = emulator.admin
        with xnat_sdk.connect(emulator.url, login, password, keepalive=None) as session:
            assert list(session.users) == [login]
            assert session.users[login].id == 1
