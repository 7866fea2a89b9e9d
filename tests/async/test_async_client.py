"""What only the async client has: no hidden blocking I/O on its objects, the bound on requests
in flight, bulk downloads with one progress display, resumed and verified downloads, retries,
login renewal and uploads of trees, over loopback against the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import xnat_sdk
from xnat_sdk.aio import AsyncXNATSession, BulkProgress, XNATAsyncUsageError
from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory, EmulatorHandle
from xnat_sdk.models import AbstractResource, MrSessionData, SubjectData
from xnat_sdk.transfer import TransferStats

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from async_support import DATA_FILES, Archive, open_async
from sample_data import load_sample_project

pytestmark = pytest.mark.anyio

QUICK = xnat_sdk.RetryPolicy(attempts=4, backoff=0.01, max_total=10.0)


def _path(session: AsyncXNATSession, uri: str) -> str:
    return urlsplit(session.external_url(uri)).path


async def _resource(session: AsyncXNATSession, archive: Archive) -> AbstractResource:
    experiment = await session.object_at(archive.mr_uri)
    assert isinstance(experiment, MrSessionData)
    scan = await session.listing(experiment.scans).get("1")
    return await session.listing(scan.resources).get("DATA")


async def test_unloaded_fields_raise_instead_of_blocking_until_loaded(archive: Archive) -> None:
    async with await open_async(archive.handle) as session:
        project = await session.projects.get("P1")
        subject = await session.listing(project.subjects).get("S01")
        assert isinstance(subject, SubjectData) and subject.label == "S01"  # held by the row
        with pytest.raises(XNATAsyncUsageError, match=r"await session\.load"):
            _ = subject.demographics  # not in the listing row
        assert await session.load(subject) is subject
        assert subject.demographics is None  # loaded in place, no I/O on access
        with pytest.raises(XNATAsyncUsageError, match=r"session\.listing"):
            list(subject.experiments)  # sync iteration of async navigation
        listing = session.listing(subject.experiments)
        with pytest.raises(XNATAsyncUsageError, match="len"):
            len(listing)
        assert len(await listing.all()) == len(listing) == 2


async def test_bad_password_is_an_auth_error(archive: Archive) -> None:
    handle = archive.handle
    with pytest.raises(xnat_sdk.XNATAuthError):
        await xnat_sdk.connect_async(handle.url, handle.user, "wrong-password")


async def test_closed_session_refuses_requests(archive: Archive) -> None:
    session = await open_async(archive.handle)
    await session.disconnect()
    with pytest.raises(xnat_sdk.XNATSessionClosedError):
        await session.projects.all()


async def test_create_validates_before_sending_and_returns_the_loaded_object(
    archive: Archive,
) -> None:
    async with await open_async(archive.handle) as session:
        project = await session.projects.get("P2")
        subjects = session.listing(project.subjects)
        created = await subjects.create("ASYNC_S1", group="control")
        assert isinstance(created, SubjectData) and created.group == "control"
        assert await subjects.contains("ASYNC_S1")
        seen = archive.handle.emulator.faults.requests()
        with pytest.raises(xnat_sdk.XNATInvalidLabelError):
            await subjects.create("bad label")
        assert archive.handle.emulator.faults.requests() == seen  # nothing was sent


async def test_requests_in_flight_never_exceed_max_concurrency(archive: Archive) -> None:
    faults = archive.handle.emulator.faults
    for bound, expect_slow in ((2, True), (8, False)):
        async with await open_async(archive.handle, max_concurrency=bound) as session:
            faults.delay(0.3, count=8, path="/data/projects/P1")
            started = time.monotonic()
            await asyncio.gather(*(session.get_json("/data/projects/P1") for _ in range(8)))
            elapsed = time.monotonic() - started
            assert session.peak_concurrency <= bound
            if expect_slow:  # 8 requests held 0.3 s each, 2 at a time: at least 4 rounds
                assert elapsed >= 4 * 0.3 - 0.05, elapsed
                assert session.peak_concurrency == 2
            else:  # all 8 together: about one round
                assert elapsed < 4 * 0.3, elapsed


async def test_download_many_sessions_with_one_progress(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    with xnat_sdk.connect(handle.url, handle.user, handle.password, keepalive=None) as sync:
        load_sample_project(sync, "DEMO", subjects=3)
        expected = {
            f"{e.label}/scans/{scan.id}/resources/DICOM/files/{f.path}": f.digest
            for e in sync.projects["DEMO"].experiments
            if isinstance(e, MrSessionData)
            for scan in e.scans
            for f in scan.resources["DICOM"].files
        }
    async with await open_async(handle, max_concurrency=4) as session:
        project = await session.projects.get("DEMO")
        experiments = [
            e
            for e in await session.listing(project.experiments).all()
            if isinstance(e, MrSessionData)
        ]
        progress = BulkProgress("test", show=False)
        paths = await session.download_many(experiments, tmp_path, concurrency=3, progress=progress)
        assert session.peak_concurrency <= 4
    assert len(paths) == len(expected) == 15
    found = {p.relative_to(tmp_path).as_posix(): p for p in paths}
    assert set(found) == set(expected)
    for relative, digest in expected.items():
        assert hashlib.md5(found[relative].read_bytes()).hexdigest() == digest
    assert (progress.files_done, progress.files_total) == (15, 15)
    assert progress.bytes_done == sum(p.stat().st_size for p in paths)


async def test_dropped_download_resumes_and_is_verified(archive: Archive, tmp_path: Path) -> None:
    async with await open_async(archive.handle, retry=QUICK) as session:
        resource = await _resource(session, archive)
        file = await session.listing(resource.files).get("sub/b.bin")
        archive.handle.emulator.faults.drop(1, path=_path(session, file.uri), after_bytes=4000)
        stats = TransferStats()
        written = await session.download(file, tmp_path / "b.bin", stats=stats)
    assert written.read_bytes() == DATA_FILES["sub/b.bin"]
    assert (stats.requests, stats.resumes, stats.restarts) == (2, 1, 0)


async def test_wrong_digest_leaves_no_file(archive: Archive, tmp_path: Path) -> None:
    async with await open_async(archive.handle) as session:
        resource = await _resource(session, archive)
        file = await session.listing(resource.files).get("a.txt")
        file.digest = "0" * 32
        with pytest.raises(xnat_sdk.XNATDigestError, match="md5"):
            await session.download(file, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_transient_503s_are_retried_but_posts_are_not(archive: Archive) -> None:
    faults = archive.handle.emulator.faults
    async with await open_async(archive.handle, retry=QUICK) as session:
        faults.fail(2, status=503, path="/data/projects/P2")
        document = await session.get_json("/data/projects/P2")
        assert isinstance(document, dict)
        assert faults.seen("GET", "/data/projects/P2") >= 3
        faults.fail(1, status=503, path="/data/services/refresh")
        with pytest.raises(xnat_sdk.XNATServerError):
            await session.post("/data/services/refresh/catalog", query={"resource": "/x"})
        assert faults.seen("POST", "/data/services/refresh/catalog") == 1


async def test_expired_login_is_renewed(xnat_emulator_factory: EmulatorFactory) -> None:
    handle: EmulatorHandle = xnat_emulator_factory(faults=FaultSettings(session_lifetime=0.4))
    async with await open_async(handle) as session:
        assert await session.projects.all() == []
        await asyncio.sleep(0.6)
        assert await session.projects.all() == []
        assert session.logins == 2


@pytest.mark.parametrize("method", ["per_file", "tgz_file", "tar_memory"])
async def test_upload_dir_round_trips(archive: Archive, tmp_path: Path, method: str) -> None:
    tree = {"x.txt": b"x" * 10, "d/y.bin": bytes(range(200)), "d/e/z.txt": b"zz"}
    for name, data in tree.items():
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(data)
    async with await open_async(archive.handle) as session:
        experiment = await session.object_at(archive.mr_uri)
        assert isinstance(experiment, MrSessionData)
        label = f"TREE_{method.upper()}"
        await session.put(f"{experiment.uri}/resources/{label}", query={"format": "BIN"})
        resource = await session.listing(experiment.resources).get(label)
        await session.upload_dir(resource, tmp_path / "in", method=method)  # type: ignore[arg-type]  # parametrized literal
        paths = await session.download(resource, tmp_path / "out")
    assert {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in paths} == tree


async def test_download_many_mixes_kinds_and_refuses_clashing_targets(
    archive: Archive, tmp_path: Path
) -> None:
    async with await open_async(archive.handle) as session:
        resource = await _resource(session, archive)
        file = await session.listing(resource.files).get("a.txt")
        written = await session.download_many(
            [file, resource], tmp_path, concurrency=2, progress=False
        )
        relative = [p.relative_to(tmp_path).as_posix() for p in written]
        assert relative[0] == "a.txt"  # results in the order of the items
        assert {"DATA/a.txt", "DATA/sub/b.bin"} <= set(relative[1:])
        assert (tmp_path / "DATA" / "sub" / "b.bin").read_bytes() == DATA_FILES["sub/b.bin"]
        with pytest.raises(xnat_sdk.XNATValueError, match="same file"):
            await session.download_many([file, file.uri], tmp_path / "again", progress=False)
    assert not (tmp_path / "again").exists()  # refused before any download


def test_scan_file_rows_cannot_name_paths_outside_the_target(tmp_path: Path) -> None:
    from xnat_sdk.aio.downloads import scan_file_path
    from xnat_sdk.transfer import safe_member_path

    row = {"URI": "/data/experiments/E1/scans/1/resources/7/files/x/y.dcm", "collection": "DICOM"}
    assert scan_file_path(row) == "scans/1/resources/DICOM/files/x/y.dcm"
    with pytest.raises(xnat_sdk.XNATValueError, match="not the URI of a scan file"):
        scan_file_path({"URI": "/data/experiments/E1/resources/7/files/y.dcm"})
    climbing = {"URI": "/data/experiments/E1/scans/1/resources/7/files/../../../../etc/x"}
    with pytest.raises(xnat_sdk.XNATValueError, match="outside"):
        safe_member_path(tmp_path, scan_file_path(climbing))


async def test_set_validates_writes_and_updates_the_object(archive: Archive) -> None:
    faults = archive.handle.emulator.faults
    async with await open_async(archive.handle) as session:
        project = await session.projects.get("P1")
        subject = await session.listing(project.subjects).get("S02")  # row-built, partial
        seen = faults.requests()
        with pytest.raises(xnat_sdk.FieldValueError, match="yob"):
            await session.set(subject, yob="not a year")
        assert faults.requests() - seen == 1  # only the load of the full object
        await session.set(subject, group="patients", src="async")
        assert (subject.group, subject.src) == ("patients", "async")
        with pytest.raises(XNATAsyncUsageError, match=r"session\.set"):
            subject.group = "blocked"  # a sync write on an async object
        fresh = await session.object_at(subject.uri)
        assert isinstance(fresh, SubjectData)
        assert (fresh.group, fresh.src) == ("patients", "async")


async def test_all_and_async_for_build_in_batches_the_same_objects_as_sync(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xnat_sdk.listing as listing_module
    from xnat_sdk.aio.session import AsyncXNATSession as Session

    monkeypatch.setattr(listing_module, "_FIRST_BATCH", 1)  # batches of 1, 2, 4 rows

    def one_row_at_a_time(*_args: object) -> object:
        raise AssertionError("a listing pass built an object row by row")

    handle = archive.handle
    with xnat_sdk.connect(handle.url, handle.user, handle.password, keepalive=None) as sync:
        expected = list(sync.experiments)
    async with await open_async(handle) as session:
        monkeypatch.setattr(Session, "item_from_row", one_row_at_a_time)
        listing = session.experiments
        iterated = [item async for item in listing]
        assert len(iterated) == len(expected) >= 3
        for got, want in zip(iterated, expected, strict=True):
            assert type(got) is type(want)
            assert got.model_dump() == want.model_dump()
            assert got.uri == want.uri
        everything = await listing.all()
        assert all(a is b for a, b in zip(everything, iterated, strict=True))  # held objects
