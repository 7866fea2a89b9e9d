"""``.../scans/ALL/files`` on an image session without scans, as xnat-web answers it: a GET
goes on with no scan selected (XNATTemplate only insists on exactly one scan for writes), so
the listing is empty and the zip has no entry; a write answers 404. The clients' download_dir
of such a session therefore gives an empty folder, and a tree walk lists nothing for it."""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.errors import XNATNotFoundError
from xnat_sdk.models import MrScanData, MrSessionData, ProjectData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "async"))
from async_support import open_async


@pytest.fixture(scope="module")
def seeded(xnat_emulator_module: EmulatorHandle) -> Iterator[xnat_sdk.XNATSession]:
    """P: subject S1 with EMPTY_MR (no scans) and FULL_MR (scan 1, resource DATA, one file);
    subject S2 with a resource of its own (what real XNAT would wrongly list for EMPTY_MR
    under the subject's path)."""
    emu = xnat_emulator_module
    with xnat_sdk.connect(emu.url, emu.user, emu.password, keepalive=None) as session:
        project = session.projects.create("ALLP")
        s1 = project.subjects.create("S1")
        s1.experiments.create_as(MrSessionData, "EMPTY_MR")
        full = s1.experiments.create_as(MrSessionData, "FULL_MR")
        scan = full.scans.create_as(MrScanData, "1", type="T1w")
        scan.create_resource("DATA", format="BIN").upload(b"voxels", "a.bin")
        s1.create_resource("NOTES", format="TXT").upload(b"subject note", "note.txt")
        yield session


def _empty(session: xnat_sdk.XNATSession) -> MrSessionData:
    found = session.projects["ALLP"].subjects["S1"].experiments["EMPTY_MR"]
    assert isinstance(found, MrSessionData)
    return found


def test_listing_and_zip_of_all_scans_of_a_session_without_scans_are_empty(
    seeded: xnat_sdk.XNATSession,
) -> None:
    experiment = _empty(seeded)
    for uri in (f"/data/experiments/{experiment.id}", experiment.uri):
        rows = seeded.listing_rows(f"{uri}/scans/ALL/files", {"format": "json"})
        assert rows == []
        zipped = seeded.get(f"{uri}/scans/ALL/files", format="zip").content
        assert zipfile.ZipFile(io.BytesIO(zipped)).namelist() == []
        nested = seeded.listing_rows(f"{uri}/scans/ALL/resources/ALL/files", {})
        assert nested == []
    with pytest.raises(XNATNotFoundError, match="Unable to identify scan"):
        seeded.put(
            f"/data/experiments/{experiment.id}/scans/ALL/resources/X/files/f.txt", data=b"x"
        )


def test_all_still_selects_every_scan_where_there_are_some(
    seeded: xnat_sdk.XNATSession,
) -> None:
    full = seeded.projects["ALLP"].subjects["S1"].experiments["FULL_MR"]
    rows = seeded.listing_rows(f"{full.uri}/scans/ALL/files", {})
    assert [row["Name"] for row in rows] == ["a.bin"]


def test_download_dir_of_a_session_without_scans_is_an_empty_folder(
    seeded: xnat_sdk.XNATSession, tmp_path: Path
) -> None:
    experiment = _empty(seeded)
    result = experiment.download_dir(tmp_path)
    assert result == tmp_path / "EMPTY_MR" and result.is_dir()
    assert list(result.iterdir()) == []  # the subject's own NOTES are not the session's


def test_subject_download_dir_with_an_empty_and_a_full_session(
    seeded: xnat_sdk.XNATSession, tmp_path: Path
) -> None:
    subject = seeded.projects["ALLP"].subjects["S1"]
    folder = subject.download_dir(tmp_path)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert len(files) == 1 and files[0].startswith("FULL_MR/") and files[0].endswith("a.bin")
    assert (folder / "EMPTY_MR").is_dir()


def test_tree_walk_skips_a_session_without_scans(seeded: xnat_sdk.XNATSession) -> None:
    project = seeded.projects["ALLP"]
    assert isinstance(project, ProjectData)
    found = project.scan_files()
    assert [(f.experiment.label, f.scan_id, f.file.path) for f in found] == [
        ("FULL_MR", "1", "a.bin")
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_download_of_a_session_without_scans_writes_nothing(
    seeded: xnat_sdk.XNATSession, xnat_emulator_module: EmulatorHandle, tmp_path: Path
) -> None:
    uri = _empty(seeded).uri
    full_uri = seeded.projects["ALLP"].subjects["S1"].experiments["FULL_MR"].uri
    async with await open_async(xnat_emulator_module) as session:
        experiment = await session.object_at(uri)
        assert isinstance(experiment, MrSessionData)
        assert await session.download(experiment, tmp_path) == []
        full = await session.object_at(full_uri)
        assert isinstance(full, MrSessionData)
        written = await session.download_many([experiment, full], tmp_path / "many")
    assert [p.name for p in written] == ["a.bin"]
    assert not (tmp_path / "EMPTY_MR").exists()
