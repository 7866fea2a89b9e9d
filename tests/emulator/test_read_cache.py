"""The emulator's read cache (accounts, path walks, object and file lookups) never answers
with something older than the last write: writes over HTTP, writes made in another thread's
transaction, and commits by another connection (a test editing the SQLite file) all show at
the very next request."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from xnat_sdk.emulator.pytest_plugin import EmulatorFactory, EmulatorHandle
from xnat_sdk.emulator.readcache import CacheSlot, ReadCache
from xnat_sdk.emulator.storage import MTIME_COARSENESS_NS, Database

SESSION = "/data/projects/P1/subjects/S1/experiments/MR1"
FILES = f"{SESSION}/resources/RAW/files"


def build(client: httpx.Client) -> None:
    assert client.put("/data/projects/P1").status_code in (200, 201)
    assert client.put("/data/projects/P1/subjects/S1").status_code in (200, 201)
    made = client.put(SESSION, params={"xsiType": "xnat:mrSessionData"})
    assert made.status_code in (200, 201)
    stored = client.put(f"{FILES}/a.txt", params={"inbody": "true"}, content=b"first")
    assert stored.status_code == 200


@pytest.fixture
def admin(xnat_emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as client:
        build(client)
        yield client


def outside_write(data_dir: Path, sql: str, params: tuple[str, ...]) -> None:
    """Change the database behind the emulator's back, as another process would."""
    with sqlite3.connect(data_dir / "xnat.sqlite") as db:
        assert db.execute(sql, params).rowcount == 1


def test_overwritten_and_deleted_files_show_at_once(admin: httpx.Client) -> None:
    for _ in range(3):  # warm every cached step of the walk
        assert admin.get(f"{FILES}/a.txt").content == b"first"
    replaced = admin.put(
        f"{FILES}/a.txt", params={"inbody": "true", "overwrite": "true"}, content=b"second!"
    )
    assert replaced.status_code == 200
    answer = admin.get(f"{FILES}/a.txt")
    assert answer.content == b"second!"
    assert answer.headers["content-length"] == "7"
    assert admin.delete(f"{FILES}/a.txt").status_code == 200
    assert admin.get(f"{FILES}/a.txt").status_code == 404


def test_relabelled_and_deleted_objects_show_at_once(admin: httpx.Client) -> None:
    assert admin.get(f"{FILES}/a.txt").status_code == 200
    assert admin.put(SESSION, params={"label": "MR2"}).status_code == 200
    assert admin.get(f"{FILES}/a.txt").status_code == 404
    moved = "/data/projects/P1/subjects/S1/experiments/MR2/resources/RAW/files/a.txt"
    assert admin.get(moved).content == b"first"
    assert admin.delete("/data/projects/P1/subjects/S1").status_code == 200
    assert admin.get(moved).status_code == 404


def test_project_access_changes_show_at_once(xnat_emulator_factory: EmulatorFactory) -> None:
    handle = xnat_emulator_factory(users={"bob": "bobpw"})
    with (
        httpx.Client(base_url=handle.url, auth=(handle.user, handle.password)) as admin,
        httpx.Client(base_url=handle.url, auth=("bob", "bobpw")) as bob,
    ):
        build(admin)
        assert bob.get(f"{FILES}/a.txt").status_code in (403, 404)  # private project
        assert admin.put("/data/projects/P1/users/members/bob").status_code == 200
        assert bob.get(f"{FILES}/a.txt").content == b"first"
        assert bob.get(f"{FILES}/a.txt").content == b"first"  # now from the cache
        assert admin.delete("/data/projects/P1/users/members/bob").status_code == 200
        assert bob.get(f"{FILES}/a.txt").status_code in (403, 404)


@pytest.mark.parametrize("settle", [False, True], ids=["at-once", "after-the-log-settled"])
def test_commits_by_another_connection_show_at_the_next_request(
    xnat_emulator: EmulatorHandle, settle: bool
) -> None:
    """Both ways of noticing an outside commit: the write-ahead log just written (the exact
    check runs) and a log untouched for longer than the clock's coarseness (its stat moves)."""
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as client:
        build(client)
        for _ in range(3):
            assert client.get(f"{FILES}/a.txt").content == b"first"
        if settle:
            time.sleep(2 * MTIME_COARSENESS_NS / 1e9)
            assert client.get(f"{FILES}/a.txt").status_code == 200  # the log is now settled
        data_dir = xnat_emulator.data_dir
        outside_write(data_dir, "UPDATE files SET path = ? WHERE path = ?", ("b.txt", "a.txt"))
        assert client.get(f"{FILES}/a.txt").status_code == 404
        assert client.get(f"{FILES}/b.txt").content == b"first"
        outside_write(data_dir, "UPDATE users SET enabled = 0 WHERE login = ?", ("admin",))
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as fresh:
        assert fresh.get(f"{FILES}/b.txt").status_code == 401  # the account is disabled


def test_a_load_that_raced_an_invalidation_is_not_kept() -> None:
    cache = ReadCache()
    slot: CacheSlot[int] = CacheSlot("numbers", {"counters"})
    loads: list[int] = []

    def racing_load() -> int:
        loads.append(1)
        cache.invalidate()  # a write committed while this answer was being read
        return len(loads)

    assert cache.get(slot, "k", racing_load) == 1
    assert cache.get(slot, "k", racing_load) == 2  # loaded again: the raced answer was dropped
    assert cache.get(slot, "k", lambda: 99) == 99
    assert cache.get(slot, "k", lambda: -1) == 99  # kept now


def test_reads_inside_a_write_transaction_are_not_kept(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    slot: CacheSlot[str] = CacheSlot("labels", {"counters"})
    try:
        with db.write():
            assert db.cached(slot, "k", lambda: "uncommitted") == "uncommitted"
            assert db.cached(slot, "k", lambda: "again") == "again"  # not remembered inside
        assert db.cached(slot, "k", lambda: "committed") == "committed"
        assert db.cached(slot, "k", lambda: "other") == "committed"
        with db.write():
            pass
        assert db.cached(slot, "k", lambda: "after a write") == "after a write"
    finally:
        db.close()


def test_a_recent_log_is_checked_exactly_even_when_its_stat_did_not_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit within the file system's time stamp tick may leave the log's stat as it was:
    a log written that recently is never trusted without ``PRAGMA data_version``."""
    path = tmp_path / "db.sqlite"
    db = Database(path)
    slot: CacheSlot[str] = CacheSlot("labels", {"counters"})
    try:
        with db.write() as conn:
            conn.execute("INSERT INTO counters(name, value) VALUES ('n', 1)")
        real_stat = os.stat
        frozen = real_stat(f"{path}-wal")

        def stat_with_a_frozen_log(target: str, *args: object, **kwargs: object) -> object:
            return frozen if str(target).endswith("-wal") else real_stat(target)

        monkeypatch.setattr(os, "stat", stat_with_a_frozen_log)
        db.notice_outside_writes()
        assert db.cached(slot, "k", lambda: "before") == "before"
        with sqlite3.connect(path) as other:
            other.execute("UPDATE counters SET value = 2 WHERE name = 'n'")
        db.notice_outside_writes()
        assert db.cached(slot, "k", lambda: "after") == "after"
    finally:
        db.close()


def test_a_write_drops_only_the_answers_read_from_the_tables_it_names(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    files: CacheSlot[str] = CacheSlot("file rows", {"files"})
    nodes: CacheSlot[str] = CacheSlot("node rows", {"nodes", "shares"})
    try:
        assert db.cached(files, "k", lambda: "file v1") == "file v1"
        assert db.cached(nodes, "k", lambda: "node v1") == "node v1"
        with db.write(["files"]):
            pass
        assert db.cached(files, "k", lambda: "file v2") == "file v2"  # dropped
        assert db.cached(nodes, "k", lambda: "node v2") == "node v1"  # kept
        with db.write(["files"]), db.write():  # a nested write of any table widens it
            pass
        assert db.cached(nodes, "k", lambda: "node v3") == "node v3"
        with db.write(["files"]), db.write(["shares"]):  # nested tables add up
            pass
        assert db.cached(files, "k", lambda: "file v4") == "file v4"
        assert db.cached(nodes, "k", lambda: "node v4") == "node v4"
    finally:
        db.close()


def experiment_labels(client: httpx.Client, path: str = "/data/experiments") -> list[str]:
    answer = client.get(path, params={"format": "json"})
    assert answer.status_code == 200
    return sorted(row["label"] for row in answer.json()["ResultSet"]["Result"])


def test_remembered_json_listings_follow_every_write(admin: httpx.Client) -> None:
    in_project = "/data/projects/P1/experiments"
    for _ in range(2):  # the second answer comes from the cache
        assert experiment_labels(admin) == ["MR1"]
        assert experiment_labels(admin, in_project) == ["MR1"]
    made = admin.put(
        "/data/projects/P1/subjects/S1/experiments/MR9", params={"xsiType": "xnat:mrSessionData"}
    )
    assert made.status_code in (200, 201)
    assert experiment_labels(admin) == ["MR1", "MR9"]
    assert experiment_labels(admin, in_project) == ["MR1", "MR9"]
    assert admin.put(SESSION, params={"label": "MR2"}).status_code == 200
    assert experiment_labels(admin) == ["MR2", "MR9"]
    dated = admin.put(SESSION.replace("MR1", "MR2"), params={"date": "2020-03-04"})
    assert dated.status_code == 200
    rows = admin.get("/data/experiments", params={"format": "json"}).json()["ResultSet"]["Result"]
    assert {row["label"]: row["date"] for row in rows} == {"MR2": "2020-03-04", "MR9": ""}
    assert admin.put("/data/projects/P2").status_code in (200, 201)
    shared = admin.put("/data/projects/P1/subjects/S1/experiments/MR9/projects/P2")
    assert shared.status_code in (200, 201)
    assert experiment_labels(admin, "/data/projects/P2/experiments") == ["MR9"]
    assert admin.delete("/data/projects/P1/subjects/S1/experiments/MR9").status_code == 200
    assert experiment_labels(admin) == ["MR2"]
    assert experiment_labels(admin, "/data/projects/P2/experiments") == []


def test_a_listing_remembered_for_one_user_is_not_shown_to_another(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory(users={"bob": "bobpw"})
    with (
        httpx.Client(base_url=handle.url, auth=(handle.user, handle.password)) as admin,
        httpx.Client(base_url=handle.url, auth=("bob", "bobpw")) as bob,
    ):
        build(admin)
        assert experiment_labels(admin) == ["MR1"]
        assert experiment_labels(bob) == []  # private project: none of its rows
        assert admin.put("/data/projects/P1/users/members/bob").status_code == 200
        assert experiment_labels(bob) == ["MR1"]
        assert admin.delete("/data/projects/P1/users/members/bob").status_code == 200
        assert experiment_labels(bob) == []


def test_listings_show_commits_by_another_connection(xnat_emulator: EmulatorHandle) -> None:
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as client:
        build(client)
        assert experiment_labels(client) == ["MR1"]
        assert experiment_labels(client) == ["MR1"]
        outside_write(
            xnat_emulator.data_dir, "UPDATE nodes SET label = ? WHERE label = ?", ("MR7", "MR1")
        )
        assert experiment_labels(client) == ["MR7"]


def test_a_slot_with_its_own_limit_starts_over_when_full() -> None:
    cache = ReadCache(limit=100)
    bodies: CacheSlot[str] = CacheSlot("bodies", {"nodes"}, limit=2)
    assert cache.get(bodies, 1, lambda: "one") == "one"
    assert cache.get(bodies, 2, lambda: "two") == "two"
    assert cache.get(bodies, 1, lambda: "changed") == "one"  # kept
    assert cache.get(bodies, 3, lambda: "three") == "three"  # full: started over
    assert cache.get(bodies, 1, lambda: "reloaded") == "reloaded"
