"""Check your credentials (`login`), or issue an alias token (`login token`).

The account comes from --user, netrc or $XNAT_USER; its password from netrc, $XNAT_PASS or a
prompt. `login token` prints shell lines that make the following commands use the new token
instead of your password: eval "$(xnat-sdk login token)" (a netrc entry for the server still
takes precedence over $XNAT_USER, as in xnatpy). An alias token works like an account:
its alias as the user, its secret as the password. --for LOGIN issues one for another user
(administrators only).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.options import open_session
from xnat_sdk.cli.output import Output
from xnat_sdk.errors import XNATValueError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=("token",),
        default=None,
        help="`token`: issue an alias token and print it",
    )
    parser.add_argument(
        "--for",
        dest="for_user",
        default=None,
        metavar="LOGIN",
        help="with `token`: issue the token for this user (administrators only)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    action: str | None = args.action
    for_user: str | None = args.for_user
    if action is None and for_user is not None:
        raise XNATValueError("--for is only meaningful with `login token`")
    with open_session(args) as session:
        user = session.logged_in_user or ""
        server = session.server
        if action == "token":
            token = session.services.issue_token(for_user)
        else:
            version = session.xnat_version
            out.record(
                {"server": server, "user": user, "xnat_version": version},
                f"logged in to {server} as {user} (XNAT {version})",
            )
            return ExitCode.OK
    owner = for_user or user
    if out.as_json:
        out.json({"server": server, "user": owner, "alias": token.alias, "secret": token.secret})
    else:
        print(
            f"alias token for {owner} at {server}; it is a credential: keep it secret",
            file=sys.stderr,
        )
        out.text(
            f"export XNAT_HOST={shlex.quote(server)}\n"
            f"export XNAT_USER={shlex.quote(token.alias)}\n"
            f"export XNAT_PASS={shlex.quote(token.secret)}",
        )
    return ExitCode.OK
