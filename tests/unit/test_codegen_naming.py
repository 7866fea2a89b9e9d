"""XSD names -> Python names (DESIGN.md "Names")."""

from __future__ import annotations

import keyword

import pytest

from codegen import naming
from codegen.ir import BEHAVIOURS
from xnat_sdk import behaviour
from xnat_sdk._modelbase import XnatModel
from xnat_sdk.models import MrSessionData, ProjectData, ResourceCatalog, SubjectData


@pytest.mark.parametrize(
    ("xsd_name", "expected"),
    [
        ("ID", "id"),
        ("secondary_ID", "secondary_id"),
        ("studyProtocol", "study_protocol"),
        ("addID", "add_id"),
        ("UID", "uid"),
        ("ZRotationAngle", "z_rotation_angle"),
        ("MT_1_1", "mt_1_1"),
        ("data-type", "data_type"),
        ("half-life", "half_life"),
        ("Lo-Res", "lo_res"),
        ("fieldStrength", "field_strength"),
        ("dcmPatientBirthDate", "dcm_patient_birth_date"),
        ("PI", "pi"),
        ("race2", "race2"),
    ],
)
def test_field_names_are_snake_case(xsd_name: str, expected: str) -> None:
    assert naming.field_name(xsd_name) == expected


@pytest.mark.parametrize("word", ["in", "pass", "class", "from"])
def test_keywords_get_a_trailing_underscore(word: str) -> None:
    assert keyword.iskeyword(word)
    assert naming.field_name(word) == word + "_"


def test_navigation_and_base_names_are_not_shadowed() -> None:
    assert naming.field_name("scans", frozenset({"scans"})) == "scans_"
    assert naming.field_name("custom_fields") == "custom_fields_"
    assert naming.field_name("uri") == "uri_"


def test_reserved_names_cover_every_public_attribute_of_the_base_class() -> None:
    public = {name for name in dir(XnatModel) if not name.startswith("_")}
    public -= {name for name in public if name.startswith("model_")}  # pydantic's namespace
    missing = public - naming.RESERVED_FIELD_NAMES
    assert not missing, f"add to naming.RESERVED_FIELD_NAMES: {sorted(missing)}"


@pytest.mark.parametrize(
    ("prefix", "local", "expected"),
    [
        ("xnat", "mrSessionData", "MrSessionData"),
        ("xnat", "projectData", "ProjectData"),
        ("cat", "catalog", "CatCatalog"),
        ("xdat", "user", "XdatUser"),
        ("xnat_a", "updrs3Data", "XnatAUpdrs3Data"),
    ],
)
def test_class_names(prefix: str, local: str, expected: str) -> None:
    assert naming.class_name(prefix, local) == expected


def test_inline_names_follow_the_element_path() -> None:
    assert naming.inline_class_name("ProjectData", ("aliases", "alias")) == (
        "ProjectDataAliasesAlias"
    )
    assert naming.inline_xsi_type("xnat", "projectData", ("alias",)) == "xnat:projectData_alias"


def test_a_name_without_letters_is_an_error() -> None:
    with pytest.raises(ValueError, match="no letters"):
        naming.snake_case("--")


def test_behaviour_table_names_exactly_the_mixins_public_methods() -> None:
    for spec in BEHAVIOURS:
        mixin = getattr(behaviour, spec.mixin)
        public = {name for name in dir(mixin) if not name.startswith("_")}
        assert public == spec.names, spec.mixin


def test_generated_archive_types_carry_their_behaviour() -> None:
    assert issubclass(ProjectData, behaviour.ProjectBehaviour)
    assert issubclass(MrSessionData, behaviour.ImageSessionBehaviour)
    assert issubclass(MrSessionData, behaviour.ExperimentBehaviour)
    assert issubclass(ResourceCatalog, behaviour.ResourceBehaviour)
    assert not issubclass(ProjectData, behaviour.ResourceBehaviour)
    # the XSD list of custom variables gives way to xnatpy's `fields` mapping, as navigation does
    assert "fields_" in SubjectData.model_fields and "fields" not in SubjectData.model_fields
