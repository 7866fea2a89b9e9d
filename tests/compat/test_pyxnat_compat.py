"""pyxnat 1.6.4 against the emulator: connect, select, create, attributes, files, search.

pyxnat is untyped; its objects are used through ``Any`` on purpose (this file checks the
emulator's answers, not pyxnat's types).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle

pyxnat: Any = pytest.importorskip("pyxnat", reason="pyxnat is a development dependency")


@pytest.fixture
def interface(xnat_emulator: EmulatorHandle) -> Iterator[Any]:
    connection = pyxnat.Interface(
        server=xnat_emulator.url, user=xnat_emulator.user, password=xnat_emulator.password
    )
    yield connection
    connection.disconnect()


def test_version_and_inspector(interface: Any) -> None:
    version = interface.version()  # the body of GET /data/version, as bytes
    assert version.decode().startswith("1.8")
    interface.inspect.set_autolearn(False)
    datatypes = interface.inspect.datatypes("xnat:mr*")
    assert "xnat:mrSessionData" in datatypes


def test_create_select_and_attributes(interface: Any) -> None:
    project = interface.select.project("PYX1")
    project.create()
    assert project.exists()
    assert "PYX1" in interface.select.projects().get()
    subject = project.subject("SUBJ1")
    subject.create()
    experiment = subject.experiment("SUBJ1_MR1")
    experiment.create(experiments="xnat:mrSessionData")
    assert experiment.datatype() == "xnat:mrSessionData"
    experiment.attrs.set("xnat:mrSessionData/date", "2024-01-02")
    assert experiment.attrs.get("xnat:mrSessionData/date") == "2024-01-02"
    scan = experiment.scan("1")
    scan.create(scans="xnat:mrScanData")
    scan.attrs.set("xnat:mrScanData/type", "T1w")
    assert scan.attrs.get("xnat:mrScanData/type") == "T1w"
    assert list(experiment.scans().get()) == ["1"]
    assert [e.label() for e in subject.experiments()] == ["SUBJ1_MR1"]


def test_files_upload_download(interface: Any, tmp_path: Path) -> None:
    project = interface.select.project("PYX2")
    project.create()
    subject = project.subject("S1")
    subject.create()
    resource = subject.resource("NOTES")
    source = tmp_path / "notes.txt"
    source.write_text("hello from pyxnat\n")
    resource.file("notes.txt").insert(str(source))
    assert resource.files().get() == ["notes.txt"]
    target = tmp_path / "out.txt"
    resource.file("notes.txt").get(str(target))
    assert target.read_text() == "hello from pyxnat\n"


def test_search_where(interface: Any) -> None:
    project = interface.select.project("PYX3")
    project.create()
    for label in ("ALPHA", "BETA"):
        project.subject(label).create()
    table = interface.select("xnat:subjectData", ["xnat:subjectData/SUBJECT_LABEL"]).where(
        [("xnat:subjectData/PROJECT", "=", "PYX3"), "AND"]
    )
    labels = sorted(row["subject_label"] for row in table)
    assert labels == ["ALPHA", "BETA"]


def test_delete(interface: Any) -> None:
    project = interface.select.project("PYX4")
    project.create()
    subject = project.subject("GONE")
    subject.create()
    subject.delete()
    assert not subject.exists()
