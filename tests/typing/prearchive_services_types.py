"""Static types of the prearchive, services, users and inspect APIs; checked by mypy --strict and
pyright, never run."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path

import pydicom
from typing_extensions import assert_type

import xnat_sdk
from xnat_sdk import (
    DicomDumpRow,
    Inspect,
    Prearchive,
    PrearchiveFile,
    PrearchiveScan,
    PrearchiveSession,
    PrearchiveStatus,
    PrearchiveStatusError,
    Services,
    TokenResult,
    User,
    Users,
)
from xnat_sdk.models import ImageSessionData, MrSessionData


def prearchive(session: xnat_sdk.XNATSession) -> None:
    assert_type(session.prearchive, Prearchive)
    sessions = session.prearchive.sessions("P1")
    assert_type(sessions, list[PrearchiveSession])
    found = sessions[0]
    assert_type(found.status, PrearchiveStatus | None)
    assert_type(found.uploaded, datetime.datetime | None)
    assert_type(found.lastmod, datetime.datetime | None)
    assert_type(found.timestamp, datetime.datetime | None)
    assert_type(found.scan_date, datetime.date | None)
    assert_type(found.scan_time, datetime.time | None)
    assert_type(found.prevent_anon, bool)
    assert_type(found.id, str)
    assert_type(found.scans, list[PrearchiveScan])
    assert_type(found.scans[0].files, list[PrearchiveFile])
    assert_type(found.scans[0].files[0].size, int | None)
    assert_type(found.scans[0].files[0].download(Path("x.dcm")), Path)
    assert_type(found.scans[0].dicom_dump(["PatientID"]), list[DicomDumpRow])
    assert_type(found.scans[0].read_dicom(), pydicom.Dataset)
    assert_type(found.download("session.zip"), Path)
    experiment = found.archive(overwrite="append", project="P2")
    assert_type(experiment, ImageSessionData)
    if isinstance(experiment, MrSessionData):
        assert_type(experiment.date, datetime.date | None)
    assert_type(found.move("P2"), PrearchiveSession)
    assert_type(found.rebuild(asynchronous=False), PrearchiveSession)
    assert_type(found.delete(), None)
    assert_type(found.refresh(), PrearchiveSession)
    error = PrearchiveStatusError("archive", found.uri, "BUILDING")
    assert_type(error.status, str)
    assert isinstance(error, xnat_sdk.XNATError)


def services(session: xnat_sdk.XNATSession) -> None:
    assert_type(session.services, Services)
    to_archive = session.services.import_("study.zip", project="P1", destination="/archive")
    assert_type(to_archive, ImageSessionData)
    to_prearchive = session.services.import_("study.zip", destination="/prearchive")
    assert_type(to_prearchive, PrearchiveSession)
    either = session.services.import_("study.zip", project="P1")
    assert_type(either, ImageSessionData | PrearchiveSession)
    assert_type(
        session.services.import_dir(Path("export"), destination="/archive"), ImageSessionData
    )
    assert_type(
        session.services.import_sessions("two.zip"), list[ImageSessionData | PrearchiveSession]
    )
    rows = session.services.dicom_dump(to_archive, ["PatientName"])
    assert_type(rows, list[DicomDumpRow])
    assert_type(rows[0]["value"], str)
    token = session.services.issue_token()
    assert_type(token, TokenResult)
    alias, secret = token
    assert_type(alias, str)
    assert_type(secret, str)
    assert_type(session.services.refresh_catalog("/archive/experiments/E1", checksum=True), None)


def users_and_inspect(session: xnat_sdk.XNATSession) -> None:
    assert_type(session.users, Users)
    users: Mapping[str, User] = session.users
    user = users["admin"]
    assert_type(user.id, int | None)
    assert_type(user.login, str)
    assert_type(user.first_name, str)
    assert_type(user.access_level, str | None)
    assert_type(session.inspect, Inspect)
    assert_type(session.inspect.datatypes("xnat:mr*"), list[str])
    assert_type(session.inspect.datafields(MrSessionData, "*DATE*"), list[str])
