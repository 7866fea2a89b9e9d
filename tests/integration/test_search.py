"""``session.search``: typed constraints sent as XNAT's search document to the emulator over
loopback, checked against what the listings and plain Python give on the same data."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import xnat_sdk
from xnat_sdk.emulator.server import Emulator
from xnat_sdk.errors import XNATResponseError
from xnat_sdk.models import (
    CtScanData,
    CtSessionData,
    ExperimentDataDelay,
    MrSessionData,
    SubjectData,
    XdatUser,
)
from xnat_sdk.search import Constraint, Query, SearchError, SearchRow, and_, or_

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2024, 1, 1)
#: The MR sessions seeded below: label -> (project, subject, date, age, manufacturer, note,
#: time).
MR = {
    "MR1": ("P1", "S01", dt.date(2024, 3, 5), 41.5, "Siemens", None, dt.time(9, 30)),
    "MR2": ("P1", "S02", dt.date(2023, 12, 1), 7.0, "GE", "repeat", dt.time(14, 0)),
    "MR3": ("P2", "S03", dt.date(2024, 1, 1), 65.0, "SIEMENS", None, None),
    "MR4": ("P1", "S01", None, None, None, "no date", None),
    "mr5": ("P1", "S02", dt.date(2024, 1, 2), 41.5, "Philips", None, dt.time(9, 30)),
}
#: Subjects: label -> (project, group, initials).
SUBJECTS = {
    "S01": ("P1", "control", "AB"),
    "S02": ("P1", "patient", None),
    "S03": ("P2", "control", "CD"),
    "X10": ("P1", None, None),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Two projects; ``carol`` is a member of P1 only. A CT session sits beside the MR ones."""
    with Emulator(tmp_path_factory.mktemp("search"), users={"carol": "carol-pw"}) as emulator:
        with xnat_sdk.connect(emulator.url, *emulator.admin, keepalive=None) as admin:
            projects = {name: admin.projects.create(name) for name in ("P1", "P2")}
            subjects = {}
            for label, (project, group, initials) in SUBJECTS.items():
                subjects[label] = projects[project].subjects.create(
                    label, group=group, initials=initials
                )
            for label, (_, subject, date, age, maker, note, time) in MR.items():
                subjects[subject].experiments.create_as(
                    MrSessionData,
                    label,
                    date=date,
                    age=age,
                    note=note,
                    time=time,
                    scanner={"manufacturer": maker} if maker else None,
                )
            subjects["S01"].experiments.create_as(CtSessionData, "CT1", date=dt.date(2024, 5, 1))
            admin.put("/data/projects/P1/users/Members/carol")
        yield emulator


@pytest.fixture(scope="module")
def admin(site: Emulator) -> Iterator[xnat_sdk.XNATSession]:
    with xnat_sdk.connect(site.url, *site.admin, keepalive=None) as opened:
        yield opened


@pytest.fixture(scope="module")
def sessions(admin: xnat_sdk.XNATSession) -> list[MrSessionData]:
    """Every MR session as the listing gives it (typed objects, fields fetched)."""
    found = [e for e in admin.experiments if isinstance(e, MrSessionData)]
    assert sorted(e.label or "" for e in found) == sorted(MR)
    return found


def _labels(rows: list[SearchRow]) -> list[str]:
    return sorted(row["label"] for row in rows)


def _search_labels(admin: xnat_sdk.XNATSession, *constraints: Constraint) -> list[str]:
    query = admin.search(MrSessionData).columns(MrSessionData.c.label).filter(*constraints)
    return _labels(query.all())


def _maker(session: MrSessionData) -> str | None:
    return session.scanner.manufacturer if session.scanner is not None else None


C = MrSessionData.c
#: (constraint, the same test in Python on a listed MrSessionData).
CASES: list[tuple[str, Constraint, Callable[[MrSessionData], bool]]] = [
    ("date ==", C.date == DAY, lambda e: e.date == DAY),
    ("date !=", C.date != DAY, lambda e: e.date != DAY),  # missing values too, as XNAT
    ("date <", C.date < DAY, lambda e: e.date is not None and e.date < DAY),
    ("date <=", C.date <= DAY, lambda e: e.date is not None and e.date <= DAY),
    ("date >", C.date > DAY, lambda e: e.date is not None and e.date > DAY),
    ("date >=", C.date >= DAY, lambda e: e.date is not None and e.date >= DAY),
    ("age ==", C.age == 41.5, lambda e: e.age == 41.5),
    ("age !=", C.age != 41.5, lambda e: e.age != 41.5),
    ("note !=", C.note != "repeat", lambda e: e.note != "repeat"),
    ("age <", C.age < 41.5, lambda e: e.age is not None and e.age < 41.5),
    ("age <=", C.age <= 41.5, lambda e: e.age is not None and e.age <= 41.5),
    ("age >", C.age > 10, lambda e: e.age is not None and e.age > 10),
    ("age >=", C.age >= 65, lambda e: e.age is not None and e.age >= 65),
    ("time <", C.time < dt.time(12), lambda e: e.time is not None and e.time < dt.time(12)),
    ("label ==", C.label == "MR2", lambda e: e.label == "MR2"),
    ("label !=", C.label != "MR2", lambda e: e.label != "MR2"),
    ("label <", C.label < "MR3", lambda e: (e.label or "") < "MR3"),
    ("label >=", C.label >= "MR3", lambda e: (e.label or "") >= "MR3"),
    ("project ==", C.project == "P2", lambda e: e.project == "P2"),
    ("in_", C.label.in_(["MR1", "MR3", "NONE"]), lambda e: e.label in ("MR1", "MR3")),
    ("is_null", C.note.is_null(), lambda e: e.note is None),
    ("not_null", C.note.not_null(), lambda e: e.note is not None),
    ("nested null", C.scanner.manufacturer.is_null(), lambda e: _maker(e) is None),
    (
        "nested ==",
        C.scanner.manufacturer == "GE",
        lambda e: _maker(e) == "GE",
    ),
    (
        "and",
        (C.date >= DAY) & (C.age < 50.0),
        lambda e: e.date is not None and e.date >= DAY and e.age is not None and e.age < 50,
    ),
    (
        "or",
        (C.date < DAY) | (C.age >= 65.0),
        lambda e: (e.date is not None and e.date < DAY) or (e.age is not None and e.age >= 65),
    ),
    (
        "and of ors",
        and_(or_(C.project == "P1", C.age > 60.0), or_(C.note.not_null(), C.date > DAY)),
        lambda e: (
            (e.project == "P1" or (e.age or 0) > 60)
            and (e.note is not None or (e.date is not None and e.date > DAY))
        ),
    ),
    (
        "or of ands",
        ((C.project == "P1") & C.date.is_null()) | ((C.project == "P2") & (C.age > 60.0)),
        lambda e: (
            (e.project == "P1" and e.date is None) or (e.project == "P2" and (e.age or 0) > 60)
        ),
    ),
]


@pytest.mark.parametrize(("name", "constraint", "holds"), CASES, ids=[c[0] for c in CASES])
def test_search_equals_listing_and_filter(
    admin: xnat_sdk.XNATSession,
    sessions: list[MrSessionData],
    name: str,
    constraint: Constraint,
    holds: Callable[[MrSessionData], bool],
) -> None:
    expected = sorted(e.label or "" for e in sessions if holds(e))
    assert _search_labels(admin, constraint) == expected, name
    # a case that selects everything or nothing would prove little
    assert 0 < len(expected) < len(MR), name


def test_like_and_not_like(admin: xnat_sdk.XNATSession) -> None:
    # case-insensitive, % any run, _ one character, as XNAT's ILIKE
    assert _search_labels(admin, C.label.like("mr%")) == sorted(MR)
    assert _search_labels(admin, C.label.like("MR_")) == sorted(MR)
    assert _search_labels(admin, C.label.like("%2")) == ["MR2"]
    assert _search_labels(admin, C.scanner.manufacturer.like("sie%")) == ["MR1", "MR3"]
    # NOT LIKE is false on a missing value, as SQL's NULL NOT LIKE is
    assert _search_labels(admin, C.scanner.manufacturer.not_like("sie%")) == ["MR2", "mr5"]
    assert _search_labels(admin, C.label.not_like("MR%")) == []


def test_filters_accumulate_as_and(admin: xnat_sdk.XNATSession) -> None:
    query = admin.search(MrSessionData).filter(C.project == "P1")
    narrowed = query.filter(C.date >= DAY).filter(C.age > 40.0)
    assert _labels(narrowed.all()) == ["MR1", "mr5"]
    assert _labels(query.all()) == ["MR1", "MR2", "MR4", "mr5"], "filter() returns a new query"
    assert narrowed.session is admin


def test_default_rows_are_typed_string_rows(
    admin: xnat_sdk.XNATSession, sessions: list[MrSessionData]
) -> None:
    rows = admin.search(MrSessionData).filter(C.label == "MR1").all()
    (mr1,) = [e for e in sessions if e.label == "MR1"]
    assert rows == [
        {
            "session_id": mr1.id,
            "label": "MR1",
            "project": "P1",
            "subject_id": mr1.subject_id,
            "date": "2024-03-05",
        }
    ]
    picked = (
        admin.search(MrSessionData)
        .columns(C.label, C.age, C.scanner.manufacturer, C.note)
        .filter(C.label.in_(["MR1", "MR4"]))
        .all()
    )
    by_label = {row["label"]: row for row in picked}
    assert by_label["MR1"] == {
        "label": "MR1",
        "age": "41.5",
        "scanner_manufacturer": "Siemens",
        "note": "",
    }
    assert by_label["MR4"]["note"] == "no date" and by_label["MR4"]["age"] == ""
    # each column parses its cells into its own type
    assert C.date.parse(rows[0]["date"]) == mr1.date == dt.date(2024, 3, 5)
    assert C.age.parse(by_label["MR1"]["age"]) == mr1.age == 41.5
    assert C.age.parse(by_label["MR4"]["age"]) is None
    assert C.scanner.manufacturer.parse(by_label["MR1"]["scanner_manufacturer"]) == "Siemens"
    first = admin.search(MrSessionData).filter(C.label == "MR2").first()
    assert first is not None and first["label"] == "MR2"
    assert admin.search(MrSessionData).filter(C.label == "none").first() is None


def test_cells_parse_as_their_column_type() -> None:
    assert C.date.parse("03/05/2024") == C.date.parse("2024-03-05 00:00:00.0")
    assert C.time.parse("09:30:00.0") == dt.time(9, 30)
    assert C.version.parse("3") == 3 and C.version.parse("3.0") == 3
    assert CtScanData.c.dcm_validation.status.parse("true") is True
    assert C.label.parse(" ") is None
    with pytest.raises(SearchError, match="'soon' is not a valid date value"):
        C.date.parse("soon")
    with pytest.raises(SearchError, match=r"'3\.5' is not a valid int value"):
        C.version.parse("3.5")


def test_search_on_a_subject_level_type(admin: xnat_sdk.XNATSession) -> None:
    S = SubjectData.c
    controls = admin.search(SubjectData).filter(S.group == "control").all()
    listed = admin.projects["P1"].subjects.tabulate() + admin.projects["P2"].subjects.tabulate()
    by_label = {row["label"]: row for row in listed}
    assert _labels(controls) == ["S01", "S03"]
    for row in controls:
        assert set(row) == {"subjectid", "label", "project"}
        assert row["subjectid"] == by_label[row["label"]]["ID"]
        assert row["project"] == by_label[row["label"]]["project"]
    in_p1 = admin.search(SubjectData).filter(S.project == "P1", S.label.like("S%")).all()
    assert _labels(in_p1) == sorted(
        r["label"] for r in listed if r["label"].startswith("S") and r["project"] == "P1"
    )
    no_group = admin.search(SubjectData).filter(S.group.is_null() | (S.initials == "CD")).all()
    assert _labels(no_group) == ["S03", "X10"]


def test_experiment_level_search_keeps_to_its_type(admin: xnat_sdk.XNATSession) -> None:
    cts = admin.search(CtSessionData).filter(CtSessionData.c.date > DAY).all()
    assert _labels(cts) == ["CT1"]
    assert "CT1" not in _search_labels(admin, C.date > DAY)


def test_search_sees_only_readable_projects(site: Emulator) -> None:
    with xnat_sdk.connect(site.url, "carol", "carol-pw", keepalive=None) as carol:
        rows = carol.search(MrSessionData).filter(C.age > 0.0).all()
    assert {row["project"] for row in rows} == {"P1"}
    assert _labels(rows) == ["MR1", "MR2", "mr5"]


def test_csv_is_the_same_table(admin: xnat_sdk.XNATSession) -> None:
    query = admin.search(MrSessionData).columns(C.label, C.project).filter(C.date < DAY)
    lines = query.tabulate_csv().strip().splitlines()
    assert lines == ["label,project", "MR2,P1"]
    assert query.tabulate_dict() == [{"label": "MR2", "project": "P1"}]


def test_a_server_error_is_a_typed_error(admin: xnat_sdk.XNATSession) -> None:
    with pytest.raises(XNATResponseError) as raised:
        admin.search(XdatUser).all()
    assert raised.value.status_code == 400
    assert "xdat:user is not a searchable data type" in str(raised.value)


def test_bad_queries_fail_before_any_request(admin: xnat_sdk.XNATSession, site: Emulator) -> None:
    before = site.faults.seen("POST", "/data/search")
    untyped: Any = C  # what a caller without a type checker could write
    with pytest.raises(SearchError, match="date compares with date values, not str"):
        _ = untyped.date > "2024-01-01"
    with pytest.raises(SearchError, match="age compares with int or float values, not bool"):
        _ = untyped.age == True  # noqa: E712  # the comparison under test
    with pytest.raises(SearchError, match="label compares with str values, not int"):
        untyped.label.like(3)
    with pytest.raises(AttributeError, match="MrSessionData has no search column 'dtae'"):
        untyped.dtae  # noqa: B018  # the attribute access under test
    with pytest.raises(AttributeError, match="is a separate xnat:investigatorData"):
        untyped.investigator  # noqa: B018  # the attribute access under test
    with pytest.raises(SearchError, match="not a search constraint"):
        admin.search(MrSessionData).filter(untyped.label)  # a column, not a comparison
    with pytest.raises(SearchError, match="in_\\(\\) needs at least one value"):
        C.label.in_([])
    with pytest.raises(SearchError, match="and_\\(\\) needs at least one constraint"):
        and_()
    with pytest.raises(SearchError, match="not a searchable XNAT data type"):
        admin.search(ExperimentDataDelay)
    assert site.faults.seen("POST", "/data/search") == before


def test_the_document_nests_as_written(admin: xnat_sdk.XNATSession) -> None:
    query: Query[MrSessionData] = admin.search(MrSessionData).filter(
        (C.label == "A") | ((C.age > 1.0) & (C.date.is_null())), C.project == "P1"
    )
    document = query.document()
    assert document.count("<xdat:child_set") == 2
    assert "<xdat:comparison_type>IS NULL</xdat:comparison_type>" in document
    assert "xnat:mrSessionData/age" in document


def _check(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_mypy_accepts_the_search_types_and_rejects_a_misspelt_column(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_search.py"
    wrong.write_text(
        "import datetime\n"
        "from xnat_sdk.models import MrSessionData\n"
        "misspelt = MrSessionData.c.dtae > datetime.date(2024, 1, 1)\n"
        "wrong_value = MrSessionData.c.date > '2024-01-01'\n"
    )
    # one run for both files: the typing checks must pass, the wrong file must not
    mypy = _check(
        sys.executable, "-m", "mypy", "--strict", "tests/typing/search_types.py", str(wrong)
    )
    errors = [line for line in mypy.stdout.splitlines() if ": error:" in line]
    # (mypy's cache may name an earlier run's copy of the same file: match by file name)
    assert all("wrong_search.py:" in line for line in errors), mypy.stdout
    assert len(errors) == 2, mypy.stdout
    assert 'has no attribute "dtae"' in errors[0]
    assert 'Unsupported operand types for > ("SearchField[date]" and "str")' in errors[1]
