"""Listing items built straight from rows (``xnat_sdk.row_objects``): the same objects as a
field-by-field validation gives, bound, typed, and completed by one fetch on first need."""

from __future__ import annotations

import datetime

import pytest

import xnat_sdk
from xnat_sdk.models import ExperimentData, MrSessionData, PetSessionData
from xnat_sdk.objects import partial_model
from xnat_sdk.row_objects import RowBuilder


@pytest.fixture
def archive(session: xnat_sdk.XNATSession) -> xnat_sdk.XNATSession:
    project = session.projects.create("FAST", name="Fast path")
    subject = project.subjects.create("S1")
    subject.experiments.create_as(
        MrSessionData, "S1_MR", date=datetime.date(2024, 1, 2), field_strength="3T"
    )
    subject.experiments.create_as(PetSessionData, "S1_PET")
    session.clearcache()
    return session


def count_requests(session: xnat_sdk.XNATSession) -> list[str]:
    seen: list[str] = []
    session.interface.event_hooks["request"].append(lambda request: seen.append(request.url.path))
    return seen


def test_row_items_are_typed_bound_and_fetch_the_rest_once(
    archive: xnat_sdk.XNATSession,
) -> None:
    experiments = archive.projects["FAST"].experiments
    by_label = {item.label: item for item in experiments}
    mr, pet = by_label["S1_MR"], by_label["S1_PET"]
    assert type(mr) is MrSessionData and type(pet) is PetSessionData
    assert mr.date == datetime.date(2024, 1, 2)  # typed from the row's text
    assert mr.uri == f"/data/projects/FAST/experiments/{mr.id}"
    assert mr.model_fields_set == {"id", "project", "label", "date"}
    requests = count_requests(archive)
    assert mr.field_strength == "3T"  # not in the row: one GET of the object
    assert requests == [mr.uri]
    assert mr.subject_id and mr.field_strength == "3T"
    assert requests == [mr.uri]  # complete now: nothing more is asked


def test_row_builder_matches_field_by_field_validation(archive: xnat_sdk.XNATSession) -> None:
    row = {
        "ID": "XNAT_E9",
        "project": "FAST",
        "label": "",  # an empty cell: left for the fetch
        "xsiType": "xnat:mrSessionData",
        "date": "not a date",  # rejected by the date field: left for the fetch
        "insert_date": "2024-01-02 10:00:00",  # not a field of the model
        "URI": "/data/experiments/XNAT_E9",
    }
    built = RowBuilder(MrSessionData, tuple(row)).build(row, archive, "/data/experiments/XNAT_E9")
    reference = partial_model(MrSessionData, {"ID": "XNAT_E9", "project": "FAST"})
    assert built.model_fields_set == reference.model_fields_set == {"id", "project"}
    assert vars(built) == vars(reference)
    good = dict(row, label="E9", date="2024-03-04")
    rebuilt = RowBuilder(MrSessionData, tuple(good)).build(good, archive, "/x")
    assert rebuilt.label == "E9" and rebuilt.date == datetime.date(2024, 3, 4)
    assert isinstance(rebuilt, ExperimentData)


def test_tabulate_gives_plain_rows_without_building_objects(
    archive: xnat_sdk.XNATSession,
) -> None:
    experiments = archive.projects["FAST"].experiments
    rows = experiments.tabulate()
    assert sorted(row["label"] for row in rows) == ["S1_MR", "S1_PET"]
    assert all(type(row) is dict and set(row) >= {"ID", "xsiType", "URI"} for row in rows)
    assert experiments._items == {}  # pyright: ignore[reportPrivateUsage]  # nothing was built
