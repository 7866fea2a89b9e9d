"""The example pipelines, run against the emulator loaded with the sample data."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

from create_subject_and_session import create_subject_with_session  # noqa: E402
from download_session import download_session  # noqa: E402
from list_filter_tabulate import mr_sessions_table, subjects_matching  # noqa: E402
from read_dicom_headers import series_descriptions  # noqa: E402
from sample_data import SCANS, load_sample_project  # noqa: E402
from upload_derived_resource import store_scan_summary  # noqa: E402


@pytest.fixture(scope="module")
def loaded(xnat_emulator_module: EmulatorHandle) -> Iterator[xnat_sdk.XNATSession]:
    emu = xnat_emulator_module
    with xnat_sdk.connect(emu.url, emu.user, emu.password, keepalive=None) as session:
        load_sample_project(session, "DEMO", subjects=2)
        yield session


def _first_session_id(session: xnat_sdk.XNATSession) -> str:
    experiment = session.projects["DEMO"].subjects["DEMO_S01"].experiments["DEMO_S01_MR1"]
    assert experiment.id
    return experiment.id


def test_list_filter_tabulate(loaded: xnat_sdk.XNATSession) -> None:
    rows = mr_sessions_table(loaded, "DEMO")
    assert sorted(row["label"] for row in rows) == ["DEMO_S01_MR1", "DEMO_S02_MR1"]
    assert all(row["scans"] == str(len(SCANS)) and row["date"] == "2024-01-02" for row in rows)
    assert subjects_matching(loaded, "DEMO", "*S02") == ["DEMO_S02"]


def test_download_session_has_xnatpy_layout(loaded: xnat_sdk.XNATSession, tmp_path: Path) -> None:
    files = download_session(loaded, _first_session_id(loaded), tmp_path)
    assert len(files) == sum(plan.slices for plan in SCANS)
    relative = sorted(path.relative_to(tmp_path).parts for path in files)
    assert all(parts[0] == "DEMO_S01_MR1" and parts[1] == "scans" for parts in relative)
    assert all(path.read_bytes()[128:132] == b"DICM" for path in files)
    assert not list(tmp_path.rglob("*.part"))


def test_upload_derived_resource(loaded: xnat_sdk.XNATSession, tmp_path: Path) -> None:
    resource = store_scan_summary(loaded, _first_session_id(loaded))
    assert resource.files.keys() == ["summary/scans.json"]
    target = resource.files["summary/scans.json"].download(tmp_path)
    summary = json.loads(target.read_text())
    assert [(entry["scan"], entry["files"]) for entry in summary] == [
        (plan.scan_id, plan.slices) for plan in SCANS
    ]


def test_create_subject_and_session(loaded: xnat_sdk.XNATSession) -> None:
    subject, mr = create_subject_with_session(loaded, "DEMO", "NEW_SUBJECT")
    loaded.clearcache()
    again = loaded.projects["DEMO"].subjects["NEW_SUBJECT"]
    assert again.id == subject.id
    stored = again.experiments[mr.label or ""]
    assert type(stored) is type(mr)
    assert stored.note == "created by the typed SDK example"
    assert [scan.type for scan in mr.scans] == ["T1w", "T2w"]


def test_read_dicom_headers(loaded: xnat_sdk.XNATSession) -> None:
    assert series_descriptions(loaded, _first_session_id(loaded)) == {
        plan.scan_id: plan.scan_type for plan in SCANS
    }


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    from demo import run_demo
    from rich.console import Console

    console = Console(record=True, width=100)
    run_demo(console, tmp_path)
    text = console.export_text()
    assert "DEMO_S01_MR1" in text and "MrSessionData" in text
    assert "DICOM: 3 files" in text
    assert "done" in text
