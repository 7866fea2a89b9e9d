"""Static types of SessionConfig and xnat_sdk.bulk: the item type flows from a listing, a search
or a list into the functions mapped; checked by mypy --strict and pyright, never run."""

from __future__ import annotations

import datetime

import dask.dataframe
from typing_extensions import assert_type

import xnat_sdk
from xnat_sdk import SessionConfig, bulk
from xnat_sdk.config import AuthMethod
from xnat_sdk.models import ImageScanData, MrSessionData, ProjectData, SubjectData


def configs(session: xnat_sdk.XNATSession) -> None:
    config = session.config()
    assert_type(config, SessionConfig)
    assert_type(session.config(include_secret=True), SessionConfig)
    assert_type(session.reference_config(), SessionConfig | None)
    assert_type(config.auth, AuthMethod)
    assert_type(config.session(), xnat_sdk.XNATSession)
    assert_type(config.connect(), xnat_sdk.XNATSession)
    assert_type(xnat_sdk.connect(config=config), xnat_sdk.XNATSession)


def bags(session: xnat_sdk.XNATSession, project: ProjectData) -> None:
    assert_type(bulk.bag_of(project.subjects), bulk.ObjectBag[SubjectData])
    sessions = [e for e in project.experiments if isinstance(e, MrSessionData)]
    bag = bulk.bag_of(sessions, npartitions=4)
    assert_type(bag, bulk.ObjectBag[MrSessionData])
    assert_type(bag.compute(), list[MrSessionData])
    assert_type(bag.map(lambda s: s.label), bulk.ObjectBag[str | None])
    assert_type(bag.filter(lambda s: s.label is not None), bulk.ObjectBag[MrSessionData])
    scans = bag.map_many(lambda s: list(s.scans))
    assert_type(scans, bulk.ObjectBag[ImageScanData])
    assert_type(bulk.map(lambda s: s.date, sessions), list[datetime.date | None])
    found = bulk.bag_of(session.search(MrSessionData))
    assert_type(found, bulk.ObjectBag[MrSessionData])
    assert_type(bulk.dataframe(project.subjects, ["ID"]), dask.dataframe.DataFrame)


def searches_and_frames(session: xnat_sdk.XNATSession, project: ProjectData) -> None:
    query = session.search(MrSessionData)
    assert_type(bulk.map(lambda s: s.label, query), list[str | None])
    assert_type(bulk.dataframe(query), dask.dataframe.DataFrame)
    assert_type(bulk.dataframe(project.experiments), dask.dataframe.DataFrame)
