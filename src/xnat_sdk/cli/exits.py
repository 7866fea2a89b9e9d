"""The exit codes of ``xnat-sdk`` and which error leads to which, so scripts can branch on them."""

from __future__ import annotations

from enum import IntEnum

from xnat_sdk.errors import (
    XNATAmbiguousKeyError,
    XNATAuthError,
    XNATError,
    XNATForbiddenError,
    XNATKeyError,
    XNATNotFoundError,
    XNATValueError,
)


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    #: The server failed or refused the request for another reason, or the connection broke.
    SERVER = 1
    #: The command line or a value in it was wrong (argparse also exits with 2).
    USAGE = 2
    #: The credentials were refused (401) or the user may not do this (403).
    AUTH = 3
    #: The project, subject, experiment, scan, resource or file does not exist.
    NOT_FOUND = 4
    #: Stopped by Ctrl-C (SIGINT), as shells report it (128 + 2).
    INTERRUPTED = 130


def exit_code_for(error: XNATError) -> ExitCode:
    """The exit code that describes ``error``."""
    if isinstance(error, (XNATAuthError, XNATForbiddenError)):
        return ExitCode.AUTH
    if isinstance(error, XNATAmbiguousKeyError):
        return ExitCode.USAGE
    if isinstance(error, (XNATNotFoundError, XNATKeyError)):
        return ExitCode.NOT_FOUND
    if isinstance(error, XNATValueError):
        return ExitCode.USAGE
    return ExitCode.SERVER
