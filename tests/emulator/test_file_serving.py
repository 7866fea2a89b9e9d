"""File downloads as served by ``routes_files.file_response``: a small file (<= 1 MiB) in one
plain body, a larger one in 1 MiB chunks; both give the same headers, Range and If-Range
answers, and the fault mode's cut after N bytes still leaves the client an incomplete body."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.emulator.storage import CHUNK_SIZE

FILES = "/data/projects/P1/subjects/S1/experiments/MR1/resources/RAW/files"
SIZES = {"small.bin": 1000, "edge.bin": CHUNK_SIZE, "big.bin": 3 * CHUNK_SIZE + 123}


def payload(size: int) -> bytes:
    return hashlib.sha256(str(size).encode()).digest() * (size // 32) + b"x" * (size % 32)


@pytest.fixture
def client(xnat_emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as c:
        c.put("/data/projects/P1")
        c.put("/data/projects/P1/subjects/S1")
        c.put(
            "/data/projects/P1/subjects/S1/experiments/MR1",
            params={"xsiType": "xnat:mrSessionData"},
        )
        c.put("/data/projects/P1/subjects/S1/experiments/MR1/resources/RAW")
        for name, size in SIZES.items():
            put = c.put(f"{FILES}/{name}", params={"inbody": "true"}, content=payload(size))
            assert put.status_code == 200, put.text
        yield c


@pytest.mark.parametrize("name", list(SIZES))
def test_whole_file_headers_and_body(client: httpx.Client, name: str) -> None:
    body = payload(SIZES[name])
    got = client.get(f"{FILES}/{name}")
    head = client.head(f"{FILES}/{name}")
    assert got.status_code == head.status_code == 200
    assert got.content == body
    assert got.headers["content-length"] == head.headers["content-length"] == str(len(body))
    for header in ("etag", "last-modified", "content-type", "accept-ranges"):
        assert got.headers[header] == head.headers[header], header
    assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert head.content == b""


@pytest.mark.parametrize("name", list(SIZES))
def test_range_and_if_range(client: httpx.Client, name: str) -> None:
    body = payload(SIZES[name])
    url = f"{FILES}/{name}"
    etag = client.head(url).headers["etag"]
    start = len(body) - 700
    part = client.get(url, headers={"Range": f"bytes={start}-", "If-Range": etag})
    assert part.status_code == 206
    assert part.content == body[start:]
    assert part.headers["content-range"] == f"bytes {start}-{len(body) - 1}/{len(body)}"
    stale = client.get(url, headers={"Range": f"bytes={start}-", "If-Range": '"not-it"'})
    assert stale.status_code == 200
    assert stale.content == body


@pytest.mark.parametrize("name", ["small.bin", "big.bin"])
def test_a_dropped_download_is_incomplete(
    client: httpx.Client, xnat_emulator: EmulatorHandle, name: str
) -> None:
    url = f"{FILES}/{name}"
    xnat_emulator.emulator.faults.drop(1, path=url, after_bytes=500)
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", url) as answer:
        for chunk in answer.iter_bytes():
            received += chunk
    assert bytes(received) == payload(SIZES[name])[:500]
    assert client.get(url).content == payload(SIZES[name])  # the next request is whole
