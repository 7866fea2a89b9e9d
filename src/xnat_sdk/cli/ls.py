"""List projects, subjects, experiments, scans, resources or files below PATH.

With ``--json`` each row has the standard columns of XNAT's listing of that level (``ID``,
``label``, ``URI``, ...; files also ``path``, the path inside the resource).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.options import open_session
from xnat_sdk.cli.output import Output
from xnat_sdk.cli.paths import (
    ArchivePath,
    files_below,
    parse_path,
    resolve_owner,
    resolve_resource,
)
from xnat_sdk.listing import Listing
from xnat_sdk.models import ImageScanData, ImageSessionData, ProjectData, SubjectData
from xnat_sdk.objects import FileData
from xnat_sdk.session import XNATSession

#: The columns a table shows, per listing (JSON has every standard column).
SHOWN: Mapping[str, Sequence[str]] = {
    "projects": ("ID", "name", "description"),
    "subjects": ("ID", "label", "project", "insert_date"),
    "experiments": ("ID", "label", "xsiType", "date"),
    "scans": ("ID", "type", "series_description", "quality"),
    "resources": ("label", "format", "file_count", "file_size"),
    "files": ("path", "Size", "digest"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default="",
        metavar="PATH",
        help="PROJECT[/SUBJECT[/EXPERIMENT[/SCAN]]][/resources[/RESOURCE[/FILE...]]]; "
        "none lists the projects",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    path = parse_path(args.path)
    with open_session(args) as session:
        listing, rows = _children(session, path)
    out.rows(rows, SHOWN[listing], title=f"{listing} of {path.text or 'the site'}")
    return ExitCode.OK


def _children(session: XNATSession, path: ArchivePath) -> tuple[str, list[dict[str, str]]]:
    """The name of the listing below ``path`` and its rows."""
    if path.resource is not None:
        resource = resolve_resource(session, path)
        return "files", [_file_row(file) for file in files_below(resource, path)]
    owner = resolve_owner(session, path)
    if owner is None:
        return "projects", _rows(session.projects)
    if path.resources or isinstance(owner, ImageScanData):
        return "resources", _rows(owner.resources)
    if isinstance(owner, ProjectData):
        return "subjects", _rows(owner.subjects)
    if isinstance(owner, SubjectData):
        return "experiments", _rows(owner.experiments)
    if isinstance(owner, ImageSessionData):
        return "scans", _rows(owner.scans)
    return "resources", _rows(owner.resources)


def _rows(listing: Listing[object]) -> list[dict[str, str]]:
    return listing.tabulate()


def _file_row(file: FileData) -> dict[str, str]:
    return {
        "path": file.path,
        "Name": file.name,
        "Size": "" if file.size is None else str(file.size),
        "URI": file.uri,
        "collection": file.collection or "",
        "file_tags": file.tags or "",
        "file_format": file.format or "",
        "file_content": file.content or "",
        "digest": file.digest or "",
    }
