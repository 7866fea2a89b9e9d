"""Check that the server accepts your credentials, and who you are there.

The account comes from --user, netrc or $XNAT_USER; its password from netrc, $XNAT_PASS or a
prompt. An alias token works the same way: its alias as the user, its secret as the password.
"""

from __future__ import annotations

import argparse

from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.options import open_session
from xnat_sdk.cli.output import Output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    with open_session(args) as session:
        user = session.logged_in_user or ""
        version = session.xnat_version
        server = session.server
    out.record(
        {"server": server, "user": user, "xnat_version": version},
        f"logged in to {server} as {user} (XNAT {version})",
    )
    return ExitCode.OK
