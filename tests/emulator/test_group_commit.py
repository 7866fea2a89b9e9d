"""Group commit (``Database.write_in_group``): writes made at once by several threads share a
commit, each still all-or-nothing on its own, and none is answered before it is durable."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.emulator.storage import Database

THREADS = 8


def value_of(db: Database, name: str) -> int | None:
    row = db.read().execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row["value"])


def test_writes_at_once_share_commits_and_fail_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path / "db.sqlite")
    transactions: list[int] = []
    real_write = Database.write

    def counted_write(
        self: Database, tables: Collection[str] | None = None
    ) -> AbstractContextManager[sqlite3.Connection]:
        transactions.append(1)
        return real_write(self, tables)

    monkeypatch.setattr(Database, "write", counted_write)
    started = threading.Barrier(THREADS)
    outcomes: dict[int, object] = {}

    def insert(number: int) -> None:
        def work(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO counters(name, value) VALUES (?, ?)", (f"n{number}", number))
            if number == 0:
                time.sleep(0.3)  # the first group's leader is slow: the others queue meanwhile
            if number == 3:
                raise ValueError("work 3 fails after writing")
            return number * 10

        started.wait()
        if number != 0:
            time.sleep(0.05)  # behind the leader
        try:
            outcomes[number] = db.write_in_group(["counters"], work)
        except ValueError as error:
            outcomes[number] = error

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert isinstance(outcomes.pop(3), ValueError)
        assert outcomes == {n: n * 10 for n in range(THREADS) if n != 3}
        assert value_of(db, "n3") is None  # rolled back alone
        assert all(value_of(db, f"n{n}") == n for n in range(THREADS) if n != 3)
        assert len(transactions) < THREADS  # some writes shared a commit
    finally:
        db.close()


def test_a_write_in_group_inside_a_transaction_joins_it(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")

    def work(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO counters(name, value) VALUES ('inner', 1)")
        return "joined"

    try:
        with pytest.raises(RuntimeError), db.write(["counters"]):
            assert db.write_in_group(["counters"], work) == "joined"
            raise RuntimeError("the outer transaction fails")
        assert value_of(db, "inner") is None  # rolled back with the outer transaction
        assert db.write_in_group(["counters"], work) == "joined"
        assert value_of(db, "inner") == 1
    finally:
        db.close()


def test_parallel_uploads_are_each_stored_or_refused_on_their_own(
    xnat_emulator: EmulatorHandle,
) -> None:
    files = "/data/projects/P1/subjects/S1/experiments/MR1/resources/RAW/files"
    auth = (xnat_emulator.user, xnat_emulator.password)
    with httpx.Client(base_url=xnat_emulator.url, auth=auth) as client:
        assert client.put("/data/projects/P1").status_code in (200, 201)
        assert client.put("/data/projects/P1/subjects/S1").status_code in (200, 201)
        made = client.put(
            "/data/projects/P1/subjects/S1/experiments/MR1",
            params={"xsiType": "xnat:mrSessionData"},
        )
        assert made.status_code in (200, 201)
        first = client.put(f"{files}/taken.txt", params={"inbody": "true"}, content=b"first")
        assert first.status_code == 200
    started = threading.Barrier(THREADS)
    statuses: dict[str, int] = {}

    def upload(name: str) -> None:
        with httpx.Client(base_url=xnat_emulator.url, auth=auth) as client:
            started.wait()
            answer = client.put(
                f"{files}/{name}", params={"inbody": "true"}, content=f"body of {name}".encode()
            )
            statuses[name] = answer.status_code

    names = ["taken.txt", *(f"f{n}.txt" for n in range(THREADS - 1))]
    threads = [threading.Thread(target=upload, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == {name: 409 if name == "taken.txt" else 200 for name in names}
    with httpx.Client(base_url=xnat_emulator.url, auth=auth) as client:
        assert client.get(f"{files}/taken.txt").content == b"first"
        for name in names[1:]:
            assert client.get(f"{files}/{name}").content == f"body of {name}".encode()
