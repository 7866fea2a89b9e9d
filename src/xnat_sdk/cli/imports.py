"""Import DICOM (a zip, a tar(.gz), one file or a folder) into the prearchive or the archive.

The server files the data by its DICOM headers unless --project/--subject/--experiment say
otherwise. Prints the new experiment(s) or prearchive session(s).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.options import open_session
from xnat_sdk.cli.output import Output
from xnat_sdk.errors import XNATValueError
from xnat_sdk.models import ImageSessionData
from xnat_sdk.prearchive import OverwriteMode, PrearchiveSession

#: The table columns of an import or prearchive result (JSON has every key).
SHOWN = ("destination", "id", "project", "subject", "label", "status")


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """The labels and overwrite mode shared by `import` and `prearchive archive`."""
    parser.add_argument("--project", default=None, help="project to file the session in")
    parser.add_argument("--subject", default=None, help="subject label")
    parser.add_argument("--experiment", default=None, help="experiment (session) label")
    parser.add_argument(
        "--overwrite",
        choices=get_args(OverwriteMode),
        default=None,
        help="what to do with an existing session of the same label (server default: none)",
    )
    parser.add_argument("--quarantine", action="store_true", help="archive into quarantine")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", type=Path, metavar="LOCAL", help="zip, tar(.gz), DICOM file or folder"
    )
    parser.add_argument(
        "--destination",
        choices=("prearchive", "archive"),
        default="prearchive",
        help="where the data goes (default: prearchive)",
    )
    add_target_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    source: Path = args.source
    destination = "/" + str(args.destination)
    overwrite: OverwriteMode | None = args.overwrite
    quarantine: bool = args.quarantine
    project: str | None = args.project
    subject: str | None = args.subject
    experiment: str | None = args.experiment
    if not (source.is_file() or source.is_dir()):
        raise XNATValueError(f"{source} is not a file or a folder")
    with open_session(args) as session:
        services = session.services
        results: list[ImageSessionData | PrearchiveSession]
        if source.is_dir():
            imported = services.import_dir(
                source,
                overwrite,
                quarantine,
                destination,
                project=project,
                subject=subject,
                experiment=experiment,
            )
            results = [imported]
        else:
            results = services.import_sessions(
                source,
                overwrite,
                quarantine,
                destination,
                project=project,
                subject=subject,
                experiment=experiment,
            )
        rows = [result_row(result) for result in results]
    out.rows(rows, SHOWN, title=f"imported {source}")
    return ExitCode.OK


def result_row(result: ImageSessionData | PrearchiveSession) -> dict[str, str]:
    """One imported or archived session as a row with stable keys (``subject`` is the label
    the importer chose in the prearchive, the subject's ID once archived)."""
    if isinstance(result, PrearchiveSession):
        return {
            "destination": "prearchive",
            "id": result.id,
            "project": result.project,
            "subject": result.subject,
            "label": result.name,
            "status": result.status or result.data.get("status", ""),
            "uri": result.uri,
        }
    return {
        "destination": "archive",
        "id": result.id or "",
        "project": result.project or "",
        "subject": result.subject_id or "",
        "label": result.label or "",
        "status": "archived",
        "uri": result.uri,
    }
