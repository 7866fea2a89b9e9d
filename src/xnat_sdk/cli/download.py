"""Download a project, subject, experiment, scan, resource, folder or file below PATH.

Projects, subjects and image sessions keep xnatpy's directory layout below the destination;
a scan or resource arrives as XNAT zips it, unpacked; a file keeps its name. Every file is
written atomically and checked against the server's size and digest. A progress bar is shown
on a terminal.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xnat_sdk import transfer
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
from xnat_sdk.errors import XNATValueError
from xnat_sdk.models import ImageScanData, ImageSessionData, ProjectData, SubjectData
from xnat_sdk.objects import FileData
from xnat_sdk.session import XNATSession


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        metavar="PATH",
        help="PROJECT[/SUBJECT[/EXPERIMENT[/SCAN]]][/resources[/RESOURCE[/FILE...]]]",
    )
    parser.add_argument(
        "destination",
        nargs="?",
        type=Path,
        default=Path(),
        metavar="DEST",
        help="folder to download into (default: the current folder); for a single file, "
        "a file name is also accepted",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    path = parse_path(args.path)
    destination: Path = args.destination
    if path.kind == "site":
        raise XNATValueError("download needs a PATH: the whole site cannot be downloaded")
    with open_session(args) as session:
        written = _download(session, path, destination)
    out.record(
        {"path": path.text, "written": [str(item) for item in written]},
        "\n".join(str(item) for item in written) or f"{path.text}: nothing to download",
    )
    return ExitCode.OK


def _download_file(session: XNATSession, file: FileData, target: Path) -> Path:
    """``file.download`` with a progress bar (atomic, checked against the catalog digest)."""
    return transfer.download_file(session, file.uri, target, verbose=True, expected_md5=file.digest)


def _download(session: XNATSession, path: ArchivePath, destination: Path) -> list[Path]:
    """Download what ``path`` names below ``destination``; the files or folders written."""
    if path.resource is not None:
        resource = resolve_resource(session, path)
        if path.file is None:
            return resource.download_dir(destination, verbose=True)
        files = files_below(resource, path)
        if len(files) == 1 and files[0].path == path.file:
            target = destination / files[0].name if destination.is_dir() else destination
            return [_download_file(session, files[0], target)]
        folder = path.file.rsplit("/", 1)[-1]
        return [
            _download_file(
                session, file, destination / folder / file.path.removeprefix(path.file + "/")
            )
            for file in files
        ]
    owner = resolve_owner(session, path)
    if owner is None:
        raise XNATValueError("download needs a PATH")
    if path.resources:
        written: list[Path] = []
        for resource in owner.resources:
            written.extend(resource.download_dir(destination, verbose=True))
        return written
    if isinstance(owner, (ProjectData, SubjectData, ImageSessionData)):
        return [owner.download_dir(destination, verbose=True)]
    if isinstance(owner, ImageScanData):
        return transfer.download_zip_to_dir(
            session, f"{owner.uri}/files", destination, verbose=True
        )
    written = []
    for resource in owner.resources:
        written.extend(resource.download_dir(destination, verbose=True))
    return written
