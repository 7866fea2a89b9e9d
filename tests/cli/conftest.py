"""Fixtures for the command-line tests: one emulator per test module, seeded through the typed
client with a small tree::

    project CLI / subject S01 / MR session MR1 / scan 1 (T1w) / resource DICOM: a/b.txt, c.txt
    MR1 / resource NOTES: n.txt

and a non-admin account ``carol`` with a distinctive password, for the secret and 403 tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import CAROL_PASSWORD, FILES, NOTES, Cli, Server

import xnat_sdk
from xnat_sdk.emulator import Emulator
from xnat_sdk.models import MrScanData, MrSessionData


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("cli-emulator")
    with Emulator(data_dir, users={"carol": CAROL_PASSWORD}) as emulator:
        user, password = emulator.admin
        with xnat_sdk.connect(emulator.url, user, password, keepalive=None) as session:
            project = session.projects.create("CLI", name="Command line")
            subject = project.subjects.create("S01")
            mr = subject.experiments.create_as(MrSessionData, "MR1")
            scan = mr.scans.create_as(MrScanData, "1", type="T1w")
            dicom = scan.create_resource("DICOM", format="DICOM")
            for name, data in FILES.items():
                dicom.upload(data, name)
            notes = mr.create_resource("NOTES")
            for name, data in NOTES.items():
                notes.upload(data, name)
        yield Server(emulator.url, data_dir)


@pytest.fixture
def cli(server: Server, tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(server, home)
