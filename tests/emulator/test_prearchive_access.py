"""Who may see and act on prearchive sessions: project owners/members and site admins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dicom_factory import Study, make_series, pack_zip

from xnat_sdk.emulator import Emulator


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "data", users={"alice": "pw-a", "bob": "pw-b"}) as emu:
        yield emu


def as_user(emu: Emulator, login: str, password: str) -> httpx.Client:
    return httpx.Client(base_url=emu.url, auth=(login, password), timeout=30)


def listed(client: httpx.Client) -> list[str]:
    answer = client.get("/data/prearchive/projects", params={"format": "json"})
    assert answer.status_code == 200
    return [row["url"] for row in answer.json()["ResultSet"]["Result"]]


def upload(tmp_path: Path, patient_id: str) -> bytes:
    files = make_series(tmp_path / patient_id, Study(patient_id=patient_id), count=1)
    return pack_zip(files, tmp_path / f"{patient_id}.zip").read_bytes()


def test_members_only(emulator: Emulator, tmp_path: Path) -> None:
    alice, bob = as_user(emulator, "alice", "pw-a"), as_user(emulator, "bob", "pw-b")
    admin = as_user(emulator, "admin", "admin")
    assert alice.put("/data/projects/PA").status_code == 200
    imported = alice.post(
        "/data/services/import", params={"project": "PA"}, content=upload(tmp_path, "A1")
    )
    assert imported.status_code == 200, imported.text
    src = imported.text.strip()
    assert listed(alice) == [src.removeprefix("/data")]
    assert listed(admin) == [src.removeprefix("/data")]
    assert listed(bob) == []
    assert bob.get(src, params={"format": "json"}).status_code == 403
    denied = bob.post("/data/services/archive", params={"src": src})
    assert denied.status_code == 403
    assert "does not have access" in denied.text
    assert bob.post("/data/services/prearchive/delete", params={"src": src}).status_code == 403
    dump = bob.get("/data/services/dicomdump", params={"src": src.removeprefix("/data")})
    assert dump.status_code == 403
    # bob cannot route into a project he cannot write to
    refused = bob.post(
        "/data/services/import", params={"project": "PA"}, content=upload(tmp_path, "B1")
    )
    assert refused.status_code == 404
    archived = alice.post("/data/services/archive", params={"src": src})
    assert archived.status_code == 200, archived.text


def test_unassigned_is_for_admins(emulator: Emulator, tmp_path: Path) -> None:
    alice = as_user(emulator, "alice", "pw-a")
    admin = as_user(emulator, "admin", "admin")
    answer = alice.post("/data/services/import", content=upload(tmp_path, "U1"))
    assert answer.status_code == 200
    assert "/Unassigned/" in answer.text
    assert listed(alice) == []
    assert len(listed(admin)) == 1
