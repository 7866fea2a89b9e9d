"""xnatpy's methods on archive objects: ``resource.upload(...)``, ``experiment.download_dir(...)``.

The generated classes list these mixins as extra bases (the generator's ``BEHAVIOURS`` table), so
each method exists on exactly the types xnatpy offers it on, and scripts written for xnatpy keep
working. The work itself is done by ``xnat_sdk.operations``, imported when a method is called:
loading the models (as the emulator does) imports no client code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    import pydicom

    from xnat_sdk.models import (
        AbstractResource,
        ExperimentData,
        ImageAssessorData,
        ImageScanData,
        ImageSessionData,
        ProjectData,
        SubjectData,
    )
    from xnat_sdk.objects import CustomVariables, FileData, XnatObject
    from xnat_sdk.transfer import UploadMethod
    from xnat_sdk.tree import ScanFile

A = TypeVar("A", bound="ImageAssessorData")


class ArchiveObjectBehaviour:
    """Projects, subjects, experiments and scans: they own resources and custom variables."""

    @property
    def fields(self) -> CustomVariables:
        """The custom variables of this object, a mutable mapping written through to the server
        (xnatpy's ``fields``; the XSD's own ``fields`` element is the generated ``fields_``)."""
        return cast("XnatObject", self).custom_fields

    def create_resource(self, label: str, format: str | None = None) -> AbstractResource:
        """Create an empty resource called ``label`` below this object and return it."""
        from xnat_sdk import operations

        owner = cast("ProjectData | SubjectData | ExperimentData | ImageScanData", self)
        return operations.create_resource(owner, label, format)


class ProjectBehaviour(ArchiveObjectBehaviour):
    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool = False) -> Path:
        """Download every session of the project below ``target_dir`` (xnatpy's layout)."""
        from xnat_sdk import operations

        return operations.download_project_dir(cast("ProjectData", self), target_dir, verbose)

    def scan_files(self) -> list[ScanFile]:
        """Every file of every scan resource of the project's image sessions, each with its
        session, subject, scan and resource, in ``1 + sessions / ~400`` requests (a nested
        walk over subjects, sessions, scans and resources costs one request per object)."""
        from xnat_sdk import tree

        return tree.scan_files(cast("ProjectData", self))


class SubjectBehaviour(ArchiveObjectBehaviour):
    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool = False) -> Path:
        """Download every session of the subject below ``target_dir`` (xnatpy's layout)."""
        from xnat_sdk import operations

        return operations.download_subject_dir(cast("SubjectData", self), target_dir, verbose)

    def share(self, project: str, label: str | None = None) -> None:
        """Share this subject into ``project``, optionally under another label."""
        from xnat_sdk import operations

        operations.share(cast("SubjectData", self), project, label)


class ExperimentBehaviour(ArchiveObjectBehaviour):
    def share(self, project: str, label: str | None = None) -> None:
        """Share this experiment into ``project``, optionally under another label."""
        from xnat_sdk import operations

        operations.share(cast("ExperimentData", self), project, label)


class ImageSessionBehaviour:
    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool = False) -> Path:
        """Download the session's scans and resources below ``target_dir`` (xnatpy's layout)."""
        from xnat_sdk import operations

        return operations.download_experiment_dir(
            cast("ImageSessionData", self), target_dir, verbose
        )

    def create_assessor(self, label: str, type_: type[A]) -> A:
        """Create an assessor of ``type_`` called ``label`` on this session and return it."""
        from xnat_sdk import operations

        return operations.create_assessor(cast("ImageSessionData", self), label, type_)


class ScanBehaviour(ArchiveObjectBehaviour):
    def dicom_dump(self, fields: Sequence[str] | None = None) -> list[dict[str, str]]:
        """The DICOM header of the scan as the server's dicomdump service reports it."""
        from xnat_sdk import operations

        return operations.dicom_dump(cast("ImageScanData", self), fields)

    def read_dicom(
        self, file: FileData | None = None, read_pixel_data: bool = False, force: bool = False
    ) -> pydicom.Dataset:
        """One DICOM file of the scan (the first one by default) read with pydicom."""
        from xnat_sdk import operations

        return operations.read_dicom(cast("ImageScanData", self), file, read_pixel_data, force)


class ResourceBehaviour:
    def upload(
        self,
        data: str | bytes | os.PathLike[str] | IO[bytes],
        remotepath: str,
        overwrite: bool = False,
        extract: bool = False,
    ) -> None:
        """Upload a file (path, bytes or open binary stream) to ``remotepath`` in the resource."""
        from xnat_sdk import operations

        operations.upload(cast("AbstractResource", self), data, remotepath, overwrite, extract)

    def upload_dir(
        self,
        directory: str | os.PathLike[str],
        overwrite: bool = False,
        method: UploadMethod = "tgz_file",
        max_workers: int | None = None,
    ) -> None:
        """Upload a whole directory with one of xnatpy's five methods (``per_file`` with
        ``max_workers`` uploads that many files at once)."""
        from xnat_sdk import operations

        operations.upload_dir(
            cast("AbstractResource", self), directory, overwrite, method, max_workers
        )

    def download(self, path: str, target: str | os.PathLike[str], *, verify: bool = True) -> Path:
        """Download the file ``path`` of the resource to ``target`` (atomic, md5-verified;
        ``verify=False`` checks the length only)."""
        from xnat_sdk import operations

        return operations.download(cast("AbstractResource", self), path, target, verify=verify)

    def download_dir(
        self,
        target_dir: str | os.PathLike[str],
        verbose: bool = False,
        max_workers: int | None = None,
        *,
        verify: bool = True,
    ) -> list[Path]:
        """Download every file of the resource below ``target_dir`` (one zip; with
        ``max_workers``, file by file that many at once, to ``target_dir/<path>``, each
        md5-verified unless ``verify=False``)."""
        from xnat_sdk import operations

        return operations.download_resource_dir(
            cast("AbstractResource", self), target_dir, verbose, max_workers, verify=verify
        )
