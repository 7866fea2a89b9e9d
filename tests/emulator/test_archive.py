"""Archive endpoints over loopback with plain httpx: create, read, list, update, share, delete."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle

XNAT_NS = "{http://nrg.wustl.edu/xnat}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@pytest.fixture
def client(xnat_emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as c:
        yield c


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    result_set = response.json()["ResultSet"]
    assert result_set["totalRecords"] == str(len(result_set["Result"]))
    found: list[dict[str, str]] = result_set["Result"]
    for row in found:
        assert all(isinstance(value, str) for value in row.values()), row
    return found


def make_session(client: httpx.Client) -> str:
    """Project P1 / subject S1 / MR session MR1 with scan 1; returns the session ID."""
    assert client.put("/data/projects/P1", params={"name": "Project One"}).status_code == 200
    assert client.put("/data/projects/P1/subjects/S1").text == "XNAT_S00001"
    created = client.put(
        "/data/projects/P1/subjects/S1/experiments/MR1",
        params={
            "xsiType": "xnat:mrSessionData",
            "xnat:mrSessionData/date": "2024-01-02",
            "xnat:mrSessionData/scanner/manufacturer": "GE",
        },
    )
    assert created.status_code == 201
    assert created.text == "XNAT_E00001"
    scan = client.put(
        f"/data/experiments/{created.text}/scans/1",
        params={"xsiType": "xnat:mrScanData", "type": "T1", "xnat:mrScanData/quality": "usable"},
    )
    assert scan.status_code == 200
    return created.text


def test_project_listing_has_real_columns(client: httpx.Client) -> None:
    make_session(client)
    [project] = rows(client.get("/data/projects", params={"format": "json"}))
    assert list(project) == [
        "ID",
        "secondary_ID",
        "name",
        "description",
        "pi_firstname",
        "pi_lastname",
        "URI",
    ]
    assert project["ID"] == "P1"
    assert project["name"] == "Project One"
    assert project["URI"] == "/data/projects/P1"


def test_accession_ids_and_lookup_by_label_or_id(client: httpx.Client) -> None:
    session_id = make_session(client)
    by_label = client.get("/data/projects/P1/subjects/S1/experiments/MR1?format=json")
    by_id = client.get(f"/data/projects/P1/experiments/{session_id}?format=json")
    global_path = client.get(f"/data/experiments/{session_id}?format=json")
    archive_alias = client.get(f"/data/archive/experiments/{session_id}?format=json")
    items = [r.json()["items"][0] for r in (by_label, by_id, global_path, archive_alias)]
    assert all(item == items[0] for item in items)
    fields = items[0]["data_fields"]
    assert fields["ID"] == session_id
    assert fields["label"] == "MR1"
    assert fields["subject_ID"] == "XNAT_S00001"
    assert fields["date"] == "2024-01-02"
    assert fields["scanner/manufacturer"] == "GE"
    assert items[0]["meta"]["xsi:type"] == "xnat:mrSessionData"
    assert items[0]["meta"]["isHistory"] is False
    [scans] = [c for c in items[0]["children"] if c["field"] == "scans/scan"]
    assert scans["items"][0]["data_fields"]["type"] == "T1"
    subject = client.get("/data/subjects/XNAT_S00001?format=json").json()["items"][0]
    assert subject["data_fields"]["label"] == "S1"


def test_object_xml_document(client: httpx.Client) -> None:
    session_id = make_session(client)
    response = client.get(f"/data/experiments/{session_id}", params={"format": "xml"})
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == f"{XNAT_NS}MRSession"
    assert root.get("ID") == session_id
    assert root.get("label") == "MR1"
    assert root.get("project") == "P1"
    assert root.findtext(f"{XNAT_NS}date") == "2024-01-02"
    scanner = root.find(f"{XNAT_NS}scanner")
    assert scanner is not None and scanner.get("manufacturer") == "GE"
    scan = root.find(f"{XNAT_NS}scans/{XNAT_NS}scan")
    assert scan is not None
    assert scan.get(XSI_TYPE) == "xnat:mrScanData"
    assert scan.get("ID") == "1"
    assert scan.get("type") == "T1"


def test_create_from_xml_body_with_scans(client: httpx.Client) -> None:
    assert client.put("/data/projects/P1").status_code == 200
    assert client.put("/data/projects/P1/subjects/S1").status_code == 201
    document = (
        b'<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" label="MRX" project="P1">'
        b"<xnat:date>2023-05-06</xnat:date>"
        b'<xnat:scanner manufacturer="SIEMENS" model="Prisma">SCN</xnat:scanner>'
        b'<xnat:fields><xnat:field name="weight">70</xnat:field></xnat:fields>'
        b'<xnat:scans><xnat:scan xsi:type="xnat:mrScanData" ID="7" type="DWI"/></xnat:scans>'
        b"</xnat:MRSession>"
    )
    created = client.put(
        "/data/projects/P1/subjects/S1/experiments/MRX",
        content=document,
        headers={"content-type": "text/xml"},
    )
    assert created.status_code == 201, created.text
    item = client.get(f"/data/experiments/{created.text}?format=json").json()["items"][0]
    assert item["data_fields"]["date"] == "2023-05-06"
    assert item["data_fields"]["scanner/model"] == "Prisma"
    assert item["data_fields"]["scanner"] == "SCN"
    children = {c["field"]: c["items"] for c in item["children"]}
    assert children["scans/scan"][0]["data_fields"]["ID"] == "7"
    assert children["fields/field"][0]["data_fields"] == {"name": "weight", "field": "70"}


def test_listing_columns_filters_and_formats(client: httpx.Client) -> None:
    session_id = make_session(client)
    client.put(
        "/data/projects/P1/subjects/S1/experiments/CT1",
        params={"xsiType": "xnat:ctSessionData", "xnat:ctSessionData/date": "2022-02-02"},
    )
    all_rows = rows(client.get("/data/projects/P1/experiments", params={"format": "json"}))
    assert list(all_rows[0]) == ["ID", "project", "label", "xsiType", "date", "insert_date", "URI"]
    assert {r["label"] for r in all_rows} == {"MR1", "CT1"}
    mr_only = rows(
        client.get("/data/experiments", params={"format": "json", "xsiType": "xnat:mrSessionData"})
    )
    assert [r["ID"] for r in mr_only] == [session_id]
    picked = rows(
        client.get(
            "/data/projects/P1/experiments",
            params={"format": "json", "columns": "ID,label,xnat:mrSessionData/date", "label": "M*"},
        )
    )
    assert picked == [
        {
            "ID": session_id,
            "label": "MR1",
            "xnat:mrSessionData/date": "2024-01-02",
            "URI": f"/data/experiments/{session_id}",
        }
    ]
    as_csv = client.get(f"/data/experiments/{session_id}/scans", params={"format": "csv"})
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert table[0]["ID"] == "1" and table[0]["type"] == "T1" and table[0]["quality"] == "usable"
    as_xml = ET.fromstring(client.get("/data/projects", params={"format": "xml"}).content)
    assert next(c.text for c in as_xml.iter("column")) == "ID"
    assert next(c.text for c in as_xml.iter("cell")) == "P1"


def test_update_fields_and_custom_variables(client: httpx.Client) -> None:
    session_id = make_session(client)
    updated = client.put(
        f"/data/experiments/{session_id}",
        params={
            "xsiType": "xnat:mrSessionData",
            "xnat:mrSessionData/note": "checked",
            "xnat:mrSessionData/fields/field[name=site]/field": "Leiden",
        },
    )
    assert updated.status_code == 200
    item = client.get(f"/data/experiments/{session_id}?format=json").json()["items"][0]
    assert item["data_fields"]["note"] == "checked"
    assert item["data_fields"]["date"] == "2024-01-02"  # untouched fields are kept
    [custom] = [c for c in item["children"] if c["field"] == "fields/field"]
    assert custom["items"][0]["data_fields"] == {"name": "site", "field": "Leiden"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"xsiType": "xnat:noSuchData"}, "no such data type"),
        ({"xsiType": "xnat:mrScanData"}, "not a kind of xnat:subjectAssessorData"),
        ({"xsiType": "xnat:mrSessionData", "xnat:mrSessionData/date": "yesterday"}, "date"),
        ({"xsiType": "xnat:mrSessionData", "xnat:mrSessionData/bogus": "1"}, "no such field"),
    ],
)
def test_invalid_type_or_field_is_400(
    client: httpx.Client, params: dict[str, str], message: str
) -> None:
    make_session(client)
    response = client.put("/data/projects/P1/subjects/S1/experiments/BAD", params=params)
    assert response.status_code == 400
    assert message in response.text
    assert "<h3>" in response.text
    labels = [r["label"] for r in rows(client.get("/data/projects/P1/experiments?format=json"))]
    assert "BAD" not in labels


def test_forbidden_label_characters_and_unknown_objects(client: httpx.Client) -> None:
    make_session(client)
    # SubjectResource/ExperimentResource answer 417 for labels with forbidden characters
    bad = client.put("/data/projects/P1/subjects/bad%20label")
    assert bad.status_code == 417
    assert "Invalid character in subject label." in bad.text
    assert client.put("/data/projects/P1/subjects/a.b").status_code == 417
    bad_experiment = client.put(
        "/data/projects/P1/subjects/S1/experiments/x%3Fy", params={"xsiType": "xnat:mrSessionData"}
    )
    assert bad_experiment.status_code == 417
    assert "Invalid character in experiment label." in bad_experiment.text
    assert client.put("/data/experiments/XNAT_E00001/scans/a%2Fb").status_code in (400, 404)
    assert client.get("/data/projects/NOPE?format=json").status_code == 404
    assert client.get("/data/projects/P1/subjects/NOPE?format=json").status_code == 404
    assert client.get("/data/experiments/XNAT_E99999?format=json").status_code == 404
    assert client.get("/data/experiments/XNAT_E00001/scans/99?format=json").status_code == 404


def test_conflicting_type_change_is_409(client: httpx.Client) -> None:
    make_session(client)
    response = client.put(
        "/data/projects/P1/subjects/S1/experiments/MR1", params={"xsiType": "xnat:ctSessionData"}
    )
    assert response.status_code == 409


def test_assessors_and_reconstructions(client: httpx.Client) -> None:
    session_id = make_session(client)
    assessor = client.put(
        f"/data/experiments/{session_id}/assessors/QC1",
        params={"xsiType": "xnat:qcManualAssessorData", "label": "QC1", "req_format": "qs"},
    )
    assert assessor.status_code == 200
    assert assessor.text.startswith("XNAT_E")
    [row] = rows(client.get(f"/data/experiments/{session_id}/assessors?format=json"))
    assert row["label"] == "QC1" and row["xsiType"] == "xnat:qcManualAssessorData"
    assert row["session_ID"] == session_id
    by_id = client.get(f"/data/experiments/{assessor.text}?format=json").json()["items"][0]
    assert by_id["data_fields"]["imageSession_ID"] == session_id
    recon = client.put(
        f"/data/experiments/{session_id}/reconstructions/R1",
        params={"xsiType": "xnat:reconstructedImageData", "type": "MPRAGE"},
    )
    assert recon.status_code == 200
    [recon_row] = rows(client.get(f"/data/experiments/{session_id}/reconstructions?format=json"))
    assert recon_row["ID"] == "R1" and recon_row["type"] == "MPRAGE"


def test_sharing_into_another_project(client: httpx.Client) -> None:
    session_id = make_session(client)
    assert client.put("/data/projects/P2").status_code == 200
    shared = client.put(
        f"/data/projects/P1/experiments/{session_id}/projects/P2", params={"label": "MR1_P2"}
    )
    assert shared.status_code == 200
    [row] = rows(client.get("/data/projects/P2/experiments?format=json"))
    assert row["ID"] == session_id and row["label"] == "MR1_P2" and row["project"] == "P1"
    via_share = client.get("/data/projects/P2/experiments/MR1_P2?format=json")
    assert via_share.json()["items"][0]["data_fields"]["ID"] == session_id
    shares = [
        c
        for c in client.get(f"/data/experiments/{session_id}?format=json").json()["items"][0][
            "children"
        ]
        if c["field"] == "sharing/share"
    ]
    assert shares[0]["items"][0]["data_fields"] == {"project": "P2", "label": "MR1_P2"}
    # deleting through the sharing project removes only the share
    assert client.delete("/data/projects/P2/experiments/MR1_P2").status_code == 200
    assert rows(client.get("/data/projects/P2/experiments?format=json")) == []
    assert client.get(f"/data/experiments/{session_id}?format=json").status_code == 200


def test_delete_with_remove_files(client: httpx.Client, xnat_emulator: EmulatorHandle) -> None:
    session_id = make_session(client)
    upload = client.put(
        f"/data/experiments/{session_id}/scans/1/resources/DICOM/files/a.dcm",
        params={"inbody": "true"},
        content=b"x" * 100,
    )
    assert upload.status_code == 200
    blobs = [p for p in (xnat_emulator.data_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert (
        client.delete(f"/data/experiments/{session_id}", params={"removeFiles": "true"}).status_code
        == 200
    )
    assert client.get(f"/data/experiments/{session_id}?format=json").status_code == 404
    assert not blobs[0].exists()
    assert client.delete("/data/projects/P1/subjects/S1").status_code == 200
    assert rows(client.get("/data/projects/P1/subjects?format=json")) == []


def test_generated_models_read_the_served_documents(client: httpx.Client) -> None:
    """The emulator's JSON items and XML documents load into the generated models."""
    from xnat_sdk.models import MrScanData, MrSessionData, parse_json_item, parse_xml

    session_id = make_session(client)
    item = client.get(f"/data/experiments/{session_id}?format=json").json()["items"][0]
    from_json = parse_json_item(item)
    from_xml = parse_xml(client.get(f"/data/experiments/{session_id}?format=xml").content)
    for model in (from_json, from_xml):
        assert isinstance(model, MrSessionData)
        assert model.id == session_id
        assert model.label == "MR1"
        assert model.subject_id == "XNAT_S00001"
        assert str(model.date) == "2024-01-02"
        assert model.to_xpath_fields()["xnat:mrSessionData/scanner/manufacturer"] == "GE"
        [scan] = model.scans_
        assert isinstance(scan, MrScanData)
        assert scan.type == "T1"


def test_project_fields_from_the_query_string(client: httpx.Client) -> None:
    created = client.put(
        "/data/projects/P9",
        params={
            "name": "Nine",
            "description": "a described project",
            "xnat:projectData/PI/lastname": "Curie",
            "keywords": "mri pet",
        },
    )
    assert created.status_code == 200
    [row] = rows(client.get("/data/projects", params={"format": "json"}))
    assert row["description"] == "a described project"
    assert row["pi_lastname"] == "Curie"
    item = client.get("/data/projects/P9?format=json").json()["items"][0]
    assert item["data_fields"]["keywords"] == "mri pet"


def test_without_schemas_the_generated_models_validate_and_write(tmp_path: Path) -> None:
    """An emulator given an empty schemas folder still validates and answers documents."""
    from xnat_sdk.emulator import Emulator

    (tmp_path / "no-schemas").mkdir()
    with Emulator(tmp_path / "data", schemas_dir=tmp_path / "no-schemas") as emu:
        client = httpx.Client(base_url=emu.url, auth=emu.admin)
        assert client.get("/xapi/schemas").json() == []
        client.put("/data/projects/P1")
        client.put("/data/projects/P1/subjects/S1")
        bad_type = client.put(
            "/data/projects/P1/subjects/S1/experiments/E1", params={"xsiType": "xnat:nope"}
        )
        assert bad_type.status_code == 400
        bad_value = client.put(
            "/data/projects/P1/subjects/S1/experiments/E1",
            params={"xsiType": "xnat:mrSessionData", "xnat:mrSessionData/date": "soon"},
        )
        assert bad_value.status_code == 400
        created = client.put(
            "/data/projects/P1/subjects/S1/experiments/E1",
            params={"xsiType": "xnat:mrSessionData", "xnat:mrSessionData/date": "2021-01-01"},
        )
        assert created.status_code == 201
        root = ET.fromstring(client.get(f"/data/experiments/{created.text}?format=xml").content)
        assert root.tag == f"{XNAT_NS}MRSession"
        assert root.findtext(f"{XNAT_NS}date") == "2021-01-01"


def test_post_document_to_collection_and_rest_alias(client: httpx.Client) -> None:
    project = (
        b'<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="PX" secondary_ID="PX_S">'
        b"<xnat:name>Posted</xnat:name><xnat:description>from XML</xnat:description>"
        b"</xnat:Project>"
    )
    posted = client.post("/data/projects", content=project, headers={"content-type": "text/xml"})
    assert posted.status_code == 200
    assert posted.text == "PX"
    [row] = rows(client.get("/REST/projects", params={"format": "json"}))
    assert (row["ID"], row["secondary_ID"], row["name"], row["description"]) == (
        "PX",
        "PX_S",
        "Posted",
        "from XML",
    )
    by_secondary = client.get("/data/projects/PX_S?format=json").json()["items"][0]
    assert by_secondary["data_fields"]["ID"] == "PX"
    not_xml = client.post("/data/projects", content=b"{}", headers={"content-type": "text/xml"})
    assert not_xml.status_code == 400
    html = client.get("/data/projects", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "<td>PX</td>" in html.text
    unknown = client.get("/data/nothing/here")
    assert unknown.status_code == 404
    assert "<h3>" in unknown.text


def test_project_id_rules_as_project_resource(client: httpx.Client) -> None:
    """ProjectResource: body/query ID must match the path (417), valid characters (417),
    secondary ID and name unique among projects (409)."""
    mismatch = client.put("/data/projects/None", params={"xnat:projectData/ID": "REAL"})
    assert mismatch.status_code == 417
    assert "must match the value in submitted request body" in mismatch.text
    assert client.put("/data/projects/bad.id").status_code == 417
    same = client.put("/data/projects/REAL", params={"xnat:projectData/id": "real", "name": "R"})
    assert same.status_code == 200
    taken = client.put("/data/projects/OTHER", params={"name": "R"})
    assert taken.status_code == 409
    assert "conflicts with existing projects: REAL" in taken.text
    assert [r["ID"] for r in rows(client.get("/data/projects?format=json"))] == ["REAL"]


def test_relabel_and_sharing_conflicts(client: httpx.Client) -> None:
    session_id = make_session(client)
    client.put("/data/projects/P1/subjects/S2")
    renamed = client.put("/data/projects/P1/subjects/S1", params={"label": "S1_NEW"})
    assert renamed.status_code == 200
    assert renamed.text == "XNAT_S00001"
    assert client.get("/data/projects/P1/subjects/S1_NEW?format=json").status_code == 200
    assert client.get("/data/projects/P1/subjects/S1?format=json").status_code == 404
    taken = client.put("/data/projects/P1/subjects/S1_NEW", params={"label": "S2"})
    assert taken.status_code == 409
    assert "Specified label is already in use." in taken.text
    relabelled = client.put(f"/data/experiments/{session_id}", params={"label": "MR1_B"})
    assert relabelled.status_code == 200
    assert client.get("/data/projects/P1/experiments/MR1_B?format=json").status_code == 200
    client.put("/data/projects/P2")
    client.put("/data/projects/P2/subjects/TAKEN")
    share = "/data/projects/P1/subjects/S1_NEW/projects/P2"
    assert client.put(share, params={"label": "TAKEN"}).status_code == 409
    assert client.put(share).status_code == 200
    again = client.put(share)
    assert again.status_code == 409
    assert "Already assigned to project:P2" in again.text
    assert client.put(share, params={"label": "S1_IN_P2"}).status_code == 200
    labels = {r["label"] for r in rows(client.get("/data/projects/P2/subjects?format=json"))}
    assert labels == {"TAKEN", "S1_IN_P2"}
    own = client.put("/data/projects/P1/subjects/S1_NEW/projects/P1")
    assert own.status_code == 409


def test_typed_nested_objects_as_children(client: httpx.Client) -> None:
    """Named-type single objects (PI, demographics) are JSON children with their xsi:type."""
    from xnat_sdk.models import DemographicData, SubjectData, parse_json_item, parse_xml

    client.put("/data/projects/P1", params={"xnat:projectData/PI/lastname": "Curie"})
    subject = (
        b'<xnat:Subject xmlns:xnat="http://nrg.wustl.edu/xnat" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" label="S1" project="P1">'
        b'<xnat:demographics xsi:type="xnat:demographicData">'
        b"<xnat:gender>female</xnat:gender><xnat:age>33</xnat:age></xnat:demographics>"
        b"</xnat:Subject>"
    )
    put = client.put("/data/projects/P1/subjects/S1", content=subject)
    assert put.status_code == 201, put.text
    banana = client.put(
        "/data/projects/P1/subjects/S1",
        params={"xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender": "x"},
    )
    assert banana.status_code == 400  # not one of the schema's genders
    item = client.get("/data/projects/P1/subjects/S1?format=json").json()["items"][0]
    [demographics] = [c for c in item["children"] if c["field"] == "demographics"]
    assert demographics["items"][0]["meta"]["xsi:type"] == "xnat:demographicData"
    assert demographics["items"][0]["data_fields"] == {"gender": "female", "age": "33"}
    document = client.get("/data/projects/P1/subjects/S1?format=xml").content
    for model in (parse_json_item(item), parse_xml(document)):
        assert isinstance(model, SubjectData)
        assert isinstance(model.demographics, DemographicData)
        assert model.demographics.gender == "female"
    project = client.get("/data/projects/P1?format=json").json()["items"][0]
    [pi] = [c for c in project["children"] if c["field"] == "PI"]
    assert pi["items"][0]["data_fields"] == {"lastname": "Curie"}


def test_creating_subjects_and_experiments_is_201_updating_is_200(client: httpx.Client) -> None:
    assert client.put("/data/projects/C201").status_code == 200
    assert client.put("/data/projects/C201/subjects/S1").status_code == 201
    assert client.put("/data/projects/C201/subjects/S1", params={"gender": "F"}).status_code == 200
    experiment = "/data/projects/C201/subjects/S1/experiments/E1"
    assert client.put(experiment, params={"xsiType": "xnat:mrSessionData"}).status_code == 201
    assert client.put(experiment, params={"note": "again"}).status_code == 200
