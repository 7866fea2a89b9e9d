"""The options every server command shares, and the session they open.

Credentials are never an argument: ``--user`` names the account and its password comes from
the netrc file, ``XNAT_PASS`` or a prompt, exactly as ``xnat_sdk.connect`` resolves them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import xnat_sdk
from xnat_sdk.session import XNATSession


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the server, account and output options."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("server and output")
    group.add_argument(
        "--server", metavar="URL", help="the XNAT server (default: $XNAT_HOST)", default=None
    )
    group.add_argument(
        "--user",
        default=None,
        help="account or alias token (default: netrc, then $XNAT_USER); the password comes from "
        "netrc, $XNAT_PASS or a prompt, never from the command line",
    )
    group.add_argument(
        "--netrc", type=Path, default=None, metavar="FILE", help="netrc file (default ~/.netrc)"
    )
    group.add_argument(
        "--insecure", action="store_true", help="do not verify the server's TLS certificate"
    )
    group.add_argument("--json", action="store_true", help="print JSON (stable keys) for scripts")
    return parent


def open_session(args: argparse.Namespace) -> XNATSession:
    """Log in with the options of ``args`` (no keep-alive thread: commands are short)."""
    server: str | None = args.server
    user: str | None = args.user
    netrc_file: Path | None = args.netrc
    insecure: bool = args.insecure
    return xnat_sdk.connect(
        server, user, netrc_file=netrc_file, verify=not insecure, keepalive=None
    )
