"""Listings over loopback: lookup by ID, label and position, filter, tabulate, caching."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.models import (
    ExperimentData,
    MrScanData,
    MrSessionData,
    PetSessionData,
    ProjectData,
    SubjectData,
)


@pytest.fixture(scope="module")
def archive(xnat_emulator_module: EmulatorHandle) -> Iterator[xnat_sdk.XNATSession]:
    """Two projects; P1 has subjects S01..S03, MR and PET sessions, scans."""
    emu = xnat_emulator_module
    with xnat_sdk.connect(emu.url, emu.user, emu.password, keepalive=None) as session:
        p1 = session.projects.create("P1", name="First project")
        session.projects.create("P2", name="Second project")
        for label in ("S01", "S02", "S03"):
            p1.subjects.create(label)
        s01 = p1.subjects["S01"]
        mr = s01.experiments.create_as(MrSessionData, "S01_MR1", date=datetime.date(2024, 1, 2))
        mr.scans.create_as(MrScanData, "1", type="T1w", quality="usable")
        mr.scans.create_as(MrScanData, "2", type="T2w", quality="questionable")
        s01.experiments.create_as(PetSessionData, "S01_PET1")
        p1.subjects["S02"].experiments.create_as(MrSessionData, "S02_MR1")
        session.clearcache()
        yield session


def test_projects_by_id_name_and_position(archive: xnat_sdk.XNATSession) -> None:
    projects = archive.projects
    assert len(projects) == 2
    assert sorted(projects.keys()) == ["P1", "P2"]
    by_id = projects["P1"]
    assert isinstance(by_id, ProjectData)
    assert by_id.id == "P1"
    assert projects["Second project"].id == "P2"  # the secondary key is the name
    assert projects[0].id in ("P1", "P2")
    assert projects[-1].id != projects[0].id
    assert "P1" in projects and "First project" in projects and "P9" not in projects


def test_unknown_keys_raise_a_key_error_listing_what_exists(
    archive: xnat_sdk.XNATSession,
) -> None:
    with pytest.raises(xnat_sdk.XNATKeyError) as caught:
        archive.projects["NOPE"]
    assert "NOPE" in str(caught.value) and "P1" in str(caught.value)
    assert isinstance(caught.value, KeyError)
    with pytest.raises(xnat_sdk.XNATKeyError, match="position 7"):
        archive.projects[7]
    assert archive.projects.get("NOPE") is None
    assert archive.projects.get("NOPE", "fallback") == "fallback"


def test_items_are_the_concrete_class_of_their_xsi_type(archive: xnat_sdk.XNATSession) -> None:
    experiments = archive.projects["P1"].subjects["S01"].experiments
    by_label = {experiment.label: experiment for experiment in experiments}
    assert isinstance(by_label["S01_MR1"], MrSessionData)
    assert isinstance(by_label["S01_PET1"], PetSessionData)
    assert all(isinstance(e, ExperimentData) for e in archive.experiments)


def test_row_built_objects_fetch_other_fields_once(archive: xnat_sdk.XNATSession) -> None:
    archive.clearcache()
    experiments = archive.projects["P1"].subjects["S01"].experiments
    mr = experiments["S01_MR1"]
    assert isinstance(mr, MrSessionData)
    sent: list[str] = []
    archive.interface.event_hooks["request"].append(lambda r: sent.append(r.url.path))
    try:
        assert mr.label == "S01_MR1"  # from the listing row: no request
        assert sent == []
        assert mr.subject_id == archive.projects["P1"].subjects["S01"].id  # fetched once
        assert mr.date == datetime.date(2024, 1, 2)
        assert sent.count(mr.uri) == 1
    finally:
        archive.interface.event_hooks["request"].clear()


def test_scans_by_id_and_type(archive: xnat_sdk.XNATSession) -> None:
    mr = archive.projects["P1"].subjects["S01"].experiments["S01_MR1"]
    assert isinstance(mr, MrSessionData)
    scans = mr.scans
    assert sorted(scans.keys()) == ["1", "2"]
    assert scans["T2w"].id == "2"
    assert isinstance(scans["1"], MrScanData)
    assert scans["1"].quality == "usable"


def test_filter_is_applied_and_conflicts_are_refused(archive: xnat_sdk.XNATSession) -> None:
    subjects = archive.projects["P1"].subjects
    assert sorted(s.label or "" for s in subjects.filter(label="S0[12]")) == ["S01", "S02"]
    narrowed = subjects.filter({"label": "S03"})
    assert [s.label for s in narrowed] == ["S03"]
    with pytest.raises(xnat_sdk.XNATValueError, match="conflicts"):
        narrowed.filter(label="S01")
    mr_only = archive.projects["P1"].experiments.filter(xsiType="xnat:mrSessionData")
    assert sorted(e.label or "" for e in mr_only) == ["S01_MR1", "S02_MR1"]


def test_tabulate_returns_the_requested_columns(archive: xnat_sdk.XNATSession) -> None:
    rows = archive.projects["P1"].subjects.tabulate(["ID", "label"])
    assert sorted(row["label"] for row in rows) == ["S01", "S02", "S03"]
    assert all(set(row) == {"ID", "label"} for row in rows)
    filtered = archive.projects["P1"].subjects.tabulate(["label"], filter={"label": "S02"})
    assert filtered == [{"label": "S02"}]


def test_ambiguous_secondary_key_names_the_candidates(archive: xnat_sdk.XNATSession) -> None:
    p2 = archive.projects["P2"]
    p2.subjects.create("TWIN")
    # The same label in another project: the site-wide subject listing sees both.
    archive.projects["P1"].subjects.create("TWIN")
    archive.clearcache()
    with pytest.raises(xnat_sdk.XNATAmbiguousKeyError) as caught:
        archive.subjects["TWIN"]
    assert len(caught.value.candidates) == 2
    assert all(c in str(caught.value) for c in caught.value.candidates)


def test_listing_cache_and_clearcache(archive: xnat_sdk.XNATSession) -> None:
    subjects = archive.projects["P2"].subjects
    before = len(subjects)
    # Another client adds a subject behind this session's back.
    archive.put("/data/projects/P2/subjects/BEHIND", query={"xsiType": "xnat:subjectData"})
    assert len(archive.projects["P2"].subjects) == before  # cached
    archive.clearcache()
    assert len(archive.projects["P2"].subjects) == before + 1
    archive.caching = False
    try:
        archive.put("/data/projects/P2/subjects/BEHIND2", query={"xsiType": "xnat:subjectData"})
        assert len(archive.projects["P2"].subjects) == before + 2
    finally:
        archive.caching = True


def test_items_values_and_iteration_agree(archive: xnat_sdk.XNATSession) -> None:
    subjects = archive.projects["P1"].subjects
    pairs = subjects.items()
    assert [key for key, _ in pairs] == subjects.keys()
    assert [s.id for s in subjects.values()] == subjects.keys()
    assert [s.id for s in subjects] == subjects.keys()
    assert all(isinstance(s, SubjectData) for s in subjects.listing)


def test_tabulate_pandas(archive: xnat_sdk.XNATSession) -> None:
    pandas = pytest.importorskip("pandas", reason="tabulate_pandas needs pandas")
    subjects = archive.projects["P1"].subjects
    frame = subjects.tabulate_pandas(["ID", "label"])
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["ID", "label"]
    assert {"S01", "S02", "S03"} <= set(frame["label"])
    assert sorted(frame["label"]) == sorted(row["label"] for row in subjects.tabulate(["label"]))


def test_typed_rows_carry_every_standard_column(archive: xnat_sdk.XNATSession) -> None:
    rows = archive.projects.tabulate()
    assert {row["ID"] for row in rows} >= {"P1", "P2"}
    expected = {"ID", "secondary_ID", "name", "description", "pi_firstname", "pi_lastname", "URI"}
    assert all(expected <= set(row) for row in rows)
    scans = archive.projects["P1"].subjects["S01"].experiments["S01_MR1"]
    assert isinstance(scans, MrSessionData)
    scan_rows = scans.scans.tabulate()
    assert sorted((row["ID"], row["type"]) for row in scan_rows) == [("1", "T1w"), ("2", "T2w")]
