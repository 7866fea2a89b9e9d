"""The PATH argument of ``ls``, ``download`` and ``upload``, and the archive object it names.

Syntax (each part is an ID or a label, as the listings accept)::

    PROJECT[/SUBJECT[/EXPERIMENT[/SCAN]]][/resources[/RESOURCE[/FILE_OR_FOLDER...]]]

``P1/S01/MR1/3`` is scan 3 of experiment MR1; ``P1/S01/MR1/resources/NOTES/a/b.txt`` is a file of
the experiment's resource NOTES; ``P1/S01/MR1/3/resources/DICOM`` is the scan's DICOM resource.
``resources`` is a reserved word: an object whose label is literally ``resources`` cannot be
named below a parent this way. An empty path (or ``/``) is the whole site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from xnat_sdk.errors import XNATKeyError, XNATValueError
from xnat_sdk.models import (
    AbstractResource,
    ExperimentData,
    ImageScanData,
    ImageSessionData,
    ProjectData,
    SubjectData,
)
from xnat_sdk.objects import FileData
from xnat_sdk.session import XNATSession

#: The archive levels above resources, in order.
LEVELS = ("project", "subject", "experiment", "scan")
RESOURCES = "resources"

#: An object that can own resources.
Owner: TypeAlias = ProjectData | SubjectData | ExperimentData | ImageScanData
Kind = Literal[
    "site", "project", "subject", "experiment", "scan", "resources", "resource", "folder", "file"
]


@dataclass(frozen=True)
class ArchivePath:
    """A parsed PATH: the labels down the tree, then an optional resource part."""

    text: str
    levels: tuple[str, ...]
    resources: bool = False
    resource: str | None = None
    file: str | None = None

    @property
    def kind(self) -> Kind:
        """What the path names, before asking the server (a file part may be a folder)."""
        if self.file is not None:
            return "file"
        if self.resource is not None:
            return "resource"
        if self.resources:
            return "resources"
        if not self.levels:
            return "site"
        kinds: tuple[Kind, ...] = ("project", "subject", "experiment", "scan")
        return kinds[len(self.levels) - 1]


def parse_path(text: str) -> ArchivePath:
    """Parse PATH; an empty part, ``.``/``..`` or more than four levels is a usage error."""
    stripped = text.strip("/")
    parts = stripped.split("/") if stripped else []
    for part in parts:
        if part in ("", ".", ".."):
            raise XNATValueError(f"path {text!r}: empty, '.' or '..' parts are not allowed")
    if RESOURCES not in parts:
        if len(parts) > len(LEVELS):
            raise XNATValueError(
                f"path {text!r} has {len(parts)} parts; at most "
                "PROJECT/SUBJECT/EXPERIMENT/SCAN before /resources/RESOURCE/FILE"
            )
        return ArchivePath(text, tuple(parts))
    split = parts.index(RESOURCES)
    levels = tuple(parts[:split])
    if not levels:
        raise XNATValueError(f"path {text!r}: resources belong to a project or below")
    if len(levels) > len(LEVELS):
        raise XNATValueError(f"path {text!r}: too many parts before /resources")
    rest = parts[split + 1 :]
    resource = rest[0] if rest else None
    file = "/".join(rest[1:]) if len(rest) > 1 else None
    return ArchivePath(text, levels, True, resource, file)


def resolve_owner(session: XNATSession, path: ArchivePath) -> Owner | None:
    """The project, subject, experiment or scan the path's levels name (``None``: the site)."""
    if not path.levels:
        return None
    project = session.projects[path.levels[0]]
    if len(path.levels) == 1:
        return project
    subject = project.subjects[path.levels[1]]
    if len(path.levels) == 2:
        return subject
    experiment = subject.experiments[path.levels[2]]
    if len(path.levels) == 3:
        return experiment
    if not isinstance(experiment, ImageSessionData):
        raise XNATValueError(
            f"path {path.text!r}: {experiment.label or path.levels[2]} is a "
            f"{type(experiment).__name__}, which has no scans"
        )
    return experiment.scans[path.levels[3]]


def resolve_resource(session: XNATSession, path: ArchivePath) -> AbstractResource:
    """The resource a ``.../resources/RESOURCE[/...]`` path names."""
    owner = resolve_owner(session, path)
    if owner is None or path.resource is None:
        raise XNATValueError(f"path {path.text!r} does not name a resource")
    return owner.resources[path.resource]


def files_below(resource: AbstractResource, path: ArchivePath) -> list[FileData]:
    """The file the path names, or every file in the folder it names (not found otherwise)."""
    wanted = path.file or ""
    exact = resource.files.get(wanted) if wanted else None
    if exact is not None:
        return [exact]
    prefix = f"{wanted}/" if wanted else ""
    found = [file for file in resource.files if file.path.startswith(prefix)]
    if wanted and not found:
        raise XNATKeyError(f"resource {resource.uri} has no file or folder {wanted!r}")
    return found
