"""Prearchive listing, session/scan/file reads, actions and the DICOM dump over loopback (httpx)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import httpx
import pytest
from dicom_factory import Study, make_series, pack_zip

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle

EXAMPLE = Path(__file__).resolve().parents[3] / "shared/reference/examples"


@pytest.fixture
def client(xnat_emulator: EmulatorHandle) -> httpx.Client:
    return httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password), timeout=30
    )


def upload(client: httpx.Client, tmp_path: Path, study: Study, **params: str) -> str:
    files = make_series(tmp_path / "a", study, series_number=4, series_description="T1", count=2)
    files += make_series(tmp_path / "b", study, series_number=6, series_description="BOLD", count=1)
    body = pack_zip(files, tmp_path / "upload.zip").read_bytes()
    answer = client.post(
        "/data/services/import",
        params=params,
        content=body,
        headers={"Content-Type": "application/zip"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.endswith("\r\n")
    return answer.text.strip()


def test_import_to_prearchive_and_list(client: httpx.Client, tmp_path: Path) -> None:
    uri = upload(client, tmp_path, Study(patient_name="Doe^J", patient_id="SESS9"))
    assert re.fullmatch(r"/data/prearchive/projects/Unassigned/\d{8}_\d{9}/SESS9", uri)
    listing = client.get("/data/prearchive/projects", params={"format": "json"})
    assert listing.status_code == 200
    assert listing.headers["content-type"].startswith("application/json")
    result = listing.json()["ResultSet"]
    assert result["totalRecords"] == "1"
    (row,) = result["Result"]
    example = json.loads((EXAMPLE / "prearchive_projects_listing.json").read_text())
    assert set(row) == set(example["ResultSet"]["Result"][0])
    assert row["url"] == uri.removeprefix("/data")
    assert (row["status"], row["subject"], row["name"]) == ("READY", "Doe_J", "SESS9")
    assert row["scan_date"] == "2024-01-02"
    by_project = client.get("/data/prearchive/projects/Unassigned", params={"format": "json"})
    assert by_project.json()["ResultSet"]["Result"] == [row]
    empty = client.get("/data/prearchive/projects/OTHER", params={"format": "json"})
    assert empty.json()["ResultSet"]["Result"] == []


def test_session_scans_resources_and_files(client: httpx.Client, tmp_path: Path) -> None:
    uri = upload(client, tmp_path, Study(patient_id="S2"))
    session = client.get(uri, params={"format": "json"}).json()["ResultSet"]["Result"]
    assert [r["name"] for r in session] == ["S2"]
    scans = client.get(f"{uri}/scans", params={"format": "json"}).json()["ResultSet"]["Result"]
    assert scans == [
        {"ID": "4", "xsiType": "xnat:mrScanData", "series_description": "T1"},
        {"ID": "6", "xsiType": "xnat:mrScanData", "series_description": "BOLD"},
    ]
    resources = client.get(f"{uri}/scans/4/resources", params={"format": "json"})
    rows = resources.json()["ResultSet"]["Result"]
    assert [(r["cat_id"], r["label"], r["file_count"]) for r in rows] == [
        ("4", "DICOM", "2"),
        ("6", "DICOM", "1"),
    ]
    scan = client.get(f"{uri}/scans/4", params={"format": "json"}).json()["ResultSet"]["Result"]
    assert scan[0]["label"] == "DICOM" and scan[0]["file_count"] == "2"
    files = client.get(f"{uri}/scans/4/resources/DICOM/files", params={"format": "json"})
    file_rows = files.json()["ResultSet"]["Result"]
    assert len(file_rows) == 2
    first = file_rows[0]
    assert first["URI"] == f"{uri}/scans/4/resources/DICOM/files/{first['Name']}"
    content = client.get(first["URI"])
    assert content.status_code == 200
    assert content.content[128:132] == b"DICM"
    assert len(content.content) == int(first["Size"])
    missing = client.get(f"{uri}/scans/99", params={"format": "json"})
    assert missing.status_code == 404


def test_session_zip_download(client: httpx.Client, tmp_path: Path) -> None:
    uri = upload(client, tmp_path, Study(patient_id="Z1"))
    answer = client.get(uri, params={"format": "zip"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert len(names) == 3
    assert all(n.startswith("Z1/SCANS/") and "/DICOM/" in n for n in names)


def test_dicomdump_reads_real_headers(client: httpx.Client, tmp_path: Path) -> None:
    uri = upload(client, tmp_path, Study(patient_id="DUMP1", patient_name="Roe^R"))
    src = uri.removeprefix("/data")
    answer = client.get("/data/services/dicomdump", params={"src": src, "format": "json"})
    assert answer.status_code == 200
    rows = answer.json()["ResultSet"]["Result"]
    assert set(rows[0]) == {"tag1", "tag2", "vr", "value", "desc"}
    values = {r["tag1"]: r["value"] for r in rows}
    assert values["(0010,0020)"] == "DUMP1"
    assert values["(0010,0010)"] == "Roe^R"
    scan_only = client.get(
        "/data/services/dicomdump",
        params=[("src", f"{src}/scans/6"), ("field", "SeriesDescription"), ("format", "json")],
    )
    assert scan_only.json()["ResultSet"]["Result"] == [
        {
            "tag1": "(0008,103E)",
            "tag2": "",
            "vr": "LO",
            "value": "BOLD",
            "desc": "Series Description",
        }
    ]
    bad = client.get("/data/services/dicomdump", params={"src": "/nowhere", "format": "json"})
    assert bad.status_code == 400
    unknown = client.get(
        "/data/services/dicomdump", params={"src": f"{src}/scans/6", "field": "Nope"}
    )
    assert unknown.status_code == 400
    assert "Unknown DICOM field: Nope" in unknown.text


def test_rebuild_delete_and_errors(client: httpx.Client, tmp_path: Path) -> None:
    uri = upload(client, tmp_path, Study(patient_id="R1"))
    src = uri.removeprefix("/data")
    rebuilt = client.post("/data/services/prearchive/rebuild", params={"src": src})
    assert rebuilt.status_code == 200
    assert rebuilt.json()[0]["status"] == "READY"
    moved = client.post(
        "/data/services/prearchive/move", params={"src": src, "newProject": "NOPROJECT"}
    )
    assert moved.status_code == 404
    assert "NOPROJECT" in moved.text
    deleted = client.post("/data/services/prearchive/delete", params={"src": src})
    assert deleted.status_code == 200
    assert client.get(uri, params={"format": "json"}).status_code == 404
    listing = client.get("/data/prearchive/projects", params={"format": "json"})
    assert listing.json()["ResultSet"]["Result"] == []
    missing = client.post("/data/services/prearchive/delete", params={"src": src})
    assert missing.status_code == 404
    no_src = client.post("/data/services/archive")
    assert no_src.status_code == 400


def test_import_rejects_bad_uploads(client: httpx.Client, tmp_path: Path) -> None:
    junk = client.post(
        "/data/services/import",
        content=b"this is not dicom",
        headers={"Content-Type": "text/plain"},
    )
    assert junk.status_code == 400
    assert "not a DICOM file" in junk.text
    empty = client.post("/data/services/import", content=b"")
    assert empty.status_code == 400
    bad_dest = client.post("/data/services/import", params={"dest": "/elsewhere"}, content=b"x")
    assert bad_dest.status_code == 400
    bad_overwrite = client.post("/data/services/import", params={"overwrite": "x"}, content=b"x")
    assert bad_overwrite.status_code == 400
    unknown_project = upload_status(client, tmp_path, project="NOSUCH")
    assert unknown_project == 404
    to_archive_unrouted = upload_status(client, tmp_path, dest="/archive")
    assert to_archive_unrouted == 400
    assert (
        client.get("/data/prearchive/projects", params={"format": "json"}).json()["ResultSet"][
            "Result"
        ]
        == []
    ), "a refused import must leave nothing behind"


def upload_status(client: httpx.Client, tmp_path: Path, **params: str) -> int:
    files = make_series(tmp_path / "u", Study(), count=1)
    body = pack_zip(files, tmp_path / "u.zip").read_bytes()
    return client.post("/data/services/import", params=params, content=body).status_code


def test_anonymous_is_refused(xnat_emulator: EmulatorHandle) -> None:
    anonymous = httpx.get(f"{xnat_emulator.url}/data/prearchive/projects")
    assert anonymous.status_code == 401


@pytest.mark.parametrize("label", ["../escape", "a/b", "bad label", "x;y"])
def test_import_rejects_labels_xnat_forbids(
    client: httpx.Client, xnat_emulator: EmulatorHandle, tmp_path: Path, label: str
) -> None:
    files = make_series(tmp_path / "l", Study(), count=1)
    body = pack_zip(files, tmp_path / "l.zip").read_bytes()
    answer = client.post("/data/services/import", params={"session": label}, content=body)
    assert answer.status_code == 400
    assert "Invalid session label" in answer.text
    assert not list(xnat_emulator.data_dir.glob("**/escape"))
    listing = client.get("/data/prearchive/projects", params={"format": "json"})
    assert listing.json()["ResultSet"]["Result"] == []


def test_concurrent_imports_each_get_their_own_session(
    client: httpx.Client, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bodies = [
        pack_zip(
            make_series(tmp_path / f"c{n}", Study(patient_id="SAME"), count=2),
            tmp_path / f"c{n}.zip",
        ).read_bytes()
        for n in range(8)
    ]

    def send(body: bytes) -> str:
        answer = client.post("/data/services/import", content=body)
        assert answer.status_code == 200, answer.text
        return answer.text.strip()

    with ThreadPoolExecutor(max_workers=8) as pool:
        uris = list(pool.map(send, bodies))
    assert len(set(uris)) == 8, "same label, same moment: still eight timestamp folders"
    listing = client.get("/data/prearchive/projects", params={"format": "json"})
    rows = listing.json()["ResultSet"]["Result"]
    assert sorted(f"/data{r['url']}" for r in rows) == sorted(uris)
    assert all(r["status"] == "READY" for r in rows)
