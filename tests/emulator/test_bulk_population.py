"""The store's bulk population API (``create_many``, ``add_files``, ``BlobStore.write_many``):
what it writes is what the HTTP API serves; repeats are 409s that write nothing; blobs of a
refused or failed batch are discarded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from xnat_sdk.emulator.archive import ArchiveStore, NewObject, Node
from xnat_sdk.emulator.context import EmulatorContext
from xnat_sdk.emulator.errors import XnatHTTPError
from xnat_sdk.emulator.server import Emulator, open_context

MR = "xnat:mrSessionData"


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[EmulatorContext, ArchiveStore, Node]]:
    """A store on a fresh data directory with project P1 and subject S1 (created in bulk)."""
    context = open_context(tmp_path / "data")
    store = ArchiveStore(context)
    admin = context.auth.account("admin")
    assert admin is not None
    with context.db.write():
        project, _ = store.put_project("P1", {"name": "Bulk"}, admin)
        (subject,) = store.create_many(
            project, "subject", [NewObject("S1", "xnat:subjectData")], admin
        )
    yield context, store, subject
    context.db.close()


def _blob_files(context: EmulatorContext) -> set[Path]:
    root = context.blobs.root
    return {p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts}


def test_bulk_objects_and_files_are_served_as_the_http_api_made_them(
    seeded: tuple[EmulatorContext, ArchiveStore, Node], tmp_path: Path
) -> None:
    context, store, subject = seeded
    admin = context.auth.account("admin")
    assert admin is not None
    with context.db.write():
        sessions = store.create_many(
            subject,
            "experiment",
            [NewObject(f"MR{n}", MR, {"date": "2024-01-02"}) for n in range(3)],
            admin,
        )
        (scan,) = store.create_many(sessions[0], "scan", [NewObject("1", "xnat:mrScanData")], admin)
        (resource,) = store.create_many(
            scan, "resource", [NewObject("DICOM", "xnat:resourceCatalog")], admin
        )
    contents = [f"slice {n}".encode() * 100 for n in range(5)]
    blobs = context.blobs.write_many(contents)
    store.add_files(resource, [(f"s{n}.dcm", blob) for n, blob in enumerate(blobs)])
    assert [s.id for s in sessions] == [f"{context.site_id}_E0000{n}" for n in (1, 2, 3)]
    context.db.close()

    with (
        Emulator(tmp_path / "data") as emulator,
        httpx.Client(base_url=emulator.url, auth=emulator.admin) as http,
    ):
        listing = http.get("/data/projects/P1/experiments", params={"format": "json"}).json()
        rows = listing["ResultSet"]["Result"]
        assert sorted((r["label"], r["date"], r["xsiType"]) for r in rows) == [
            (f"MR{n}", "2024-01-02", MR) for n in range(3)
        ]
        files_uri = "/data/projects/P1/subjects/S1/experiments/MR0/scans/1/resources/DICOM/files"
        files = http.get(files_uri, params={"format": "json"}).json()["ResultSet"]["Result"]
        assert {f["Name"]: f["digest"] for f in files} == {
            f"s{n}.dcm": hashlib.md5(data).hexdigest() for n, data in enumerate(contents)
        }
        assert http.get(f"{files_uri}/s3.dcm").content == contents[3]


def test_a_repeated_or_existing_key_is_a_409_that_writes_nothing(
    seeded: tuple[EmulatorContext, ArchiveStore, Node],
) -> None:
    context, store, subject = seeded
    admin = context.auth.account("admin")
    assert admin is not None
    with pytest.raises(XnatHTTPError, match="Repeated experiment keys: A") as repeated:
        store.create_many(subject, "experiment", [NewObject(k, MR) for k in "ABA"], admin)
    assert repeated.value.status == 409
    with context.db.write():
        store.create_many(subject, "experiment", [NewObject("B", MR)], admin)
    with pytest.raises(XnatHTTPError, match="B already exists") as existing:
        with context.db.write():
            store.create_many(subject, "experiment", [NewObject(k, MR) for k in "CB"], admin)
    assert existing.value.status == 409
    assert [n.label for n in store.children(subject, ("experiment",))] == ["B"]


def test_wrong_kinds_and_types_are_refused_before_writing(
    seeded: tuple[EmulatorContext, ArchiveStore, Node],
) -> None:
    context, store, subject = seeded
    admin = context.auth.account("admin")
    assert admin is not None
    with pytest.raises(XnatHTTPError) as project:
        store.create_many(subject, "project", [NewObject("P2", "xnat:projectData")], admin)
    assert project.value.status == 400
    with pytest.raises(XnatHTTPError) as wrong_type:
        store.create_many(subject, "experiment", [NewObject("X", "xnat:subjectData")], admin)
    assert wrong_type.value.status in (400, 422)
    with pytest.raises(XnatHTTPError) as bad_label:
        store.create_many(subject, "experiment", [NewObject("a/b", MR)], admin)
    assert bad_label.value.status == 400
    assert store.children(subject, ("experiment",)) == []


def test_refused_files_discard_their_blobs(
    seeded: tuple[EmulatorContext, ArchiveStore, Node],
) -> None:
    context, store, subject = seeded
    admin = context.auth.account("admin")
    assert admin is not None
    with context.db.write():
        (resource,) = store.create_many(
            subject, "resource", [NewObject("R", "xnat:resourceCatalog")], admin
        )
    (kept,) = context.blobs.write_many([b"kept"])
    store.add_files(resource, [("a.txt", kept)])
    before = _blob_files(context)

    twice = context.blobs.write_many([b"one", b"two"])
    with pytest.raises(XnatHTTPError, match=r"Repeated file paths: b\.txt") as repeated:
        store.add_files(resource, [("b.txt", twice[0]), ("b.txt", twice[1])])
    assert repeated.value.status == 409
    clash = context.blobs.write_many([b"new", b"clash"])
    with pytest.raises(XnatHTTPError, match=r"a\.txt already exists") as existing:
        store.add_files(resource, [("c.txt", clash[0]), ("a.txt", clash[1])])
    assert existing.value.status == 409

    assert _blob_files(context) == before
    assert [(e.path, e.md5) for e in store.files(resource)] == [
        ("a.txt", hashlib.md5(b"kept").hexdigest())
    ]


def test_a_failing_source_leaves_no_blob_behind(
    seeded: tuple[EmulatorContext, ArchiveStore, Node],
) -> None:
    context, _store, _subject = seeded
    before = _blob_files(context)

    def contents() -> Iterator[bytes]:
        yield b"first"
        yield b"second"
        raise OSError("the source went away")

    with pytest.raises(OSError, match="went away"):
        context.blobs.write_many(contents())
    assert _blob_files(context) == before
