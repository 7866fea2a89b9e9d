"""Fault injection: failures, dropped connections and delays, from Python and over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from xnat_sdk.emulator import cli
from xnat_sdk.emulator.faults import CONTROL_PATH as CONTROL
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle


def test_fail_then_recover(xnat_emulator: EmulatorHandle) -> None:
    emu = xnat_emulator.emulator
    client = httpx.Client(base_url=emu.url, auth=emu.admin)
    emu.faults.fail(2, status=503, path="/data/projects")
    assert client.get("/data/version").status_code == 200  # other paths are untouched
    assert client.get("/data/projects?format=json").status_code == 503
    assert client.get("/data/projects?format=json").status_code == 503
    assert client.get("/data/projects?format=json").status_code == 200


def test_dropped_connection_is_a_protocol_error(xnat_emulator: EmulatorHandle) -> None:
    emu = xnat_emulator.emulator
    emu.faults.drop(1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(emu.url + "/data/version")
    assert httpx.get(emu.url + "/data/version").status_code == 200


def test_delay_and_http_control(xnat_emulator: EmulatorHandle) -> None:
    emu = xnat_emulator.emulator
    admin = httpx.Client(base_url=emu.url, auth=emu.admin)
    queued = admin.put("/xapi/emulator/faults", json={"kind": "delay", "seconds": 0.5, "count": 1})
    assert queued.status_code == 200
    started = time.monotonic()
    assert admin.get("/data/version").status_code == 200
    assert time.monotonic() - started >= 0.5
    assert admin.put("/xapi/emulator/faults", json={"kind": "fail", "count": 5}).status_code == 200
    assert admin.delete("/xapi/emulator/faults").status_code == 200
    assert admin.get("/data/version").status_code == 200
    bad = admin.put("/xapi/emulator/faults", json={"kind": "explode"})
    assert bad.status_code == 400
    assert (
        admin.put("/xapi/emulator/faults", json={"kind": "fail", "status": 200}).status_code == 400
    )


def test_only_admins_inject_faults(tmp_path_factory: pytest.TempPathFactory) -> None:
    from xnat_sdk.emulator import Emulator

    with Emulator(tmp_path_factory.mktemp("f"), users={"bob": "pw"}) as emu:
        bob = httpx.Client(base_url=emu.url, auth=("bob", "pw"))
        assert bob.put("/xapi/emulator/faults", json={"kind": "fail"}).status_code == 403


def _statuses(client: httpx.Client, count: int) -> list[int]:
    return [client.get("/data/version").status_code for _ in range(count)]


def test_random_faults_repeat_under_the_same_seed(xnat_emulator: EmulatorHandle) -> None:
    emu = xnat_emulator.emulator
    admin = httpx.Client(base_url=emu.url, auth=emu.admin)
    settings = {"kind": "random", "seed": 3, "fail_rate": 0.3, "path": "/data/version"}
    runs: list[list[int]] = []
    for seed in (3, 3, 4):
        assert admin.put(CONTROL, json={**settings, "seed": seed}).status_code == 200
        runs.append(_statuses(admin, 40))
    first, again, other = runs
    assert first == again  # the same seed, the same faults at the same requests
    assert first != other
    assert 5 <= first.count(503) <= 20 and set(first) == {200, 503}
    counts = admin.get(CONTROL).json()
    assert counts["injected"]["fail"] == sum(run.count(503) for run in runs)
    assert counts["requests"]["GET /data/version"] == 120
    assert admin.delete(CONTROL).status_code == 200
    assert _statuses(admin, 10) == [200] * 10


def test_fault_flags_start_the_emulator_in_fault_mode(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "xnat_sdk.cli", "emulator", "--port", "0"]
    command += ["--data-dir", str(tmp_path), "--fault-seed", "5", "--fault-fail-rate", "1"]
    command += ["--fault-fail-status", "502", "--fault-path", "/data/projects"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read() if proc.stderr else ""
        with httpx.Client(base_url=url, auth=("admin", "admin")) as client:
            assert client.get("/data/version").status_code == 200  # outside --fault-path
            assert client.get("/data/projects").status_code == 502
            assert client.get("/xapi/emulator/faults").json()["injected"] == {"fail": 1}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_invalid_fault_flags_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--data-dir", str(tmp_path), "--fault-fail-rate", "0.7", "--fault-drop-rate", "0.7"]
    assert cli.main(flags) == 2
    assert "must not exceed 1" in capsys.readouterr().err
