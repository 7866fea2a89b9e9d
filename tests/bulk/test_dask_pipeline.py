"""The Dask example run for real: examples/dask_dicom_summary.py on
``LocalCluster(n_workers=2, processes=True)`` against the emulator, every summary checked
against the headers read directly in this process.

The example runs as its own program (as a user runs it), so its functions reach the worker
processes the way a user's script's do. The workers log in from a secret-free config through a
netrc file in ``tmp_path``; no credential is on a command line.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.models import MrScanData, MrSessionData

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
from sample_data import SCANS, ScanPlan, dicom_slice, load_sample_project  # noqa: E402

#: The whole run (cluster start, two worker processes, 7 scans) stays well below this.
TIME_LIMIT = 90.0


def _add_scan_with_slice_thickness(session: MrSessionData, thickness: float) -> None:
    """One more MR scan whose files carry SliceThickness (the sample data has none)."""
    plan = ScanPlan("3", "DWI", 2)
    scan = session.scans.create_as(MrScanData, plan.scan_id, type=plan.scan_type)
    resource = scan.create_resource("DICOM", format="DICOM")
    for index in range(plan.slices):
        data = dicom_slice("P", session.label or "", plan, index, "1.2.3", "1.2.3.4")
        dataset = pydicom.dcmread(io.BytesIO(data))
        dataset.SliceThickness = thickness
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        resource.upload(buffer.getvalue(), f"{index + 1:04d}.dcm")


def _expected(session: xnat_sdk.XNATSession) -> list[dict[str, object]]:
    """The summaries computed here: every file of every MR scan read with pydicom."""
    summaries: list[dict[str, object]] = []
    for experiment in session.projects["DEMO"].experiments:
        assert isinstance(experiment, MrSessionData)
        for scan in experiment.scans:
            assert isinstance(scan, MrScanData)
            files = list(scan.resources["DICOM"].files)
            headers = [
                pydicom.dcmread(io.BytesIO(f.read()), stop_before_pixels=True) for f in files
            ]
            first = headers[0]
            thickness = first.get("SliceThickness")
            summaries.append(
                {
                    "session": experiment.id,
                    "scan": scan.id,
                    "series_description": str(first.SeriesDescription),
                    "modality": str(first.Modality),
                    "manufacturer": str(first.Manufacturer),
                    "files": len(headers),
                    "slice_thickness": None if thickness is None else float(thickness),
                }
            )
    return sorted(summaries, key=lambda s: (str(s["session"]), str(s["scan"])))


@pytest.mark.slow
def test_dask_example_on_two_worker_processes(
    xnat_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emu = xnat_emulator
    with xnat_sdk.connect(emu.url, emu.user, emu.password, keepalive=None) as admin:
        project = load_sample_project(admin, "DEMO", subjects=3)
        first = project.experiments[0]
        assert isinstance(first, MrSessionData)
        _add_scan_with_slice_thickness(first, 2.5)
        expected = _expected(admin)
    assert len(expected) == 3 * len(SCANS) + 1
    assert [s["slice_thickness"] for s in expected].count(2.5) == 1

    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {emu.user} password {emu.password}\n")
    netrc.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XNAT_")}
    env["HOME"] = str(tmp_path)  # no ~/.netrc of the machine running the tests
    command = [sys.executable, str(EXAMPLES / "dask_dicom_summary.py"), emu.url, "DEMO"]
    logins = emu.emulator.faults.seen("PUT", "/data/services/auth")
    logouts = emu.emulator.faults.seen("DELETE", "/data/JSESSION")
    started = time.monotonic()
    done = subprocess.run(
        [*command, "--json", "--workers", "2", "--netrc", str(netrc)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=TIME_LIMIT,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == expected
    assert emu.password not in done.stdout + done.stderr
    # The client and each worker that got a task log in once; the scheduler, which unpickles
    # the graph's references, never does.
    logged_in = emu.emulator.faults.seen("PUT", "/data/services/auth") - logins
    assert 2 <= logged_in <= 3
    assert emu.emulator.faults.seen("DELETE", "/data/JSESSION") - logouts == logged_in
    print(f"dask example: {len(expected)} scans on 2 worker processes in {elapsed:.1f} s")
