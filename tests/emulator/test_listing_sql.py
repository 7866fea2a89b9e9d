"""Subject, experiment and assessor listings answered straight from SQLite (``rows.sql_table``)
give exactly the rows of the general path (a ``Node`` and a full row per object), which a
column filter matching everything (``label=*``) still takes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from xnat_sdk.emulator.archive import ArchiveStore, NewObject
from xnat_sdk.emulator.server import Emulator, open_context

MR = "xnat:mrSessionData"
QC = "xnat:qcAssessmentData"
LISTINGS = [
    "/data/experiments",
    "/data/subjects",
    "/data/projects/P1/subjects",
    "/data/projects/P1/experiments",
    "/data/projects/P2/subjects",
    "/data/projects/P2/experiments",
    "/data/projects/P1/subjects/S1/experiments",
    "/data/experiments/MR1/assessors",
]
COLUMNS = [
    None,
    "ID,label,subject_ID,subject_label,date,URI",
    "ID,session_ID,session_label,note,dcmPatientName,no_such_column,insert_user",
    "group,src,initials,a.b,label",
    "DEFAULT",
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """P1 (subjects with fields, sessions, an assessor) shares a subject and a session into
    P2 under other labels; user ``reader`` is a member of P2 only."""
    data_dir: Path = tmp_path_factory.mktemp("listing-sql")
    context = open_context(data_dir, users={"reader": "reader-pw"})
    store = ArchiveStore(context)
    admin = context.auth.account("admin")
    assert admin is not None
    with context.db.write():
        p1, _ = store.put_project("P1", {"name": "One"}, admin)
        p2, _ = store.put_project("P2", {"name": "Two"}, admin)
        store.set_role(p2, "reader", "member", admin)
        s1, s2 = store.create_many(
            p1,
            "subject",
            [
                NewObject("S1", "xnat:subjectData", {"group": "control", "src": "clinic"}),
                NewObject("S2", "xnat:subjectData", {"initials": "AB"}),
            ],
            admin,
        )
        sessions = store.create_many(
            s1,
            "experiment",
            [NewObject("MR1", MR, {"date": "2024-01-02", "note": "first"}), NewObject("MR2", MR)],
            admin,
        )
        store.create_many(s2, "experiment", [NewObject("MR3", MR, {"date": "2023-05-06"})], admin)
        store.create_many(sessions[0], "assessor", [NewObject("QC1", QC, {"note": "ok"})], admin)
        store.share(s1, p2, "S1_IN_P2", admin)
        store.share(sessions[1], p2, "MR2_IN_P2", admin)
    context.db.close()
    with Emulator(data_dir, users={"reader": "reader-pw"}) as emulator:
        yield emulator


@pytest.mark.parametrize("user", ["admin", "reader"])
def test_sql_rows_equal_the_general_rows(archive: Emulator, user: str) -> None:
    password = "admin" if user == "admin" else "reader-pw"
    compared = 0
    with httpx.Client(base_url=archive.url, auth=(user, password)) as http:
        http.cookies.set("JSESSIONID", http.get("/data/JSESSION").text)
        for path in LISTINGS:
            for columns in COLUMNS:
                query = {"format": "json"} | ({"columns": columns} if columns else {})
                fast = http.get(path, params=query)
                general = http.get(path, params=query | {"label": "*"})
                assert fast.status_code == general.status_code, (path, columns)
                if fast.status_code != 200:
                    continue
                rows = fast.json()["ResultSet"]["Result"]
                assert rows == general.json()["ResultSet"]["Result"], (path, columns)
                compared += len(rows)
    assert compared == (80 if user == "admin" else 10)


def test_the_sql_rows_hold_fields_parents_and_shared_labels(archive: Emulator) -> None:
    with httpx.Client(base_url=archive.url, auth=("admin", "admin")) as http:
        experiments = http.get(
            "/data/experiments", params={"format": "json", "columns": COLUMNS[1]}
        ).json()["ResultSet"]["Result"]
        subjects = http.get(
            "/data/projects/P2/subjects", params={"format": "json", "columns": COLUMNS[3]}
        ).json()["ResultSet"]["Result"]
    by_label = {row["label"]: row for row in experiments}
    assert sorted(by_label) == ["MR1", "MR2", "MR3", "QC1"]
    assert by_label["MR1"]["date"] == "2024-01-02"
    assert by_label["MR3"]["subject_label"] == "S2"
    assert by_label["MR1"]["URI"] == f"/data/experiments/{by_label['MR1']['ID']}"
    assert by_label["QC1"]["URI"].endswith(f"/assessors/{by_label['QC1']['ID']}")
    assert subjects == [
        {
            "group": "control",
            "src": "clinic",
            "initials": "",
            "a.b": "",
            "label": "S1_IN_P2",
            "URI": subjects[0]["URI"],
        }
    ]


def test_readers_see_only_what_they_may_read(archive: Emulator) -> None:
    with httpx.Client(base_url=archive.url, auth=("reader", "reader-pw")) as http:
        rows = http.get("/data/experiments", params={"format": "json"}).json()
    assert rows["ResultSet"]["Result"] == []  # P2 owns nothing: shared sessions are P1's
    with httpx.Client(base_url=archive.url, auth=("reader", "reader-pw")) as http:
        shared = http.get("/data/projects/P2/experiments", params={"format": "json"}).json()
    assert [r["label"] for r in shared["ResultSet"]["Result"]] == ["MR2_IN_P2"]


def test_json_rendered_by_sqlite_equals_the_other_formats(archive: Emulator) -> None:
    """The JSON listing (objects rendered by SQLite) holds the cells the CSV listing (rows
    from ``sql_table``) holds, in the same order; a column named twice is one key."""
    query = {"columns": "ID,label,note,label,date"}
    with httpx.Client(base_url=archive.url, auth=("admin", "admin")) as http:
        answer = http.get("/data/experiments", params=query | {"format": "json"})
        text = http.get("/data/experiments", params=query | {"format": "csv"}).text
    body = answer.json()["ResultSet"]
    header, *lines = [line.split(",") for line in text.strip().splitlines()]
    assert answer.headers["content-type"].startswith("application/json")
    assert body["totalRecords"] == str(len(lines)) == "4"
    assert body["title"] == "Experiments"
    assert [list(row) for row in body["Result"]] == [["ID", "label", "note", "date", "URI"]] * 4
    assert [[row[c] for c in header] for row in body["Result"]] == lines
    assert [row["note"] for row in body["Result"]] == ["first", "", "", "ok"]


def test_json_cells_keep_quotes_and_non_ascii(tmp_path: Path) -> None:
    """Field values are escaped by SQLite's JSON writer: quotes, backslashes, accents."""
    tricky = 'Zoë "the" \\ patient'
    context = open_context(tmp_path)
    store = ArchiveStore(context)
    admin = context.auth.account("admin")
    assert admin is not None
    with context.db.write():
        project, _ = store.put_project("P", {}, admin)
        store.create_many(
            project, "subject", [NewObject("S", "xnat:subjectData", {"src": tricky})], admin
        )
    context.db.close()
    with (
        Emulator(tmp_path) as emulator,
        httpx.Client(base_url=emulator.url, auth=("admin", "admin")) as http,
    ):
        rows = http.get(
            "/data/projects/P/subjects", params={"format": "json", "columns": "label,src"}
        ).json()["ResultSet"]["Result"]
    assert rows == [{"label": "S", "src": tricky, "URI": rows[0]["URI"]}]


@pytest.mark.parametrize("path", LISTINGS)
def test_columns_default_means_the_default_columns(archive: Emulator, path: str) -> None:
    """xnatpy's ``tabulate()`` sends ``columns=DEFAULT``: xnat-web answers its default fields."""
    with httpx.Client(base_url=archive.url, auth=("admin", "admin")) as http:
        plain = http.get(path, params={"format": "json"})
        default = http.get(path, params={"format": "json", "columns": "DEFAULT"})
    assert default.status_code == plain.status_code
    if plain.status_code == 200:
        assert default.json()["ResultSet"]["Result"] == plain.json()["ResultSet"]["Result"]
    assert "DEFAULT" not in default.text
