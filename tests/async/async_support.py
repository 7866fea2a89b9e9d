"""Support of the async tests: the seeded archive's description, async sessions on it, and one
scenario interface with two clients behind it: the sync ``XNATSession`` and the
``AsyncXNATSession``, so the integration scenarios run against both (the sync calls run in a
worker thread, one at a time). A module of its own name: test directories are not packages,
so ``conftest`` is not importable by name."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import anyio.to_thread

import xnat_sdk
from xnat_sdk.aio import AsyncPrearchiveSession, AsyncXNATSession, connect_async
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.listing import SubjectRow
from xnat_sdk.models import (
    AbstractResource,
    ExperimentData,
    ImageSessionData,
    ProjectData,
    SubjectAssessorData,
)
from xnat_sdk.parsing import JSON

R = TypeVar("R")

#: The files of resource DATA of scan 1 of S01_MR1, by path.
DATA_FILES = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(256)) * 40}


@dataclass(frozen=True)
class Archive:
    """The seeded emulator: P1 (S01 with an MR and a PET session, S02, S03) and P2."""

    handle: EmulatorHandle
    mr_uri: str
    mr_id: str


async def open_async(
    handle: EmulatorHandle,
    *,
    max_concurrency: int = 8,
    retry: xnat_sdk.RetryPolicy | None = None,
) -> AsyncXNATSession:
    """An admin async session on ``handle``."""
    return await connect_async(
        handle.url, handle.user, handle.password, max_concurrency=max_concurrency, retry=retry
    )


class Client(Protocol):
    """What the shared scenarios ask of a client."""

    name: str

    async def project_ids(self) -> list[str]: ...
    async def project(self, key: str | int) -> ProjectData: ...
    async def subject_labels(self, project: str, **filters: str) -> list[str]: ...
    async def subject_rows(self, project: str) -> list[SubjectRow]: ...
    async def experiments(self, project: str, subject: str) -> list[SubjectAssessorData]: ...
    async def experiment(self, project: str, key: str) -> ExperimentData: ...
    async def get_json(self, uri: str) -> JSON: ...
    async def resource(self, experiment_uri: str, scan: str, label: str) -> AbstractResource: ...
    async def file_paths(self, resource: AbstractResource) -> list[str]: ...
    async def download_file(self, resource: AbstractResource, path: str, target: Path) -> Path: ...
    async def upload_bytes(self, resource: AbstractResource, data: bytes, path: str) -> None: ...
    async def import_archive(self, archive: Path, project: str) -> ImageSessionData: ...
    async def import_and_archive(self, archive: Path, project: str) -> tuple[str, str]: ...


class SyncClient:
    """``XNATSession`` behind the scenario interface."""

    name = "sync"

    def __init__(self, session: xnat_sdk.XNATSession) -> None:
        self.session = session

    async def _run(self, work: Callable[[], R]) -> R:
        return await anyio.to_thread.run_sync(work)

    async def project_ids(self) -> list[str]:
        return await self._run(lambda: sorted(self.session.projects.keys()))

    async def project(self, key: str | int) -> ProjectData:
        return await self._run(lambda: self.session.projects[key])

    async def subject_labels(self, project: str, **filters: str) -> list[str]:
        def work() -> list[str]:
            subjects = self.session.projects[project].subjects.filter(filters)
            return sorted(subject.label or "" for subject in subjects)

        return await self._run(work)

    async def subject_rows(self, project: str) -> list[SubjectRow]:
        return await self._run(lambda: self.session.projects[project].subjects.tabulate())

    async def experiments(self, project: str, subject: str) -> list[SubjectAssessorData]:
        def work() -> list[SubjectAssessorData]:
            return list(self.session.projects[project].subjects[subject].experiments)

        return await self._run(work)

    async def experiment(self, project: str, key: str) -> ExperimentData:
        return await self._run(lambda: self.session.projects[project].experiments[key])

    async def get_json(self, uri: str) -> JSON:
        return await self._run(lambda: self.session.get_json(uri))

    async def resource(self, experiment_uri: str, scan: str, label: str) -> AbstractResource:
        def work() -> AbstractResource:
            experiment = self.session.load_item(experiment_uri)
            assert isinstance(experiment, ImageSessionData)
            return experiment.scans[scan].resources[label]

        return await self._run(work)

    async def file_paths(self, resource: AbstractResource) -> list[str]:
        return await self._run(lambda: sorted(resource.files.keys()))

    async def download_file(self, resource: AbstractResource, path: str, target: Path) -> Path:
        return await self._run(lambda: resource.files[path].download(target))

    async def upload_bytes(self, resource: AbstractResource, data: bytes, path: str) -> None:
        await self._run(functools.partial(resource.upload, data, path))

    async def import_archive(self, archive: Path, project: str) -> ImageSessionData:
        services = self.session.services
        return await self._run(
            lambda: services.import_(archive, project=project, destination="/archive")
        )

    async def import_and_archive(self, archive: Path, project: str) -> tuple[str, str]:
        def work() -> tuple[str, str]:
            staged = self.session.services.import_(
                archive, project=project, destination="/prearchive"
            )
            listed = self.session.prearchive.sessions(project)
            assert listed == [staged] and staged.status == "READY"
            return staged.name, staged.archive().uri

        return await self._run(work)


class AsyncClient:
    """``AsyncXNATSession`` behind the scenario interface."""

    name = "async"

    def __init__(self, session: AsyncXNATSession) -> None:
        self.session = session

    async def project_ids(self) -> list[str]:
        return sorted(await self.session.projects.keys())

    async def project(self, key: str | int) -> ProjectData:
        return await self.session.projects.get(key)

    async def subject_labels(self, project: str, **filters: str) -> list[str]:
        owner = await self.session.projects.get(project)
        subjects = self.session.listing(owner.subjects).filter(filters)
        return sorted([subject.label or "" async for subject in subjects])

    async def subject_rows(self, project: str) -> list[SubjectRow]:
        owner = await self.session.projects.get(project)
        return await self.session.listing(owner.subjects).tabulate()

    async def experiments(self, project: str, subject: str) -> list[SubjectAssessorData]:
        owner = await self.session.projects.get(project)
        found = await self.session.listing(owner.subjects).get(subject)
        return await self.session.listing(found.experiments).all()

    async def experiment(self, project: str, key: str) -> ExperimentData:
        owner = await self.session.projects.get(project)
        return await self.session.listing(owner.experiments).get(key)

    async def get_json(self, uri: str) -> JSON:
        return await self.session.get_json(uri)

    async def resource(self, experiment_uri: str, scan: str, label: str) -> AbstractResource:
        experiment = await self.session.object_at(experiment_uri)
        assert isinstance(experiment, ImageSessionData)
        found = await self.session.listing(experiment.scans).get(scan)
        return await self.session.listing(found.resources).get(label)

    async def file_paths(self, resource: AbstractResource) -> list[str]:
        return sorted(await self.session.listing(resource.files).keys())

    async def download_file(self, resource: AbstractResource, path: str, target: Path) -> Path:
        file = await self.session.listing(resource.files).get(path)
        return await self.session.download(file, target)

    async def upload_bytes(self, resource: AbstractResource, data: bytes, path: str) -> None:
        await self.session.upload_file(resource, data, path)

    async def import_archive(self, archive: Path, project: str) -> ImageSessionData:
        return await self.session.services.import_(archive, project=project, destination="/archive")

    async def import_and_archive(self, archive: Path, project: str) -> tuple[str, str]:
        staged = await self.session.services.import_(
            archive, project=project, destination="/prearchive"
        )
        assert isinstance(staged, AsyncPrearchiveSession)
        listed = await self.session.prearchive.sessions(project)
        assert listed == [staged] and staged.status == "READY"
        return staged.name, (await staged.archive()).uri
