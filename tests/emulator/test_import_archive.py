"""Import straight to the archive and archiving from the prearchive, over loopback (httpx)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from dicom_factory import Study, make_series, pack_tar, pack_zip

from xnat_sdk.emulator.prearchive import PrearchiveStatus, PrearchiveStore
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle


@pytest.fixture
def client(xnat_emulator: EmulatorHandle) -> httpx.Client:
    client = httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password), timeout=30
    )
    for project in ("P1", "P2"):
        assert client.put(f"/data/projects/{project}").status_code in (200, 201)
    return client


def study_upload(tmp_path: Path, study: Study, *, series: tuple[int, ...] = (1, 2)) -> bytes:
    files: list[Path] = []
    for number in series:
        files += make_series(
            tmp_path / f"s{number}", study, series_number=number, series_description=f"S{number}"
        )
    return pack_zip(files, tmp_path / "upload.zip").read_bytes()


def rows(client: httpx.Client, path: str) -> list[dict[str, str]]:
    answer = client.get(path, params={"format": "json"})
    assert answer.status_code == 200, answer.text
    result: list[dict[str, str]] = answer.json()["ResultSet"]["Result"]
    return result


def test_direct_archive_creates_session_scans_and_files(
    client: httpx.Client, tmp_path: Path
) -> None:
    body = study_upload(tmp_path, Study(patient_name="Doe^A", patient_id="MR_A"))
    answer = client.post(
        "/data/services/import", params={"project": "P1", "dest": "/archive"}, content=body
    )
    assert answer.status_code == 200, answer.text
    assert answer.text == "/data/archive/projects/P1/subjects/Doe_A/experiments/MR_A\r\n"
    experiments = rows(client, "/data/projects/P1/experiments")
    assert [(e["label"], e["xsiType"]) for e in experiments] == [("MR_A", "xnat:mrSessionData")]
    session = client.get(answer.text.strip(), params={"format": "json"}).json()
    data_fields = session["items"][0]["data_fields"]
    assert data_fields["date"] == "2024-01-02"
    assert data_fields["modality"] == "MR"
    base = "/data/projects/P1/subjects/Doe_A/experiments/MR_A"
    scans = rows(client, f"{base}/scans")
    assert sorted(s["ID"] for s in scans) == ["1", "2"]
    assert {s["series_description"] for s in scans} == {"S1", "S2"}
    files = rows(client, f"{base}/scans/1/resources/DICOM/files")
    assert len(files) == 2
    content = client.get(files[0]["URI"])
    assert content.content[128:132] == b"DICM"
    assert rows(client, "/data/prearchive/projects") == [], "archived sessions leave"


def test_project_from_headers_and_routing_to_unassigned(
    client: httpx.Client, tmp_path: Path
) -> None:
    routed = study_upload(tmp_path / "a", Study(patient_id="HDR1", study_description="P2"))
    answer = client.post("/data/services/import", content=routed)
    assert answer.text.strip().startswith("/data/prearchive/projects/P2/")
    unknown = study_upload(tmp_path / "b", Study(patient_id="HDR2", study_description="NOPE"))
    answer = client.post("/data/services/import", content=unknown)
    assert answer.text.strip().startswith("/data/prearchive/projects/Unassigned/")


def test_archive_from_prearchive_with_overrides_and_conflicts(
    client: httpx.Client, tmp_path: Path
) -> None:
    first = study_upload(tmp_path / "1", Study(patient_id="SESS"), series=(1,))
    src = client.post("/data/services/import", params={"project": "P1"}, content=first)
    src_path = src.text.strip()
    archived = client.post(
        "/data/services/archive",
        params={"src": src_path, "subject": "SUBJX", "session": "SESS_X"},
    )
    assert archived.status_code == 200, archived.text
    assert archived.text.strip() == "/data/archive/projects/P1/subjects/SUBJX/experiments/SESS_X"
    assert client.get(src_path, params={"format": "json"}).status_code == 404

    # the same label again: refused by default, left in the prearchive as CONFLICT
    again = study_upload(tmp_path / "2", Study(patient_id="SESS"), series=(1,))
    src2 = client.post("/data/services/import", params={"project": "P1"}, content=again)
    src2_path = src2.text.strip()
    params = {"src": src2_path, "subject": "SUBJX", "session": "SESS_X"}
    refused = client.post("/data/services/archive", params=params)
    assert refused.status_code == 409
    assert "already exists" in refused.text
    (row,) = rows(client, src2_path)
    assert row["status"] == "CONFLICT"
    appended = client.post("/data/services/archive", params={**params, "overwrite": "append"})
    assert appended.status_code == 409, "append refuses a scan that is already there"
    replaced = client.post("/data/services/archive", params={**params, "overwrite": "delete"})
    assert replaced.status_code == 200, replaced.text
    files = rows(client, f"{replaced.text.strip()}/scans/1/resources/DICOM/files")
    assert len(files) == 2

    # append adds new scans
    more = study_upload(tmp_path / "3", Study(patient_id="SESS"), series=(7,))
    src3 = client.post("/data/services/import", params={"project": "P1"}, content=more)
    appended = client.post(
        "/data/services/archive",
        params={
            "src": src3.text.strip(),
            "subject": "SUBJX",
            "session": "SESS_X",
            "overwrite": "append",
        },
    )
    assert appended.status_code == 200, appended.text
    scans = rows(client, f"{appended.text.strip()}/scans")
    assert sorted(s["ID"] for s in scans) == ["1", "7"]


def test_archive_errors(client: httpx.Client, tmp_path: Path) -> None:
    body = study_upload(tmp_path, Study(patient_id="ERR1"))
    unassigned = client.post("/data/services/import", content=body).text.strip()
    no_project = client.post("/data/services/archive", params={"src": unassigned})
    assert no_project.status_code == 400
    assert "no project" in no_project.text
    missing_project = client.post(
        "/data/services/archive", params={"src": unassigned, "project": "NOPE"}
    )
    assert missing_project.status_code == 404
    moved = client.post(
        "/data/services/prearchive/move", params={"src": unassigned, "newProject": "P2"}
    )
    assert moved.status_code == 200
    new_src = moved.json()[0]["url"]
    assert new_src.startswith("/prearchive/projects/P2/")
    archived = client.post("/data/services/archive", params={"src": new_src})
    assert archived.status_code == 200
    assert "/projects/P2/" in archived.text
    unknown = client.post("/data/services/archive", params={"src": new_src})
    assert unknown.status_code == 404


def test_tar_gz_upload_and_dicomdump_of_archive(client: httpx.Client, tmp_path: Path) -> None:
    files = make_series(tmp_path / "d", Study(patient_id="TGZ1", patient_name="T"), modality="CT")
    body = pack_tar(files, tmp_path / "u.tar.gz", gzip=True).read_bytes()
    answer = client.post(
        "/data/services/import",
        params={"project": "P1", "dest": "/archive"},
        content=body,
        headers={"Content-Type": "application/x-tar"},
    )
    assert answer.status_code == 200, answer.text
    experiments = rows(client, "/data/projects/P1/experiments")
    assert [e["xsiType"] for e in experiments] == ["xnat:ctSessionData"]
    dump = client.get(
        "/data/services/dicomdump",
        params={"src": "/archive/projects/P1/experiments/TGZ1", "format": "json"},
    )
    assert dump.status_code == 200, dump.text
    values = {r["tag1"]: r["value"] for r in dump.json()["ResultSet"]["Result"]}
    assert values["(0010,0020)"] == "TGZ1"
    assert values["(0008,0060)"] == "CT"


def test_multipart_upload(client: httpx.Client, tmp_path: Path) -> None:
    body = study_upload(tmp_path, Study(patient_id="MP1"))
    answer = client.post(
        "/data/services/import",
        params={"project": "P1"},
        files={"file": ("upload.zip", body, "application/zip")},
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.strip().endswith("/MP1")


def test_search_over_archived_sessions(client: httpx.Client, tmp_path: Path) -> None:
    for label in ("MR_ONE", "MR_TWO"):
        body = study_upload(tmp_path / label, Study(patient_id=label, patient_name="Same^S"))
        params = {"project": "P1", "dest": "/archive"}
        assert client.post("/data/services/import", params=params, content=body).status_code == 200
    document = (
        '<xdat:bundle xmlns:xdat="http://nrg.wustl.edu/security">'
        "<xdat:root_element_name>xnat:mrSessionData</xdat:root_element_name>"
        "<xdat:search_field><xdat:element_name>xnat:mrSessionData</xdat:element_name>"
        "<xdat:field_ID>xnat:mrSessionData/ID</xdat:field_ID></xdat:search_field>"
        "<xdat:search_field><xdat:element_name>xnat:mrSessionData</xdat:element_name>"
        "<xdat:field_ID>xnat:mrSessionData/label</xdat:field_ID></xdat:search_field>"
        "<xdat:search_field><xdat:element_name>xnat:mrSessionData</xdat:element_name>"
        "<xdat:field_ID>xnat:mrSessionData/subject_ID</xdat:field_ID></xdat:search_field>"
        '<xdat:search_where method="AND"><xdat:criteria>'
        "<xdat:schema_field>xnat:mrSessionData/label</xdat:schema_field>"
        "<xdat:comparison_type>LIKE</xdat:comparison_type><xdat:value>%TWO</xdat:value>"
        "</xdat:criteria></xdat:search_where></xdat:bundle>"
    )
    answer = client.post("/data/search", params={"format": "json"}, content=document)
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["ResultSet"]["Result"]
    assert set(row) == {"session_id", "label", "subject_id"}
    assert row["label"] == "MR_TWO"
    assert row["session_id"].startswith("XNAT_E")
    assert row["subject_id"].startswith("XNAT_S")
    as_csv = client.post("/data/search", params={"format": "csv"}, content=document)
    assert as_csv.text.splitlines()[0] == "session_id,label,subject_id"
    bad = client.post("/data/search", content="<nope")
    assert bad.status_code == 400
    elements = rows(client, "/data/search/elements")
    counts = {e["ELEMENT_NAME"]: e["COUNT"] for e in elements}
    assert counts["xnat:mrSessionData"] == "2"
    assert counts["xnat:subjectData"] == "1"
    fields = rows(client, "/data/search/elements/xnat:mrSessionData")
    assert "SESSION_ID" in {f["FIELD_ID"] for f in fields}
    unknown = client.get("/data/search/elements/xnat:noSuchType", params={"format": "json"})
    assert unknown.status_code == 400


def test_failed_archive_changes_nothing(client: httpx.Client, tmp_path: Path) -> None:
    first = study_upload(tmp_path / "1", Study(patient_id="ATOM"), series=(1,))
    params = {"project": "P1", "dest": "/archive", "subject": "SUBJ_A"}
    assert client.post("/data/services/import", params=params, content=first).status_code == 200
    base = "/data/projects/P1/subjects/SUBJ_A/experiments/ATOM"
    before = rows(client, f"{base}/scans/1/resources/DICOM/files")
    second = study_upload(tmp_path / "2", Study(patient_id="ATOM"), series=(1,))
    src = client.post("/data/services/import", params={"project": "P1"}, content=second)
    # overwrite=delete removes scan 1 inside the transaction, then the bad subject label fails
    failed = client.post(
        "/data/services/archive",
        params={"src": src.text.strip(), "overwrite": "delete", "subject": "bad label!"},
    )
    assert failed.status_code == 400, failed.text
    after = rows(client, f"{base}/scans/1/resources/DICOM/files")
    assert after == before
    for row in after:
        assert client.get(row["URI"]).content[128:132] == b"DICM"
    (left,) = rows(client, src.text.strip())
    assert left["status"] == "ERROR"


@pytest.mark.parametrize("status", ["RECEIVING", "BUILDING", "ARCHIVING", "MOVING"])
def test_archive_refuses_sessions_in_transit(
    client: httpx.Client, xnat_emulator: EmulatorHandle, tmp_path: Path, status: PrearchiveStatus
) -> None:
    body = study_upload(tmp_path, Study(patient_id="BUSY"))
    src = client.post("/data/services/import", params={"project": "P1"}, content=body).text
    # a server cannot be made to hold a session mid-upload on demand: set the state on disk
    store = PrearchiveStore(xnat_emulator.data_dir)
    store.set_status(store.get_by_url(src.strip()), status)
    refused = client.post("/data/services/archive", params={"src": src.strip()})
    assert refused.status_code == 409
    assert f"the session is {status}" in refused.text
    assert rows(client, "/data/projects/P1/experiments") == []
