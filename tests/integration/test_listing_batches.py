"""Listings built in batches (``RowObjects.build_many``, ``Listing.__iter__``): the same objects,
values and identities as one row at a time, over loopback to the emulator."""

from __future__ import annotations

import datetime
import gc
import json
import pickle

import httpx
import pytest

import xnat_sdk
import xnat_sdk.listing as listing_module
from xnat_sdk.listing import LISTING_SPECS
from xnat_sdk.models import ExperimentData, MrSessionData, PetSessionData
from xnat_sdk.objects import partial_model
from xnat_sdk.parsing import RowObjects, parse_json
from xnat_sdk.row_objects import RowBuilder, gc_paused


@pytest.fixture
def archive(session: xnat_sdk.XNATSession) -> xnat_sdk.XNATSession:
    """A project whose experiments alternate MR and PET sessions (runs of two builders)."""
    project = session.projects.create("BATCH", name="Batches")
    subject = project.subjects.create("S1")
    for number in range(7):
        kind = MrSessionData if number % 3 != 1 else PetSessionData
        subject.experiments.create_as(
            kind, f"S1_E{number}", date=datetime.date(2024, 1, 1 + number)
        )
    session.clearcache()
    return session


def rows_of(session: xnat_sdk.XNATSession) -> list[dict[str, str]]:
    return session.listing_rows("/data/projects/BATCH/experiments", {"format": "json"})


def test_iteration_in_small_batches_gives_each_row_its_typed_bound_object(
    archive: xnat_sdk.XNATSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing_module, "_FIRST_BATCH", 2)  # batches of 2, 4, 8 rows
    experiments = archive.projects["BATCH"].experiments
    items = list(experiments)
    rows = experiments.rows()
    assert [item.id for item in items] == [row["ID"] for row in rows]
    for item, row in zip(items, rows, strict=True):
        expected = MrSessionData if row["xsiType"] == "xnat:mrSessionData" else PetSessionData
        assert type(item) is expected
        assert item.label == row["label"]
        assert item.date == datetime.date.fromisoformat(row["date"])
        assert item.uri == f"/data/projects/BATCH/experiments/{row['ID']}"
    assert list(experiments) == items and all(
        again is first for again, first in zip(experiments, items, strict=True)
    )  # the second pass yields the same objects


def test_batch_objects_equal_the_one_row_and_field_by_field_objects(
    archive: xnat_sdk.XNATSession,
) -> None:
    rows = rows_of(archive)
    spec = LISTING_SPECS["experiments"]
    keys = spec.keys(rows)
    uri = "/data/projects/BATCH/experiments"
    batch = RowObjects().build_many(rows, keys, uri, spec, ExperimentData, archive)
    single = [
        RowObjects().build(row, key, uri, spec, ExperimentData, archive)
        for row, key in zip(rows, keys, strict=True)
    ]
    for built, one, row in zip(batch, single, rows, strict=True):
        reference = partial_model(
            type(built),
            {
                "ID": row["ID"],
                "project": row["project"],
                "label": row["label"],
                "date": row["date"],
            },
        )
        assert type(built) is type(one) is type(reference)
        assert vars(built) == vars(one) == vars(reference)
        assert built.model_fields_set == one.model_fields_set == reference.model_fields_set
        assert built.__pydantic_private__ == one.__pydantic_private__
        assert built.__pydantic_extra__ == {} and built == one
        assert built.model_dump() == reference.model_dump()


def test_rows_of_other_columns_and_bad_cells_switch_builders_within_a_batch(
    archive: xnat_sdk.XNATSession,
) -> None:
    spec = LISTING_SPECS["experiments"]
    full = {
        "ID": "E1",
        "project": "BATCH",
        "label": "L1",
        "xsiType": "xnat:mrSessionData",
        "date": "2024-05-06",
    }
    rows = [
        full,
        {**full, "ID": "E2", "date": "not a date", "label": ""},  # same columns, bad cells
        {"ID": "E3", "xsiType": "xnat:mrSessionData", "label": "L3"},  # fewer columns
        {**full, "ID": "E4", "xsiType": "xnat:petSessionData"},  # another type
        {**full, "ID": "E5", "note": "kept"},  # one column more (a field of the model)
        {**full, "ID": "E6"},
    ]
    built = RowObjects().build_many(rows, spec.keys(rows), "/x", spec, ExperimentData, archive)
    assert [item.id for item in built] == ["E1", "E2", "E3", "E4", "E5", "E6"]
    assert [type(item).__name__ for item in built] == [
        "MrSessionData",
        "MrSessionData",
        "MrSessionData",
        "PetSessionData",
        "MrSessionData",
        "MrSessionData",
    ]
    assert built[0].model_fields_set == {"id", "project", "label", "date"}
    assert built[1].model_fields_set == {"id", "project"}  # left for the fetch on first use
    assert built[2].model_fields_set == {"id", "label"}
    assert built[4].model_fields_set == {"id", "project", "label", "date", "note"}
    assert vars(built[4])["note"] == "kept"
    assert vars(built[5]) == {**vars(built[0]), "id": "E6"}


def test_rows_sharing_a_key_yield_the_first_rows_object_and_cached_items_are_reused(
    archive: xnat_sdk.XNATSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing_module, "_FIRST_BATCH", 3)
    experiments = archive.projects["BATCH"].experiments
    rows = experiments.rows()
    looked_up = experiments[rows[4]["ID"]]  # built alone before any iteration
    rows.insert(2, dict(rows[0], label="a second row with the first ID"))
    items = list(experiments)
    assert items[2] is items[0] and items[0].label == rows[0]["label"]
    assert items[5] is looked_up
    assert experiments.items()[2] == (rows[0]["ID"], items[0])


def test_stopping_early_builds_only_the_first_batch(
    archive: xnat_sdk.XNATSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing_module, "_FIRST_BATCH", 2)
    experiments = archive.projects["BATCH"].experiments
    first = next(iter(experiments))
    assert experiments._items == {first.id: first, experiments.rows()[1]["ID"]: experiments[1]}  # pyright: ignore[reportPrivateUsage]  # what was built


def test_the_collector_is_paused_only_while_a_batch_is_built(
    archive: xnat_sdk.XNATSession,
) -> None:
    experiments = archive.projects["BATCH"].experiments
    states: list[bool] = []
    for _ in experiments:
        states.append(gc.isenabled())  # the loop body runs with the collector on
    assert states and all(states) and gc.isenabled()
    assert gc.get_freeze_count() == 0  # the batch went to the oldest generation, not frozen
    built = next(iter(archive.projects["BATCH"].subjects))
    assert any(tracked is built for tracked in gc.get_objects(generation=2))
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failed build")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    gc.freeze()  # a caller that froze objects (before a fork) keeps them frozen
    try:
        with gc_paused():
            assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # not unfrozen
    finally:
        gc.unfreeze()


def test_a_listing_unpickled_onto_another_session_iterates_row_by_row(
    archive: xnat_sdk.XNATSession,
) -> None:
    """A listing reference unpickles onto a ``DeferredSession`` (no batch method): same items."""
    config = archive.config(include_secret=True)
    with xnat_sdk.connect(config=config) as opened:
        experiments = opened.projects["BATCH"].experiments
        restored = pickle.loads(pickle.dumps(experiments))
        assert [item.id for item in restored] == [item.id for item in experiments]
        assert [type(item) for item in restored] == [type(item) for item in experiments]


def test_a_builder_refuses_a_row_of_other_columns(archive: xnat_sdk.XNATSession) -> None:
    builder = RowBuilder(MrSessionData, ("ID", "label"))
    with pytest.raises(ValueError, match="columns"):
        builder.build({"ID": "E1"}, archive, "/x")


def test_a_parsed_answer_does_not_keep_its_response_alive(session: xnat_sdk.XNATSession) -> None:
    """httpx's response and its stream refer to each other; once parsed, the body (19 MB for
    100,000 experiments) is freed with the response instead of at the next full collection."""
    session.get_json("/data/projects")  # a first request: the connection is open
    gc.collect()
    gc.disable()
    try:
        document = session.get_json("/data/projects")
        alive = [kept for kept in gc.get_objects() if isinstance(kept, httpx.Response)]
    finally:
        gc.enable()
    assert alive == []
    assert isinstance(document, dict) and "ResultSet" in document
    response = session.get("/data/projects", format="json")
    assert parse_json(response) == json.loads(response.content)  # the body is still readable


def test_equal_typed_cells_share_one_validated_value_and_bad_ones_stay_out(
    archive: xnat_sdk.XNATSession,
) -> None:
    spec = LISTING_SPECS["experiments"]
    row = {"ID": "E1", "label": "L1", "xsiType": "xnat:mrSessionData", "date": "2024-05-06"}
    rows = [row, {**row, "ID": "E2", "date": "2024-13-40"}, {**row, "ID": "E3"}]
    built = RowObjects().build_many(rows, spec.keys(rows), "/x", spec, ExperimentData, archive)
    first, bad, third = (vars(item) for item in built)
    assert first["date"] == datetime.date(2024, 5, 6) and third["date"] is first["date"]
    assert "date" not in bad and built[1].model_fields_set == {"id", "label"}
