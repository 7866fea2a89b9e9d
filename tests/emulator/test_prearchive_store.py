"""The on-disk prearchive store: receive, list, statuses, move, rebuild, delete (no server)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dicom_factory import Study, make_series

from xnat_sdk.emulator.dicom_import import RoutingOverrides, read_instances, route_instances
from xnat_sdk.emulator.prearchive import (
    LISTING_COLUMNS,
    UNASSIGNED,
    PrearchiveEntry,
    PrearchiveError,
    PrearchiveStore,
    dicom_date,
    dicom_time,
    java_timestamp,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "shared/reference/examples"


def receive(store: PrearchiveStore, tmp: Path, project: str | None = "P1") -> PrearchiveEntry:
    study = Study(patient_name="Doe^J", patient_id="SESS1")
    files = make_series(tmp / "a", study, series_number=2, series_description="T2", count=2)
    files += make_series(tmp / "b", study, series_number=10, series_description="DWI", count=1)
    instances = read_instances(files, ignore_unparsable=False)
    (session,) = route_instances(instances, RoutingOverrides(project=project), lambda _: None)
    return store.receive(session)


def test_receive_files_the_session(tmp_path: Path) -> None:
    store = PrearchiveStore(tmp_path / "data")
    entry = receive(store, tmp_path)
    assert entry.status == "READY"
    assert re.fullmatch(r"\d{8}_\d{9}", entry.timestamp)
    assert [s.id for s in entry.scans] == ["2", "10"]
    assert [s.frames for s in entry.scans] == [2, 1]
    folder = tmp_path / "data/prearchive/P1" / entry.timestamp / "SESS1/SCANS/2/DICOM"
    assert len(list(folder.iterdir())) == 2
    assert store.file_path(entry, "10", store.scan_files(entry, "10")[0].name).is_file()
    assert store.get("P1", entry.timestamp, "SESS1") == entry


def test_listing_row_matches_the_reference_example(tmp_path: Path) -> None:
    store = PrearchiveStore(tmp_path / "data")
    entry = receive(store, tmp_path)
    row = entry.row()
    example_file = EXAMPLE / "prearchive_projects_listing.json"
    example = json.loads(example_file.read_text())["ResultSet"]["Result"][0]
    assert set(row) == set(example)
    assert tuple(row) == LISTING_COLUMNS
    assert row["url"] == f"/prearchive/projects/P1/{entry.timestamp}/SESS1"
    assert row["scan_date"] == "2024-01-02"
    assert row["scan_time"] == "09:30:15.250"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", row["uploaded"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+", row["lastmod"])
    assert all(isinstance(v, str) for v in row.values())


def test_unassigned_and_listing_by_project(tmp_path: Path) -> None:
    store = PrearchiveStore(tmp_path / "data")
    receive(store, tmp_path / "x", project=None)
    receive(store, tmp_path / "y", project="P1")
    assert {e.project for e in store.entries()} == {UNASSIGNED, "P1"}
    assert [e.project for e in store.entries("P1")] == ["P1"]
    assert store.entries("NOPE") == []


def test_status_move_rebuild_delete(tmp_path: Path) -> None:
    store = PrearchiveStore(tmp_path / "data")
    entry = receive(store, tmp_path)
    assert store.set_status(entry, "CONFLICT").status == "CONFLICT"
    moved = store.move(entry, "P2")
    assert (moved.project, moved.status) == ("P2", "READY")
    with pytest.raises(PrearchiveError) as gone:
        store.get("P1", entry.timestamp, entry.name)
    assert gone.value.status == 404
    rebuilt = store.rebuild(moved)
    assert [s.id for s in rebuilt.scans] == ["2", "10"]
    assert rebuilt.status == "READY"
    store.delete(rebuilt)
    assert store.entries() == []
    assert not (tmp_path / "data/prearchive/P2" / entry.timestamp).exists()


def test_get_by_url_rejects_bad_paths(tmp_path: Path) -> None:
    store = PrearchiveStore(tmp_path / "data")
    entry = receive(store, tmp_path)
    assert store.get_by_url("/data" + entry.url) == entry
    assert store.get_by_url(entry.url) == entry
    for bad, status in [("/archive/x", 400), ("/prearchive/projects/P1/../x/y", 404)]:
        with pytest.raises(PrearchiveError) as error:
            store.get_by_url(bad)
        assert error.value.status == status
    with pytest.raises(PrearchiveError, match="Invalid project"):
        store.move(entry, "../evil")


def test_formats() -> None:
    from datetime import datetime

    assert java_timestamp(datetime(2022, 1, 18, 16, 41, 25)) == "2022-01-18 16:41:25.0"
    assert java_timestamp(datetime(2022, 1, 18, 16, 41, 25, 120000)) == "2022-01-18 16:41:25.12"
    assert dicom_date("20010924") == "2001-09-24"
    assert dicom_date("bad") == ""
    assert dicom_time("085211.146") == "08:52:11.146"
    assert dicom_time("0852") == "08:52:00"
    assert dicom_time("") == ""
