"""Big downloads (>= ``transfer.THREADED_MD5_MIN``) are hashed by a helper thread: the same
verdicts as the inline md5 (a wrong body refused, nothing left behind), a restart from zero
hashes only the new body, and the helper thread ends with the download, failed or not."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx
import pytest
from reliability_support import MIB, make_resource, open_session, server_path, write_pattern

import xnat_sdk
from xnat_sdk import transfer
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory
from xnat_sdk.transfer import TransferStats

SIZE = transfer.THREADED_MD5_MIN + 3 * MIB + 5


def hashing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "xnat-sdk-md5"]


def test_a_corrupted_big_file_is_refused_and_the_thread_ends(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    source = tmp_path / "big.bin"
    expected = write_pattern(source, SIZE)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(source, "big.bin")
        uri = resource.files["big.bin"].uri
        good = transfer.download_file(session, uri, out_dir / "good.bin", expected_md5=expected)
        assert good.read_bytes() == source.read_bytes()
        good.unlink()
        # the same length, one byte changed behind the catalog's back
        blob = next(p for p in (handle.data_dir / "blobs").rglob("*") if p.is_file())
        with blob.open("r+b") as stored:
            stored.seek(SIZE - 1)
            stored.write(b"\xff")
        with pytest.raises(xnat_sdk.XNATDigestError, match="does not match"):
            transfer.download_file(session, uri, out_dir / "big.bin", expected_md5=expected)
    assert list(out_dir.iterdir()) == []
    assert hashing_threads() == []


def test_a_restart_hashes_only_the_new_body(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """The file is replaced while the first answer is cut: the resume's If-Range no longer
    matches, the server sends the new file whole, and only its bytes make the digest."""
    handle = xnat_emulator_factory()
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    write_pattern(first, SIZE)
    second.write_bytes(b"\x07" * (SIZE + 1))
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(first, "f.bin")
        uri = resource.files["f.bin"].uri
        handle.emulator.faults.drop(1, path=server_path(session, uri), after_bytes=2 * MIB)
        replaced = False
        helpers: list[int] = []

        def replace_once(done: int, total: int | None, finished: bool) -> None:
            nonlocal replaced
            if not replaced and done >= MIB:
                replaced = True
                helpers.append(len(hashing_threads()))  # the first answer is hashed aside
                with httpx.Client(base_url=handle.url, auth=(handle.user, handle.password)) as c:
                    answer = c.put(
                        server_path(session, uri),
                        params={"inbody": "true", "overwrite": "true"},
                        content=second.read_bytes(),
                    )
                    answer.raise_for_status()

        stats = TransferStats()
        target = tmp_path / "out.bin"
        with target.open("wb") as out:
            transfer.download_stream(
                session,
                uri,
                out,
                update_func=replace_once,
                expected_md5=hashlib.md5(second.read_bytes()).hexdigest(),
                stats=stats,
            )
    assert replaced and stats.restarts == 1 and helpers == [1]
    assert target.read_bytes() == second.read_bytes()
    assert hashing_threads() == []
