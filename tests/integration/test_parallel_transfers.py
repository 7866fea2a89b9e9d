"""Parallel transfers over loopback: many files at once, each atomic and verified, failures
named, progress summed (``max_workers`` on resources, ``session.download_files``)."""

from __future__ import annotations

import hashlib
import io
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk import FileData, parallel
from xnat_sdk.models import AbstractResource, MrSessionData

FILES = 40


def _content(index: int) -> bytes:
    return f"file {index:03d}\n".encode() * (50 + index * 37)


@pytest.fixture
def mr(session: xnat_sdk.XNATSession) -> Iterator[MrSessionData]:
    project = session.projects.create("PARA", name="Parallel transfers")
    subject = project.subjects.create("S01")
    yield subject.experiments.create_as(MrSessionData, "S01_MR")


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, bytes]:
    files = {f"d{index % 3}/f{index:03d}.bin": _content(index) for index in range(FILES)}
    for name, data in files.items():
        (tmp_path / "tree" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tree" / name).write_bytes(data)
    return files


@pytest.fixture
def filled(mr: MrSessionData, tree: dict[str, bytes], tmp_path: Path) -> AbstractResource:
    resource = mr.create_resource("MANY")
    resource.upload_dir(tmp_path / "tree", method="per_file", max_workers=8)
    return resource


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_parallel_upload_then_download_moves_every_file_intact(
    filled: AbstractResource, tree: dict[str, bytes], tmp_path: Path
) -> None:
    listed = filled.files
    assert sorted(listed.keys()) == sorted(tree)
    assert all(listed[name].digest == hashlib.md5(data).hexdigest() for name, data in tree.items())
    out = tmp_path / "out"
    written = filled.download_dir(out, max_workers=8)
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted(tree)
    assert _read_tree(out) == tree  # and no temporary file left beside them


def test_downloads_really_run_at_once(
    session: xnat_sdk.XNATSession, filled: AbstractResource, tmp_path: Path
) -> None:
    running, peak, started, lock = 0, 0, 0, threading.Lock()
    # The first two requests wait for each other: only downloads that really run at once get
    # past it (sequential ones would break the barrier after its timeout), however fast each is.
    both_sent = threading.Barrier(2, timeout=10)

    def enter(_request: object) -> None:
        nonlocal running, peak, started
        with lock:
            running += 1
            peak = max(peak, running)
            started += 1
            first_two = started <= 2
        if first_two:
            both_sent.wait()

    def leave(response: object) -> None:
        nonlocal running
        with lock:
            running -= 1

    files = filled.files.values()  # listed before the hooks count file requests
    session.interface.event_hooks["request"].append(enter)
    session.interface.event_hooks["response"].append(leave)
    session.download_files(files, tmp_path / "out", max_workers=4)
    assert 1 < peak <= 4


def test_one_bad_file_is_named_and_leaves_no_partial_file(
    session: xnat_sdk.XNATSession, filled: AbstractResource, tmp_path: Path
) -> None:
    files = filled.files.values()
    good = files[:5]
    bad = FileData(session, files[5].uri, path=files[5].path, digest="0" * 32)
    out = tmp_path / "out"
    with pytest.raises(parallel.XNATTransferError) as caught:
        session.download_files([*good, bad], out, max_workers=3)
    bad_target = str(out / bad.path)
    assert list(caught.value.failures) == [bad_target]
    assert bad_target in str(caught.value)
    assert isinstance(caught.value.failures[bad_target], xnat_sdk.XNATDigestError)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert bad.path not in written
    assert written == {Path(c).relative_to(out).as_posix() for c in caught.value.completed}
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


def test_a_missing_file_is_a_typed_error_naming_it(
    session: xnat_sdk.XNATSession, filled: AbstractResource, tmp_path: Path
) -> None:
    ghost = FileData(session, f"{filled.uri}/files/nope.bin", path="nope.bin")
    with pytest.raises(parallel.XNATTransferError, match=re.escape("nope.bin")) as caught:
        session.download_files([ghost], tmp_path / "out")
    assert isinstance(caught.value.__cause__, xnat_sdk.XNATNotFoundError)
    assert not (tmp_path / "out" / "nope.bin").exists()


def test_paths_are_checked_before_any_request(
    session: xnat_sdk.XNATSession, filled: AbstractResource, tmp_path: Path
) -> None:
    one = filled.files.values()[0]
    escaping = FileData(session, one.uri, path="../escape.bin")
    with pytest.raises(xnat_sdk.XNATValueError, match="outside"):
        session.download_files([one, escaping], tmp_path / "out")
    with pytest.raises(xnat_sdk.XNATValueError, match="two of the files"):
        session.download_files([one, one], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    for wrong in (0, 21, True):
        with pytest.raises(xnat_sdk.XNATValueError, match="max_workers"):
            session.download_files([one], tmp_path / "out", max_workers=wrong)


def test_max_workers_needs_per_file_uploads(mr: MrSessionData, tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.txt").write_bytes(b"a")
    resource = mr.create_resource("WRONG")
    with pytest.raises(xnat_sdk.XNATValueError, match="per_file"):
        resource.upload_dir(tmp_path / "tree", method="tgz_file", max_workers=4)
    assert len(resource.files) == 0


def test_a_refused_upload_names_its_file(
    filled: AbstractResource, tree: dict[str, bytes], tmp_path: Path
) -> None:
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "new.txt").write_bytes(b"new")
    (tmp_path / "again" / "d0").mkdir()
    existing = next(name for name in tree if name.startswith("d0/"))
    (tmp_path / "again" / existing).write_bytes(b"clash")
    with pytest.raises(parallel.XNATTransferError, match=re.escape(existing)) as caught:
        filled.upload_dir(tmp_path / "again", method="per_file", max_workers=2)
    assert isinstance(caught.value.__cause__, xnat_sdk.XNATResponseError)
    assert filled.files[existing].read() == tree[existing]  # the stored file is untouched


def test_progress_is_summed_over_all_files(
    session: xnat_sdk.XNATSession, filled: AbstractResource, tree: dict[str, bytes], tmp_path: Path
) -> None:
    calls: list[tuple[int, int | None, bool]] = []
    parallel.download_files(
        session,
        filled.files.values(),
        tmp_path / "out",
        max_workers=6,
        update_func=lambda done, total, finished: calls.append((done, total, finished)),
    )
    total = sum(len(data) for data in tree.values())
    assert calls[-1] == (total, total, True)
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)
    assert sum(finished for _, _, finished in calls) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_verbose_draws_a_rich_progress_bar(
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    filled.download_dir(tmp_path / "out", verbose=True, max_workers=4)
    assert f"Downloading {FILES} files" in terminal.getvalue()
