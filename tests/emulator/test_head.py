"""HEAD on archive paths answers like GET without a body and never changes anything."""

from __future__ import annotations

import httpx

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle


def test_head_on_objects_and_files_reads_without_side_effects(
    xnat_emulator: EmulatorHandle,
) -> None:
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as client:
        assert client.put("/data/projects/HEADP").status_code == 200
        assert client.put("/data/projects/HEADP/subjects/S1").status_code == 201
        file_path = "/data/projects/HEADP/resources/R/files/a.txt"
        assert client.put(file_path, params={"inbody": "true"}, content=b"hello").status_code in (
            200,
            201,
        )

        for path in ("/data/projects/HEADP", "/data/projects/HEADP/subjects/S1", file_path):
            head = client.head(path)
            assert head.status_code == 200, path
            assert head.content == b""

        assert client.head("/data/projects/NOPE").status_code == 404
        assert client.get("/data/projects/HEADP/subjects/S1").status_code == 200
        assert client.get(file_path).content == b"hello"
        assert client.request("PATCH", "/data/projects/HEADP").status_code == 405
