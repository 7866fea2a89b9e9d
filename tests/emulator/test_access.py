"""Project access as XNAT enforces it: owners/members/collaborators, public/protected/private."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from xnat_sdk.emulator import Emulator


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "data", users={"alice": "pw-a", "bob": "pw-b"}) as emu:
        yield emu


def as_user(emu: Emulator, login: str, password: str) -> httpx.Client:
    return httpx.Client(base_url=emu.url, auth=(login, password))


def listed(client: httpx.Client) -> list[str]:
    result = client.get("/data/projects", params={"format": "json"}).json()["ResultSet"]
    return [row["ID"] for row in result["Result"]]


def test_private_project_is_invisible_and_403_to_others(emulator: Emulator) -> None:
    alice, bob = as_user(emulator, "alice", "pw-a"), as_user(emulator, "bob", "pw-b")
    assert alice.put("/data/projects/PA").status_code == 200
    assert alice.put("/data/projects/PA/subjects/S1").status_code == 201
    assert alice.get("/data/projects/PA/accessibility").text == "private"
    assert listed(bob) == []
    assert bob.get("/data/projects/PA?format=json").status_code == 404
    assert bob.get("/data/subjects/XNAT_S00001?format=json").status_code == 403
    assert bob.put("/data/projects/PA/subjects/S2").status_code in (403, 404)
    admin = as_user(emulator, "admin", "admin")
    assert listed(admin) == ["PA"]


def test_protected_is_listed_but_data_is_403(emulator: Emulator) -> None:
    alice, bob = as_user(emulator, "alice", "pw-a"), as_user(emulator, "bob", "pw-b")
    alice.put("/data/projects/PA")
    alice.put("/data/projects/PA/subjects/S1")
    assert alice.put("/data/projects/PA/accessibility/protected").status_code == 200
    assert listed(bob) == ["PA"]
    denied = bob.get("/data/projects/PA/subjects?format=json")
    assert denied.status_code == 403
    assert "<h3>" in denied.text


def test_public_is_readable_not_writable(emulator: Emulator) -> None:
    alice, bob = as_user(emulator, "alice", "pw-a"), as_user(emulator, "bob", "pw-b")
    alice.put("/data/projects/PA")
    alice.put("/data/projects/PA/subjects/S1")
    alice.put("/data/projects/PA/accessibility/public")
    rows = bob.get("/data/projects/PA/subjects?format=json").json()["ResultSet"]["Result"]
    assert [r["label"] for r in rows] == ["S1"]
    assert bob.put("/data/projects/PA/subjects/S2").status_code == 403
    assert bob.delete("/data/projects/PA").status_code == 403
    assert bob.put("/data/projects/PA/accessibility/private").status_code == 403


def test_roles_member_writes_collaborator_reads(emulator: Emulator) -> None:
    alice, bob = as_user(emulator, "alice", "pw-a"), as_user(emulator, "bob", "pw-b")
    alice.put("/data/projects/PA")
    assert alice.put("/data/projects/PA/users/Collaborators/bob").status_code == 200
    assert bob.get("/data/projects/PA/subjects?format=json").status_code == 200
    assert bob.put("/data/projects/PA/subjects/S9").status_code == 403
    assert alice.put("/data/projects/PA/users/Members/bob").status_code == 200
    assert bob.put("/data/projects/PA/subjects/S9").status_code == 201
    assert bob.delete("/data/projects/PA").status_code == 403  # only owners delete projects
    users = alice.get("/data/projects/PA/users?format=json").json()["ResultSet"]["Result"]
    assert {(u["login"], u["displayname"]) for u in users} == {
        ("alice", "Owner"),
        ("bob", "Member"),
    }
    assert alice.put("/data/projects/PA/users/Wizards/bob").status_code == 400
    assert alice.put("/data/projects/PA/users/Members/nobody").status_code == 404
    assert alice.delete("/data/projects/PA").status_code == 200


def test_duplicate_secondary_id_is_409(emulator: Emulator) -> None:
    admin = as_user(emulator, "admin", "admin")
    assert admin.put("/data/projects/P1", params={"secondary_ID": "ONE"}).status_code == 200
    assert admin.put("/data/projects/P2", params={"secondary_ID": "ONE"}).status_code == 409
