"""Uploads stream from disk, are repeated after a 503 only when repeating is safe (PUT with
overwrite: the file is rewound and sent whole again), and arrive intact."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from reliability_support import MIB, make_resource, open_session, report, server_path, write_pattern

from xnat_sdk.emulator.pytest_plugin import EmulatorFactory
from xnat_sdk.errors import XNATServerError


def test_large_upload_streams_and_is_resent_whole_after_503s(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    size = 64 * MIB
    source = tmp_path / "big.bin"
    expected = write_pattern(source, size)
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    with open_session(handle) as session:
        resource = make_resource(session)
        path = server_path(session, f"{resource.uri}/files/big.bin")
        plan.fail(2, status=503, path=path, retry_after="0")
        tracemalloc.start()
        try:
            resource.upload(source, "big.bin", overwrite=True)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert plan.seen("PUT", path) == 3
        resource.files.clearcache()
        stored = resource.files["big.bin"]
    assert (stored.size, stored.digest) == (size, expected)  # the rewound file, not a tail
    assert peak < 16 * MIB, f"memory peaked at {peak} bytes for a {size}-byte upload"
    report("upload", size=size, injected_503=2, tries=3, peak_memory=peak)


def test_upload_without_overwrite_is_not_repeated_after_a_503(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    with open_session(handle) as session:
        resource = make_resource(session)
        path = server_path(session, f"{resource.uri}/files/once.txt")
        plan.fail(1, status=503, path=path)
        with pytest.raises(XNATServerError) as caught:
            resource.upload(b"data", "once.txt")
        assert caught.value.status_code == 503
        assert plan.seen("PUT", path) == 1
        resource.upload(b"data", "once.txt")  # the caller decides to try again: it works
        resource.files.clearcache()
        assert resource.files["once.txt"].read() == b"data"
