"""Upload files or folders into a resource (created if it does not exist yet).

PATH names the resource and optionally a folder inside it:
PROJECT[/SUBJECT[/EXPERIMENT[/SCAN]]]/resources/RESOURCE[/FOLDER]. A file keeps its name; a
folder's contents go below FOLDER (or the resource's root), keeping their relative paths.
Existing remote files are refused unless --overwrite is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xnat_sdk import transfer
from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.options import open_session
from xnat_sdk.cli.output import Output
from xnat_sdk.cli.paths import ArchivePath, parse_path, resolve_owner
from xnat_sdk.errors import XNATValueError
from xnat_sdk.models import AbstractResource
from xnat_sdk.session import XNATSession


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        metavar="PATH",
        help="PROJECT[/SUBJECT[/EXPERIMENT[/SCAN]]]/resources/RESOURCE[/FOLDER]",
    )
    parser.add_argument("sources", nargs="+", type=Path, metavar="LOCAL", help="file or folder")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    parser.add_argument(
        "--format", default=None, help="format of the resource if it is created (e.g. DICOM)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    path = parse_path(args.path)
    sources: list[Path] = args.sources
    overwrite: bool = args.overwrite
    if path.resource is None:
        raise XNATValueError(
            f"upload needs a resource: {path.text!r} should be .../resources/RESOURCE[/FOLDER]"
        )
    for source in sources:
        if not (source.is_file() or source.is_dir()):
            raise XNATValueError(f"{source} is not a file or a folder")
    with open_session(args) as session:
        resource = _resource(session, path, args.format)
        uploaded: list[str] = []
        for source in sources:
            uploaded.extend(_upload(resource, source, path.file, overwrite))
        uri = resource.uri
    out.record(
        {"resource": uri, "uploaded": uploaded},
        "\n".join(f"{uri}/files/{name}" for name in uploaded),
    )
    return ExitCode.OK


def _resource(session: XNATSession, path: ArchivePath, format: str | None) -> AbstractResource:
    """The resource ``path`` names, created on its owner if it does not exist yet."""
    owner = resolve_owner(session, path)
    label = path.resource
    if owner is None or label is None:
        raise XNATValueError(f"path {path.text!r} does not name a resource")
    existing = owner.resources.get(label)
    return existing if existing is not None else owner.create_resource(label, format)


def _upload(
    resource: AbstractResource, source: Path, folder: str | None, overwrite: bool
) -> list[str]:
    """Upload ``source`` below ``folder`` of ``resource``; the remote paths it now has."""
    prefix = f"{folder}/" if folder else ""
    if source.is_file():
        remote = prefix + source.name
        resource.upload(source, remote, overwrite=overwrite)
        return [remote]
    tree = list(transfer.iter_tree(source))
    if not prefix:
        resource.upload_dir(source, overwrite=overwrite)
        return [relative for _, relative in tree]
    for local, relative in tree:
        resource.upload(local, prefix + relative, overwrite=overwrite)
    return [prefix + relative for _, relative in tree]
