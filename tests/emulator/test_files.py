"""Resource files over loopback: uploads (raw, multipart, archives), downloads, zips, catalogs."""

from __future__ import annotations

import hashlib
import io
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator

import httpx
import pytest

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle

CAT = "{http://nrg.wustl.edu/catalog}"
SCAN = "/data/experiments/XNAT_E00001/scans/1"
FILES = f"{SCAN}/resources/DICOM/files"


@pytest.fixture
def client(xnat_emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as c:
        c.put("/data/projects/P1")
        c.put("/data/projects/P1/subjects/S1")
        c.put(
            "/data/projects/P1/subjects/S1/experiments/MR1",
            params={"xsiType": "xnat:mrSessionData"},
        )
        c.put(SCAN, params={"xsiType": "xnat:mrScanData", "type": "T1"})
        yield c


def file_rows(client: httpx.Client, url: str = FILES) -> dict[str, dict[str, str]]:
    result = client.get(url, params={"format": "json"}).json()["ResultSet"]["Result"]
    return {row["URI"].split("/files/", 1)[1]: row for row in result}


def test_inbody_upload_listing_and_download(client: httpx.Client) -> None:
    payload = bytes(range(256)) * 1000
    put = client.put(
        f"{FILES}/dir/a.dcm", params={"inbody": "true", "format": "DICOM"}, content=payload
    )
    assert put.status_code == 200
    rows = file_rows(client)
    row = rows["dir/a.dcm"]
    assert list(row) == [
        "Name",
        "Size",
        "URI",
        "collection",
        "file_tags",
        "file_format",
        "file_content",
        "cat_ID",
        "digest",
    ]
    assert row["Name"] == "a.dcm"
    assert row["Size"] == str(len(payload))
    assert row["digest"] == hashlib.md5(payload).hexdigest()
    assert row["collection"] == "DICOM"
    assert row["file_format"] == "DICOM"
    got = client.get(f"{FILES}/dir/a.dcm")
    assert got.status_code == 200
    assert got.content == payload
    assert client.get(row["URI"]).content == payload
    [resource] = client.get(f"{SCAN}/resources?format=json").json()["ResultSet"]["Result"]
    assert resource["label"] == "DICOM"
    assert resource["file_count"] == "1"
    assert resource["file_size"] == str(len(payload))


def test_range_requests(client: httpx.Client) -> None:
    payload = b"0123456789" * 10
    client.put(f"{FILES}/r.bin", params={"inbody": "true"}, content=payload)
    part = client.get(f"{FILES}/r.bin", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == payload[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(payload)}"
    tail = client.get(f"{FILES}/r.bin", headers={"Range": "bytes=95-"})
    assert tail.content == payload[95:]
    assert client.get(f"{FILES}/r.bin", headers={"Range": "bytes=500-600"}).status_code == 416


def test_overwrite_rules(client: httpx.Client) -> None:
    assert (
        client.put(f"{FILES}/a.txt", params={"inbody": "true"}, content=b"one").status_code == 200
    )
    again = client.put(f"{FILES}/a.txt", params={"inbody": "true"}, content=b"two")
    assert again.status_code == 409
    assert client.get(f"{FILES}/a.txt").content == b"one"
    forced = client.put(
        f"{FILES}/a.txt", params={"inbody": "true", "overwrite": "true"}, content=b"two"
    )
    assert forced.status_code == 200
    assert client.get(f"{FILES}/a.txt").content == b"two"


def test_multipart_upload(client: httpx.Client) -> None:
    files = [("file", ("x.nii", b"nifti-x")), ("file", ("y.nii", b"nifti-y"))]
    response = client.post(f"{SCAN}/resources/NIFTI/files", files=files)
    assert response.status_code == 200
    rows = file_rows(client, f"{SCAN}/resources/NIFTI/files")
    assert set(rows) == {"x.nii", "y.nii"}
    single = client.put(f"{SCAN}/resources/NIFTI/files/sub/z.nii", files={"f": ("ignored", b"z")})
    assert single.status_code == 200
    assert client.get(f"{SCAN}/resources/NIFTI/files/sub/z.nii").content == b"z"


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def make_tgz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "maker"), [("up.zip", make_zip), ("up.tar.gz", make_tgz)])
def test_extract_archives(
    client: httpx.Client, name: str, maker: Callable[[dict[str, bytes]], bytes]
) -> None:
    members = {"a/1.dcm": b"one", "a/2.dcm": b"two", "b.txt": b"three"}
    body = maker(members)
    response = client.put(
        f"{FILES}/{name}", params={"inbody": "true", "extract": "true"}, content=body
    )
    assert response.status_code == 200, response.text
    rows = file_rows(client)
    assert set(rows) == set(members)
    for path, data in members.items():
        assert client.get(f"{FILES}/{path}").content == data
    # extracting again without overwrite conflicts and changes nothing
    again = client.put(
        f"{FILES}/{name}",
        params={"inbody": "true", "extract": "true"},
        content=maker({"a/1.dcm": b"changed"}),
    )
    assert again.status_code == 409
    assert client.get(f"{FILES}/a/1.dcm").content == b"one"


def test_extract_rejects_non_archives_and_traversal(client: httpx.Client) -> None:
    bad = client.put(
        f"{FILES}/x.zip", params={"inbody": "true", "extract": "true"}, content=b"not an archive"
    )
    assert bad.status_code == 400
    evil = client.put(
        f"{FILES}/e.zip",
        params={"inbody": "true", "extract": "true"},
        content=make_zip({"../../escape.txt": b"x"}),
    )
    assert evil.status_code == 400
    assert file_rows(client) == {}


def test_zip_downloads_at_every_level(client: httpx.Client) -> None:
    client.put(f"{FILES}/1.dcm", params={"inbody": "true"}, content=b"scan-file")
    client.put(
        "/data/experiments/XNAT_E00001/resources/NOTES/files/n.txt",
        params={"inbody": "true"},
        content=b"session-file",
    )
    resource_zip = zipfile.ZipFile(io.BytesIO(client.get(FILES, params={"format": "zip"}).content))
    assert resource_zip.namelist() == ["MR1/scans/1-T1/resources/DICOM/files/1.dcm"]
    assert resource_zip.read(resource_zip.namelist()[0]) == b"scan-file"
    all_scans = client.get("/data/experiments/XNAT_E00001/scans/ALL/files?format=zip")
    assert zipfile.ZipFile(io.BytesIO(all_scans.content)).namelist() == [
        "MR1/scans/1-T1/resources/DICOM/files/1.dcm"
    ]
    session = client.get("/data/experiments/XNAT_E00001", params={"format": "zip"})
    assert session.headers["content-type"] == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(session.content)).namelist()) == [
        "MR1/resources/NOTES/files/n.txt",
        "MR1/scans/1-T1/resources/DICOM/files/1.dcm",
    ]
    project = client.get("/data/projects/P1/files", params={"format": "zip"})
    assert len(zipfile.ZipFile(io.BytesIO(project.content)).namelist()) == 2


def test_catalog_document_and_refresh(client: httpx.Client, xnat_emulator: EmulatorHandle) -> None:
    client.put(f"{FILES}/1.dcm", params={"inbody": "true", "content": "RAW"}, content=b"abc")
    catalog = ET.fromstring(client.get(f"{SCAN}/resources/DICOM", params={"format": "xml"}).content)
    assert catalog.tag == f"{CAT}Catalog"
    [entry] = catalog.iter(f"{CAT}entry")
    assert entry.get("URI") == "1.dcm"
    assert entry.get("digest") == hashlib.md5(b"abc").hexdigest()
    assert entry.get("content") == "RAW"
    size = entry.find(f"{CAT}metaFields/{CAT}metaField[@name='size_in_bytes']")
    assert size is not None and size.text == "3"
    # a blob changed behind the server's back: refresh recomputes size and digest
    [blob] = [p for p in (xnat_emulator.data_dir / "blobs").rglob("*") if p.is_file()]
    blob.write_bytes(b"abcdef")
    refreshed = client.post(
        "/data/services/refresh/catalog",
        params={
            "resource": "/archive/experiments/XNAT_E00001",
            "options": "populateStats,checksum",
        },
    )
    assert refreshed.status_code == 200
    row = file_rows(client)["1.dcm"]
    assert row["Size"] == "6"
    assert row["digest"] == hashlib.md5(b"abcdef").hexdigest()


def test_delete_file_and_missing_file(client: httpx.Client) -> None:
    client.put(f"{FILES}/gone.txt", params={"inbody": "true"}, content=b"x")
    assert client.delete(f"{FILES}/gone.txt").status_code == 200
    assert client.get(f"{FILES}/gone.txt").status_code == 404
    assert client.delete(f"{FILES}/gone.txt").status_code == 404
    assert client.put(
        f"{FILES}/../up.txt", params={"inbody": "true"}, content=b"x"
    ).status_code in (400, 404)
