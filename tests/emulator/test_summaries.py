"""/data/archive/scan_types and /data/archive/scanners, as ScanTypeListing/ScannerListing."""

from __future__ import annotations

import httpx

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle


def result(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, str]] = response.json()["ResultSet"]["Result"]
    assert response.json()["ResultSet"]["totalRecords"] == str(len(rows))
    return rows


def test_scan_types_and_scanners_summarize_the_archive(xnat_emulator: EmulatorHandle) -> None:
    with httpx.Client(
        base_url=xnat_emulator.url, auth=(xnat_emulator.user, xnat_emulator.password)
    ) as client:
        for project, scanner, scans in (
            ("SUMA", "SCANNER_A", [("1", "T1w", "mprage"), ("2", "T2w", "space")]),
            ("SUMB", "SCANNER_B", [("1", "T1w", "mprage_b")]),
        ):
            client.put(f"/data/projects/{project}")
            session = f"/data/projects/{project}/subjects/S1/experiments/{project}_MR1"
            client.put(f"/data/projects/{project}/subjects/S1")
            client.put(
                session,
                params={"xsiType": "xnat:mrSessionData", "xnat:mrSessionData/scanner": scanner},
            )
            for scan_id, kind, description in scans:
                client.put(
                    f"{session}/scans/{scan_id}",
                    params={
                        "xsiType": "xnat:mrScanData",
                        "xnat:mrScanData/type": kind,
                        "xnat:mrScanData/series_description": description,
                    },
                )
        client.put(
            "/data/projects/SUMA/subjects/S1/experiments/CT1",
            params={"xsiType": "xnat:ctSessionData", "xnat:ctSessionData/scanner": "CT_ONLY"},
        )

        assert result(client.get("/data/archive/scan_types", params={"format": "json"})) == [
            {"series_descriptions": "mprage,mprage_b,", "type": "T1w"},
            {"series_descriptions": "space,", "type": "T2w"},
        ]
        assert result(client.get("/data/projects/SUMB/scan_types", params={"format": "json"})) == [
            {"series_descriptions": "mprage_b,", "type": "T1w"}
        ]
        assert result(client.get("/data/archive/scanners", params={"format": "json"})) == [
            {"scanner": "SCANNER_A"},
            {"scanner": "SCANNER_B"},
        ]
        ct = client.get(
            "/data/archive/scanners", params={"format": "json", "table": "xnat_ctSessionData"}
        )
        assert result(ct) == [{"scanner": "CT_ONLY"}]
        assert client.get("/data/projects/NOPE/scanners").status_code == 404
