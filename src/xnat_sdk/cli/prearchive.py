"""List the prearchive, and archive, delete or move its sessions.

A session is named by the ID `list` shows: PROJECT/TIMESTAMP/NAME. Actions first check the
session's status on the server (a session being received or built cannot be changed yet).
"""

from __future__ import annotations

import argparse

from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.imports import SHOWN, add_target_options, result_row
from xnat_sdk.cli.options import open_session
from xnat_sdk.cli.output import Output
from xnat_sdk.errors import XNATKeyError, XNATValueError
from xnat_sdk.prearchive import OverwriteMode, PrearchiveSession
from xnat_sdk.session import XNATSession

#: The columns `list` shows (JSON has every key).
LISTED = ("id", "project", "subject", "label", "status", "scan_date", "uploaded")


def configure(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """Add the `list`, `archive`, `delete` and `move` actions, each with the common options."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="the sessions waiting")
    listing.add_argument("--project", default=None, help="only this project's sessions")
    listing.set_defaults(run=run_list)

    archive = actions.add_parser("archive", parents=[common], help="archive a session")
    archive.add_argument("session", metavar="ID", help="PROJECT/TIMESTAMP/NAME")
    add_target_options(archive)
    archive.set_defaults(run=run_archive)

    delete = actions.add_parser("delete", parents=[common], help="delete a session")
    delete.add_argument("session", metavar="ID", help="PROJECT/TIMESTAMP/NAME")
    delete.set_defaults(run=run_delete)

    move = actions.add_parser("move", parents=[common], help="move a session to a project")
    move.add_argument("session", metavar="ID", help="PROJECT/TIMESTAMP/NAME")
    move.add_argument("new_project", metavar="PROJECT", help="the project to move it to")
    move.set_defaults(run=run_move)


def run_list(args: argparse.Namespace, out: Output) -> ExitCode:
    project: str | None = args.project
    with open_session(args) as session:
        rows = [_listed_row(found) for found in session.prearchive.sessions(project)]
    out.rows(rows, LISTED, title="prearchive")
    return ExitCode.OK


def run_archive(args: argparse.Namespace, out: Output) -> ExitCode:
    overwrite: OverwriteMode | None = args.overwrite
    quarantine: bool = args.quarantine
    with open_session(args) as session:
        experiment = find_session(session, args.session).archive(
            overwrite,
            quarantine or None,
            project=args.project,
            subject=args.subject,
            experiment=args.experiment,
        )
        row = result_row(experiment)
    out.rows([row], SHOWN, title=f"archived {args.session}")
    return ExitCode.OK


def run_delete(args: argparse.Namespace, out: Output) -> ExitCode:
    with open_session(args) as session:
        found = find_session(session, args.session)
        found.delete()
    out.record({"deleted": found.id, "uri": found.uri}, f"deleted {found.id}")
    return ExitCode.OK


def run_move(args: argparse.Namespace, out: Output) -> ExitCode:
    new_project: str = args.new_project
    with open_session(args) as session:
        moved = find_session(session, args.session).move(new_project)
        row = result_row(moved)
    out.rows([row], SHOWN, title=f"moved {args.session}")
    return ExitCode.OK


def find_session(session: XNATSession, session_id: str) -> PrearchiveSession:
    """The prearchive session whose ID is ``PROJECT/TIMESTAMP/NAME``."""
    project, sep, _rest = session_id.partition("/")
    if not sep or session_id.count("/") != 2 or "" in session_id.split("/"):
        raise XNATValueError(f"prearchive session {session_id!r} is not PROJECT/TIMESTAMP/NAME")
    for found in session.prearchive.sessions(project):
        if found.id == session_id:
            return found
    raise XNATKeyError(f"the prearchive has no session {session_id!r} (see `prearchive list`)")


def _listed_row(found: PrearchiveSession) -> dict[str, str]:
    uploaded = found.uploaded
    scan_date = found.scan_date
    return {
        **result_row(found),
        "scan_date": scan_date.isoformat() if scan_date is not None else "",
        "uploaded": uploaded.isoformat(sep=" ", timespec="seconds") if uploaded else "",
        "tag": found.tag,
    }
