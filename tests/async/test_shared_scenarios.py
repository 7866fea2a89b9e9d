"""The sync integration scenarios, run on both clients through the ``client`` parametrization:
listings, navigation, filters, lookup by label and ID, typed rows, verified transfers, import,
prearchive and the typed errors."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk.models import (
    ImageSessionData,
    MrSessionData,
    PetSessionData,
    ProjectData,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
from async_support import DATA_FILES, Archive, Client
from dicom_factory import Study, make_series, pack_zip

pytestmark = pytest.mark.anyio


async def test_projects_by_id_name_and_position(client: Client) -> None:
    assert await client.project_ids() == ["IMP_async", "IMP_sync", "P1", "P2"]
    by_id = await client.project("P1")
    assert isinstance(by_id, ProjectData) and by_id.name == "First project"
    assert (await client.project("Second project")).id == "P2"  # secondary key: the name
    assert (await client.project(-1)).id != (await client.project(0)).id


async def test_unknown_keys_name_what_exists(client: Client) -> None:
    with pytest.raises(xnat_sdk.XNATKeyError) as caught:
        await client.project("NOPE")
    assert "NOPE" in str(caught.value) and "P1" in str(caught.value)
    with pytest.raises(xnat_sdk.XNATKeyError, match="position 9"):
        await client.project(9)


async def test_navigation_gives_the_concrete_class_of_each_xsi_type(client: Client) -> None:
    found = {e.label: e for e in await client.experiments("P1", "S01")}
    assert isinstance(found["S01_MR1"], MrSessionData)
    assert isinstance(found["S01_PET1"], PetSessionData)
    assert found["S01_MR1"].uri.startswith("/data/projects/P1/subjects/")


async def test_filters_are_applied_on_labels(client: Client) -> None:
    assert await client.subject_labels("P1") == ["S01", "S02", "S03"]
    assert await client.subject_labels("P1", label="S0[12]") == ["S01", "S02"]
    assert await client.subject_labels("P1", label="*3") == ["S03"]
    assert await client.subject_labels("P2") == []


async def test_typed_rows_have_every_standard_column(client: Client) -> None:
    rows = await client.subject_rows("P1")
    assert sorted(row["label"] for row in rows) == ["S01", "S02", "S03"]
    assert all(row["project"] == "P1" and row["ID"] for row in rows)


async def test_lookup_by_label_and_by_id_finds_the_same_object(
    client: Client, archive: Archive
) -> None:
    by_label = await client.experiment("P1", "S01_MR1")
    by_id = await client.experiment("P1", archive.mr_id)
    assert by_label.uri == by_id.uri and by_label.id == archive.mr_id


async def test_missing_object_is_a_typed_404(client: Client) -> None:
    with pytest.raises(xnat_sdk.XNATNotFoundError) as caught:
        await client.get_json("/data/projects/NOPE")
    assert caught.value.status_code == 404


async def test_download_is_verified_and_atomic(
    client: Client, archive: Archive, tmp_path: Path
) -> None:
    resource = await client.resource(archive.mr_uri, "1", "DATA")
    assert set(DATA_FILES) <= set(await client.file_paths(resource))
    target = tmp_path / client.name / "b.bin"
    written = await client.download_file(resource, "sub/b.bin", target)
    assert written == target and target.read_bytes() == DATA_FILES["sub/b.bin"]
    assert [p.name for p in target.parent.iterdir()] == ["b.bin"]  # no partial file left


async def test_upload_then_download_round_trips(
    client: Client, archive: Archive, tmp_path: Path
) -> None:
    target_resource = await client.resource(archive.mr_uri, "1", "DATA")
    payload = hashlib.sha256(client.name.encode()).digest() * 1000
    path = f"uploads/{client.name}.bin"
    await client.upload_bytes(target_resource, payload, path)
    assert path in await client.file_paths(target_resource)
    out = await client.download_file(target_resource, path, tmp_path / "round.bin")
    assert out.read_bytes() == payload


async def test_import_to_the_archive_returns_the_typed_experiment(
    client: Client, tmp_path: Path
) -> None:
    patient = f"MR_{client.name.upper()}"
    files = make_series(tmp_path / "d", Study(patient_name="Doe^A", patient_id=patient))
    experiment = await client.import_archive(
        pack_zip(files, tmp_path / "a.zip"), f"IMP_{client.name}"
    )
    assert isinstance(experiment, MrSessionData) and isinstance(experiment, ImageSessionData)
    assert experiment.label == patient
    assert (
        experiment.uri == f"/data/projects/IMP_{client.name}/subjects/Doe_A/experiments/{patient}"
    )


async def test_prearchive_session_is_listed_then_archived(client: Client, tmp_path: Path) -> None:
    patient = f"PRE_{client.name.upper()}"
    files = make_series(tmp_path / "d", Study(patient_name="Doe^B", patient_id=patient))
    name, uri = await client.import_and_archive(
        pack_zip(files, tmp_path / "b.zip"), f"IMP_{client.name}"
    )
    assert name == patient
    assert uri == f"/data/projects/IMP_{client.name}/subjects/Doe_B/experiments/{patient}"
    assert await client.get_json(uri)
