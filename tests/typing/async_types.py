"""Static types of the async client; checked by mypy --strict and pyright, never run."""

from __future__ import annotations

from pathlib import Path

import httpx
from typing_extensions import assert_type

import xnat_sdk
from xnat_sdk.aio import (
    AsyncInspect,
    AsyncListing,
    AsyncPrearchiveSession,
    AsyncQuery,
    AsyncUsers,
    AsyncXNATSession,
    BulkProgress,
)
from xnat_sdk.listing import ExperimentRow, FileRow, ProjectRow, ScanRow, SubjectRow
from xnat_sdk.models import (
    AbstractResource,
    ExperimentData,
    ImageScanData,
    ImageSessionData,
    MrSessionData,
    ProjectData,
    SubjectAssessorData,
    SubjectData,
)
from xnat_sdk.objects import FileData
from xnat_sdk.parsing import JSON
from xnat_sdk.users import User


async def connecting() -> None:
    session = await xnat_sdk.connect_async("http://xnat", "me", "secret", max_concurrency=4)
    assert_type(session, AsyncXNATSession)
    async with session as opened:
        assert_type(opened, AsyncXNATSession)
    assert_type(session.max_concurrency, int)


async def navigation(session: AsyncXNATSession) -> None:
    assert_type(session.projects, AsyncListing[ProjectData])
    assert_type(session.subjects, AsyncListing[SubjectData])
    assert_type(session.experiments, AsyncListing[ExperimentData])
    project = await session.projects.get("P1")
    assert_type(project, ProjectData)
    assert_type(await session.projects.get("P9", None), ProjectData | None)
    subjects = session.listing(project.subjects)
    assert_type(subjects, AsyncListing[SubjectData])
    assert_type(subjects.filter(label="S*"), AsyncListing[SubjectData])
    async for subject in subjects:
        assert_type(subject, SubjectData)
        experiments = await session.listing(subject.experiments).all()
        assert_type(experiments, list[SubjectAssessorData])
        for experiment in experiments:
            if isinstance(experiment, MrSessionData):
                scans = session.listing(experiment.scans)
                assert_type(scans, AsyncListing[ImageScanData])
                scan = await scans.get("1")
                resources = session.listing(scan.resources)
                assert_type(resources, AsyncListing[AbstractResource])
                resource = await resources.get("DICOM")
                assert_type(session.listing(resource.files), AsyncListing[FileData])
                assert_type(await session.load(experiment), MrSessionData)
                assert_type(await scans.tabulate(), list[ScanRow])
                assert_type(await session.listing(resource.files).tabulate(), list[FileRow])
    assert_type(await session.projects.tabulate(), list[ProjectRow])
    assert_type(await subjects.tabulate(), list[SubjectRow])
    assert_type(await session.experiments.tabulate(), list[ExperimentRow])
    assert_type(await subjects.tabulate(["label"]), list[dict[str, str]])
    assert_type(await subjects.keys(), list[str])
    assert_type(await subjects.create("S9"), SubjectData)
    assert_type(await session.set(project, name="renamed"), None)
    assert_type(await session.get_json("/data/projects"), JSON)
    assert_type(await session.get("/data/projects"), httpx.Response)


async def transfers(
    session: AsyncXNATSession,
    file: FileData,
    resource: AbstractResource,
    experiment: ImageSessionData,
) -> None:
    assert_type(await session.download(file, "out"), Path)
    assert_type(await session.download("/data/x/files/y", "out"), Path)
    assert_type(await session.download(resource, "out"), list[Path])
    assert_type(await session.download(experiment, "out"), list[Path])
    assert_type(await session.download_many([experiment, resource], "out"), list[Path])
    many = await session.download_many([file], "out", progress=BulkProgress("all"))
    assert_type(many, list[Path])
    assert_type(await session.upload_dir(resource, "in", method="per_file"), None)
    assert_type(await session.read_bytes(file), bytes)


async def services(session: AsyncXNATSession) -> None:
    archived = await session.services.import_("a.zip", destination="/archive")
    assert_type(archived, ImageSessionData)
    staged = await session.services.import_("a.zip", destination="prearchive")
    assert_type(staged, AsyncPrearchiveSession)
    either = await session.services.import_("a.zip")
    assert_type(either, ImageSessionData | AsyncPrearchiveSession)
    sessions = await session.prearchive.sessions("P1")
    assert_type(sessions, list[AsyncPrearchiveSession])
    assert_type(await sessions[0].archive(), ImageSessionData)
    assert_type(await sessions[0].move("P2"), AsyncPrearchiveSession)


async def site_metadata(session: AsyncXNATSession) -> None:
    assert_type(session.users, AsyncUsers)
    assert_type(await session.users.all(), dict[str, User])
    assert_type(await session.users.get("admin"), User)
    assert_type(session.inspect, AsyncInspect)
    assert_type(await session.inspect.datatypes("xnat:mr*"), list[str])
    assert_type(await session.inspect.datafields(MrSessionData, "*DATE*"), list[str])


async def searching(session: AsyncXNATSession) -> None:
    query = session.search(MrSessionData)
    assert_type(query, AsyncQuery[MrSessionData])
    narrowed = query.columns(MrSessionData.c.label).filter(MrSessionData.c.label == "MR1")
    assert_type(narrowed, AsyncQuery[MrSessionData])
    assert_type(query.model, type[MrSessionData])
    assert_type(await narrowed.all(), list[dict[str, str]])
    assert_type(await narrowed.first(), dict[str, str] | None)
    assert_type(await narrowed.tabulate_csv(), str)
    assert_type(query.document(), str)
