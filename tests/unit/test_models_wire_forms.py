"""The generated models on the wire: XML documents, JSON items and the xpath query form.

``mr_session_pyxnat_tests.xml`` is a recorded server document (see ../shared/reference). Every
other fixture in this file is CONSTRUCTED, not recorded: written by us after the shapes in
../shared/reference/README.md and xnatpy's reading of ``data_fields``/``meta``/``children``.
"""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import xnat_sdk.models as models
from xnat_sdk._modelbase import UnknownTypeWarning, XpathError

# -- constructed fixtures ---------------------------------------------------------------------
#: CONSTRUCTED: a subject with demographics (a named-type child) and custom variables.
SUBJECT_ITEM: dict[str, Any] = {
    "meta": {"xsi:type": "xnat:subjectData", "isHistory": False},
    "data_fields": {
        "ID": "XNAT_S00001",
        "project": "DEMO",
        "label": "sub-01",
        "group": "control",
        "xnat_subjectdata_id": 7,
    },
    "children": [
        {
            "field": "demographics",
            "items": [
                {
                    "meta": {"xsi:type": "xnat:demographicData", "isHistory": False},
                    "data_fields": {
                        "gender": "female",
                        "handedness": "right",
                        "yob": 1980,
                        "education": 16,
                        "weight": 61.5,
                        "weight/units": "kg",
                    },
                    "children": [],
                },
                {
                    "meta": {"xsi:type": "xnat:demographicData", "isHistory": True},
                    "data_fields": {"gender": "unknown"},
                    "children": [],
                },
            ],
        },
        {
            "field": "fields/field",
            "items": [
                {
                    "meta": {"xsi:type": "xnat:subjectData_field", "isHistory": False},
                    "data_fields": {"name": "site", "field": "berlin"},
                    "children": [],
                }
            ],
        },
    ],
}

#: CONSTRUCTED: an MR session with two scans (one MR, one generic) and a scan resource.
SESSION_ITEM: dict[str, Any] = {
    "meta": {"xsi:type": "xnat:mrSessionData", "isHistory": False},
    "data_fields": {
        "ID": "XNAT_E00001",
        "project": "DEMO",
        "label": "sub-01_MR1",
        "subject_ID": "XNAT_S00001",
        "date": "2024-01-02",
        "time": "09:15:00",
        "modality": "MR",
        "scanner": "MRC35010",
        "scanner/manufacturer": "SIEMENS",
        "scanner/model": "Prisma",
        "fieldStrength": "3.0",
    },
    "children": [
        {
            "field": "scans/scan",
            "items": [
                {
                    "meta": {"xsi:type": "xnat:mrScanData", "isHistory": False},
                    "data_fields": {
                        "ID": "1",
                        "type": "T1w",
                        "quality": "usable",
                        "frames": 176,
                        "parameters/tr": 2300.0,
                        "parameters/voxelRes/x": 1.0,
                        "parameters/voxelRes/y": 1.0,
                        "parameters/voxelRes/z": 1.0,
                        "image_session_ID": "XNAT_E00001",
                    },
                    "children": [
                        {
                            "field": "file",
                            "items": [
                                {
                                    "meta": {
                                        "xsi:type": "xnat:resourceCatalog",
                                        "isHistory": False,
                                    },
                                    "data_fields": {
                                        "label": "DICOM",
                                        "format": "DICOM",
                                        "content": "RAW",
                                        "file_count": 176,
                                        "URI": "/archive/DEMO/sub-01_MR1/SCANS/1/scan_catalog.xml",
                                    },
                                    "children": [],
                                }
                            ],
                        }
                    ],
                },
                {
                    "meta": {"xsi:type": "xnat:otherDicomScanData", "isHistory": False},
                    "data_fields": {"ID": "99", "type": "PhoenixZIPReport"},
                    "children": [],
                },
            ],
        }
    ],
}

#: CONSTRUCTED: a project document with aliases, a PI and a resource, as XML.
PROJECT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="DEMO" secondary_ID="Demo study"
    active="false">
  <xnat:name>Demonstration project</xnat:name>
  <xnat:description>Constructed for the SDK tests &amp; docs</xnat:description>
  <xnat:aliases>
    <xnat:alias source="legacy">DEMO_OLD</xnat:alias>
    <xnat:alias>DEMO2</xnat:alias>
  </xnat:aliases>
  <xnat:resources>
    <xnat:resource xsi:type="xnat:resourceCatalog" label="protocols" format="PDF"
        URI="/archive/DEMO/resources/protocols/catalog.xml"/>
  </xnat:resources>
  <xnat:PI ID="pi1">
    <xnat:firstname>Ada</xnat:firstname><xnat:lastname>Lovelace</xnat:lastname>
  </xnat:PI>
</xnat:Project>
"""


# -- the recorded example -------------------------------------------------------------------
@pytest.fixture(scope="module")
def recorded_session(reference_examples: Path) -> str:
    return (reference_examples / "mr_session_pyxnat_tests.xml").read_text(encoding="utf-8")


def test_recorded_mr_session_parses_with_its_values(recorded_session: str) -> None:
    session = models.MrSessionData.from_xml(recorded_session)
    assert type(session) is models.MrSessionData
    assert session.label == "10001"
    assert session.project == "nosetests"
    assert session.session_type == "tests"
    assert session.modality == "MR"
    assert session.uid == "1.2.840.113619.6.353.212907923981946872822575272779562176668"
    assert session.date == dt.date(2014, 12, 9)
    assert session.time == dt.time(14, 23, 50)
    assert session.acquisition_site == "Centre Medic Diagnostic Alomar"
    assert session.scanner is not None
    assert session.scanner.value == "GEMSGEMS"
    assert session.scanner.manufacturer == "GE MEDICAL SYSTEMS"
    assert session.scanner.model == "DISCOVERY MR750w"
    assert session.field_strength == "3.0"
    assert session.dcm_patient_birth_date == dt.date(1991, 4, 30)
    assert session.prearchive_path == "/data/xnat/prearchive1/nosetests/20170218_212344921/1432768"


def test_recorded_mr_session_round_trips_to_valid_xml(recorded_session: str, xsd_set: Any) -> None:
    session = models.parse_xml(recorded_session)
    assert isinstance(session, models.MrSessionData)
    # The recorded document is a creation request: it lacks the two required values the
    # server assigns (ID, subject_ID), and so does its round trip, with the same two errors.
    original = sorted(error.reason for error in xsd_set.iter_errors(recorded_session))
    again = sorted(error.reason for error in xsd_set.iter_errors(session.to_xml()))
    assert again == original and len(original) == 2
    assigned = session.model_copy(update={"id": "XNAT_E00001", "subject_id": "XNAT_S00001"})
    xsd_set.validate(assigned.to_xml())
    assert models.MrSessionData.from_xml(assigned.to_xml()) == assigned


# -- JSON items -------------------------------------------------------------------------------
def test_subject_json_item_with_demographics_and_custom_variables(xsd_set: Any) -> None:
    subject = models.SubjectData.from_json_item(SUBJECT_ITEM)
    assert subject.id == "XNAT_S00001" and subject.label == "sub-01"
    demographics = subject.demographics
    assert isinstance(demographics, models.DemographicData)  # the history entry is skipped
    assert demographics.gender == "female"
    assert demographics.yob == 1980
    assert demographics.weight is not None
    assert demographics.weight.value == 61.5 and demographics.weight.units == "kg"
    assert [(field.name, field.value) for field in subject.fields_] == [("site", "berlin")]
    # A database column the schema does not declare is kept, not dropped.
    assert subject.model_extra == {"xnat_subjectdata_id": 7}
    xsd_set.validate(subject.to_xml())
    assert '<xnat:demographics xsi:type="xnat:demographicData">' in subject.to_xml()


def test_json_item_round_trips_to_the_same_item() -> None:
    subject = models.SubjectData.from_json_item(SUBJECT_ITEM)
    expected = copy.deepcopy(SUBJECT_ITEM)
    expected["children"][0]["items"] = expected["children"][0]["items"][:1]  # live entry only
    again = subject.to_json_item()
    assert again["meta"] == {"xsi:type": "xnat:subjectData", "isHistory": False}
    assert again["data_fields"] == expected["data_fields"]
    assert sorted(again["children"], key=lambda child: child["field"]) == sorted(
        expected["children"], key=lambda child: child["field"]
    )
    assert models.SubjectData.from_json_item(again) == subject


def test_session_scans_parse_into_their_concrete_classes(xsd_set: Any) -> None:
    session = models.parse_json_item(SESSION_ITEM)
    assert isinstance(session, models.MrSessionData)
    assert session.scanner is not None and session.scanner.manufacturer == "SIEMENS"
    first, second = session.scans_
    assert type(first) is models.MrScanData
    assert type(second) is models.OtherDicomScanData
    assert first.frames == 176 and first.quality == "usable"
    assert first.parameters is not None and first.parameters.tr == 2300.0
    assert first.parameters.voxel_res is not None and first.parameters.voxel_res.z == 1.0
    (resource,) = first.file
    assert type(resource) is models.ResourceCatalog
    assert resource.uri_ == "/archive/DEMO/sub-01_MR1/SCANS/1/scan_catalog.xml"
    assert resource.file_count == 176
    document = session.to_xml()
    xsd_set.validate(document)
    assert 'xsi:type="xnat:mrScanData"' in document
    again = models.MrSessionData.from_xml(document)
    assert [type(scan) for scan in again.scans_] == [models.MrScanData, models.OtherDicomScanData]
    assert again == session
    assert models.parse_json_item(session.to_json_item()) == session


def test_an_unknown_xsi_type_loads_as_the_slot_type_with_extras() -> None:
    item = copy.deepcopy(SESSION_ITEM)
    plugin_scan: dict[str, Any] = {
        "meta": {"xsi:type": "acme:laserScanData", "isHistory": False},
        "data_fields": {"ID": "5", "type": "laser", "wavelength": "532"},
        "children": [],
    }
    item["children"][0]["items"].append(plugin_scan)
    with pytest.warns(UnknownTypeWarning, match="acme:laserScanData"):
        session = models.MrSessionData.from_json_item(item)
    laser = session.scans_[2]
    assert type(laser) is models.ImageScanData
    assert laser.id == "5" and laser.model_extra == {"wavelength": "532"}


def test_a_slot_rejects_a_type_of_another_kind() -> None:
    item = copy.deepcopy(SESSION_ITEM)
    item["children"][0]["items"][0]["meta"]["xsi:type"] = "xnat:projectData"
    with pytest.raises(ValueError, match=r"xnat:projectData is not a kind of xnat:imageScanData"):
        models.MrSessionData.from_json_item(item)


def test_empty_strings_of_typed_fields_mean_no_value() -> None:
    item = copy.deepcopy(SESSION_ITEM)
    item["data_fields"]["date"] = ""
    session = models.MrSessionData.from_json_item(item)
    assert session.date is None


# -- XML --------------------------------------------------------------------------------------
def test_project_xml_with_aliases_pi_and_a_polymorphic_resource(xsd_set: Any) -> None:
    project = models.ProjectData.from_xml(PROJECT_XML)
    assert project.id == "DEMO" and project.secondary_id == "Demo study"
    assert project.active is False
    assert project.description == "Constructed for the SDK tests & docs"
    assert [(alias.value, alias.source) for alias in project.aliases] == [
        ("DEMO_OLD", "legacy"),
        ("DEMO2", None),
    ]
    (resource,) = project.resources_
    assert type(resource) is models.ResourceCatalog and resource.label == "protocols"
    assert project.pi is not None and project.pi.lastname == "Lovelace"
    document = project.to_xml()
    xsd_set.validate(document)
    assert "&amp;" in document
    assert models.ProjectData.from_xml(document) == project


def test_a_document_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError, match="holds a ProjectData, not a SubjectData"):
        models.SubjectData.from_xml(PROJECT_XML)


def test_malformed_xml_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a well-formed XML document"):
        models.parse_xml("<xnat:Project")


def test_a_type_without_a_global_element_has_no_document() -> None:
    with pytest.raises(ValueError, match="no global XML element"):
        models.AbstractResource().to_xml()


def test_a_subtype_without_its_own_element_is_written_with_xsi_type(xsd_set: Any) -> None:
    assert models.CatEntry.xml_element == "cat:Entry"
    assert models.CatDcmEntry.xml_element is None  # no global element has this type
    entry = models.CatDcmEntry(uri_="1.dcm", uid="1.2.3", instance_number=1)
    document = entry.to_xml()
    assert document.splitlines()[1].startswith("<cat:Entry ")
    assert 'xsi:type="cat:dcmEntry"' in document
    xsd_set.validate(document)
    parsed = models.parse_xml(document)
    assert type(parsed) is models.CatDcmEntry and parsed == entry


# -- xpath query form -------------------------------------------------------------------------
def test_xpath_of_names_the_type_and_the_xsd_field() -> None:
    assert models.MrSessionData.xpath_of("date") == "xnat:mrSessionData/date"
    assert models.MrSessionData.xpath_of("field_strength") == "xnat:mrSessionData/fieldStrength"
    assert models.ProjectData.xpath_of("secondary_ID") == "xnat:projectData/secondary_ID"
    with pytest.raises(XpathError, match="has no such field"):
        models.ProjectData.xpath_of("nope")


def test_to_xpath_fields_flattens_inline_and_typed_children() -> None:
    session = models.MrSessionData.from_json_item(SESSION_ITEM)
    fields = session.to_xpath_fields()
    assert fields["xnat:mrSessionData/date"] == "2024-01-02"
    assert fields["xnat:mrSessionData/scanner/manufacturer"] == "SIEMENS"
    assert fields["xnat:mrSessionData/scanner"] == "MRC35010"
    assert not any("scans" in key for key in fields)  # scans are objects of their own
    subject = models.SubjectData.from_json_item(SUBJECT_ITEM)
    key = "xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender"
    assert subject.to_xpath_fields()[key] == "female"


def test_with_xpath_fields_sets_validated_values_on_a_copy() -> None:
    session = models.MrSessionData.from_json_item(SESSION_ITEM)
    changed = session.with_xpath_fields(
        {
            "xnat:mrSessionData/date": "2025-03-04",
            "xnat:mrSessionData/scanner/model": "Vida",
            "xnat:experimentData/note": "rescanned",  # a base type's xpath is accepted
            "xnat:mrSessionData/fieldStrength": "",
        }
    )
    assert changed.date == dt.date(2025, 3, 4)
    assert changed.scanner is not None and changed.scanner.model == "Vida"
    assert changed.scanner.manufacturer == "SIEMENS"
    assert changed.note == "rescanned" and changed.field_strength is None
    assert session.date == dt.date(2024, 1, 2)  # the original is untouched
    assert session.scanner is not None and session.scanner.model == "Prisma"
    subject = models.SubjectData(label="s").with_xpath_fields(
        {"xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender": "male"}
    )
    assert isinstance(subject.demographics, models.DemographicData)
    assert subject.demographics.gender == "male"


@pytest.mark.parametrize(
    ("xpath", "value", "message"),
    [
        ("xnat:mrSessionData/nosuch", "1", "has no 'nosuch'"),
        ("xnat:subjectData/label", "x", "not a field of xnat:mrSessionData"),
        ("xnat:mrSessionData/date", "yesterday", "date"),
        ("xnat:mrSessionData/scans/scan", "x", "lists are only set by key"),
        ("xnat:mrSessionData/fields/field[nokey=a]/field", "x", "has no key 'nokey'"),
        ("xnat:mrSessionData/scanner/manufacturer/x", "x", "is a simple value"),
    ],
)
def test_with_xpath_fields_names_the_bad_xpath_and_value(
    xpath: str, value: str, message: str
) -> None:
    session = models.MrSessionData(label="s")
    with pytest.raises(XpathError, match=message) as caught:
        session.with_xpath_fields({xpath: value})
    assert caught.value.xpath == xpath and caught.value.value == value
    assert xpath in str(caught.value) and repr(value) in str(caught.value)


def test_text_of_an_element_with_attributes_and_custom_variables_by_xpath() -> None:
    session = models.MrSessionData.from_json_item(SESSION_ITEM)
    changed = session.with_xpath_fields({"xnat:mrSessionData/scanner": "NEWSTATION"})
    assert changed.scanner is not None and changed.scanner.value == "NEWSTATION"
    assert changed.scanner.manufacturer == "SIEMENS"
    subject = models.SubjectData.from_json_item(SUBJECT_ITEM)
    added = subject.with_xpath_fields(
        {
            "xnat:subjectData/fields/field[name=site]/field": "paris",
            "xnat:subjectData/fields/field[name=arm]/field": "B",
        }
    )
    assert [(field.name, field.value) for field in added.fields_] == [
        ("site", "paris"),
        ("arm", "B"),
    ]
    assert [(field.name, field.value) for field in subject.fields_] == [("site", "berlin")]
    removed = added.with_xpath_fields({"xnat:subjectData/fields/field[name=site]/field": ""})
    assert [field.name for field in removed.fields_] == ["arm"]


def test_enumerations_and_facets_are_enforced() -> None:
    subject = models.SubjectData(label="s")
    with pytest.raises(XpathError, match=r"demographics.*gender='x'"):
        subject.with_xpath_fields(
            {"xnat:subjectData/demographics[@xsi:type=xnat:demographicData]/gender": "x"}
        )
    with pytest.raises(ValidationError):
        models.DemographicData.model_validate({"education": 31})
    with pytest.raises(ValidationError):
        models.ProjectData.model_validate({"ID": "P", "description": "x" * 10001})
    assert models.ProjectData.model_validate({"ID": "P", "description": "x" * 10000}).id == "P"


def test_defaults_required_and_deliberate_types() -> None:
    project = models.ProjectData(id="P")
    assert project.active is True  # XSD default="true"
    id_field = models.ProjectData.xsd_field("ID")
    assert id_field is not None and id_field.required
    # xdat:jsonb is JSON kept as text: the field is a plain str, validated as such.
    assert models.ProjectData.model_fields["custom_fields_"].annotation == str | None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert models.ProjectData(custom_fields_='{"a": 1}').custom_fields_ == '{"a": 1}'
    # An untyped XSD declaration (xs:anyType) holds its text.
    assert models.XdatUser(login="admin").login == "admin"
    # XSD documentation becomes the field description.
    description = models.ImageSessionData.model_fields["uid"].description
    assert description == "DICOM Study Instance UID (0020,000D)"


def test_models_load_lazily_and_find_classes_of_modules_not_imported_yet(
    recorded_session: str,
) -> None:
    script = """
import sys, warnings
warnings.simplefilter("error")
import xnat_sdk.models as models
import xnat_sdk._generated.registry as registry
assert "xnat_sdk._generated.xnat" not in sys.modules, "importing the facade loaded a module"
session = models.parse_xml(sys.stdin.read())
assert type(session).__name__ == "MrSessionData"
assert "xnat_sdk._generated.xnat_a" not in sys.modules, "an unrelated module was loaded"
item = {"meta": {"xsi:type": "xnat_a:ybocsData"}, "data_fields": {"ID": "E9"}, "children": []}
assessment = models.parse_json_item(item)
assert type(assessment).__name__ == "XnatAYbocsData", type(assessment)
assert registry.XSI_TYPES["xnat_a:ybocsData"] is type(assessment)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=recorded_session,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_an_unknown_top_level_type_loads_as_the_base_its_data_points_to() -> None:
    item = {
        "meta": {"xsi:type": "acme:brainAgeData", "isHistory": False},
        "data_fields": {"ID": "E7", "imageSession_ID": "E1", "label": "ba", "predictedAge": 41.5},
        "children": [],
    }
    with pytest.warns(UnknownTypeWarning, match="loaded as ImageAssessorData"):
        assessor = models.parse_json_item(item)
    assert type(assessor) is models.ImageAssessorData
    assert assessor.image_session_id == "E1"
    assert assessor.model_extra == {"predictedAge": 41.5}
    assert assessor.to_json_item()["data_fields"]["predictedAge"] == 41.5
    document = (
        '<acme:BrainAge xmlns:acme="urn:acme" xmlns:xnat="http://nrg.wustl.edu/xnat" ID="E7">'
        "<xnat:subject_ID>S1</xnat:subject_ID><acme:score>3</acme:score></acme:BrainAge>"
    )
    with pytest.warns(UnknownTypeWarning, match="loaded as SubjectAssessorData"):
        parsed = models.parse_xml(document)
    assert type(parsed) is models.SubjectAssessorData
    assert parsed.subject_id == "S1" and parsed.model_extra == {"score": "3"}


def test_credentials_stay_out_of_reprs_but_not_out_of_the_data() -> None:
    user = models.XdatUser.model_validate(
        {"login": "bob", "salt": "s4lt-value", "primary_password": {"value": "h4sh-value"}}
    )
    for text in (repr(user), str(user), repr(user.primary_password)):
        assert "s4lt-value" not in text and "h4sh-value" not in text
    assert "bob" in repr(user)
    assert "h4sh-value" in user.to_xml() and "s4lt-value" in user.to_xml()


def test_documents_are_read_by_namespace_uri_not_by_prefix() -> None:
    document = (
        '<n:MRSession xmlns:n="http://nrg.wustl.edu/xnat" '
        'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" ID="E1" label="l">'
        '<n:scans><n:scan i:type="n:mrScanData" ID="1"><n:coil>HEAD</n:coil></n:scan></n:scans>'
        "</n:MRSession>"
    )
    session = models.parse_xml(document)
    assert isinstance(session, models.MrSessionData)
    (scan,) = session.scans_
    assert isinstance(scan, models.MrScanData) and scan.coil == "HEAD"
    assert session.to_xml().splitlines()[1].startswith("<xnat:MRSession ")


def test_model_dump_keeps_the_fields_of_subclasses_in_typed_slots() -> None:
    session = models.MrSessionData.from_json_item(SESSION_ITEM)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "expected ImageScanData" serializer warning
        dumped = session.model_dump(by_alias=True, exclude_none=True)
    assert dumped["scans"][0]["parameters"]["voxelRes"] == {"x": 1.0, "y": 1.0, "z": 1.0}
    assert dumped["scans"][0]["file"][0]["URI"].endswith("scan_catalog.xml")
