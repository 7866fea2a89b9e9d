"""Where credentials come from: arguments, netrc, the environment or a prompt.

The order is xnatpy's: explicit arguments, then ``~/.netrc`` (or ``netrc_file``), then the
``XNAT_HOST``/``XNAT_USER``/``XNAT_PASS`` environment variables, else anonymous. A user without a
password is prompted for one only when a terminal is attached. Secrets never reach a repr.
"""

from __future__ import annotations

import getpass
import netrc
import os
import re
import stat
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from xnat_sdk.errors import XNATValueError

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True)
class Credentials:
    """A user name (or alias token) and its password (or secret); the secret is never shown."""

    user: str
    password: str = field(repr=False)

    @property
    def is_token(self) -> bool:
        """Alias tokens are UUIDs used as the user name, with the token's secret as password."""
        return bool(_UUID.match(self.user))


def resolve_server(server: str | None) -> str:
    """The server URL from the argument or ``XNAT_HOST``, with a scheme."""
    chosen = server or os.environ.get("XNAT_HOST")
    if not chosen:
        raise XNATValueError("no server given: pass server= or set XNAT_HOST")
    if "://" not in chosen:
        chosen = f"https://{chosen}"
    parts = urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise XNATValueError(f"server {chosen!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise XNATValueError("put credentials in user=/password= or netrc, not in the URL")
    return chosen.rstrip("/")


def resolve_credentials(
    server: str,
    user: str | None = None,
    password: str | None = None,
    netrc_file: str | os.PathLike[str] | None = None,
) -> Credentials | None:
    """The credentials to log in to ``server`` with, or ``None`` for anonymous access."""
    if user is not None and password is not None:
        return Credentials(user, password)
    host = urlsplit(server).hostname or ""
    from_netrc = _netrc_login(host, netrc_file)
    if from_netrc is not None and (user is None or user == from_netrc.user):
        return from_netrc
    env_user, env_password = os.environ.get("XNAT_USER"), os.environ.get("XNAT_PASS")
    if user is None and env_user:
        user = env_user
    if user is None:
        return None
    if password is None and env_password and user == env_user:
        password = env_password
    if password is None:
        password = _prompt(user, server)
    return Credentials(user, password)


def _netrc_login(host: str, netrc_file: str | os.PathLike[str] | None) -> Credentials | None:
    path = Path(netrc_file) if netrc_file is not None else Path.home() / ".netrc"
    if not path.is_file():
        if netrc_file is not None:
            raise XNATValueError(f"netrc file {path} does not exist")
        return None
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"netrc file {path} is readable by other users; chmod 600 it",
            UserWarning,
            stacklevel=3,
        )
    try:
        entry = netrc.netrc(os.fspath(path)).authenticators(host)
    except netrc.NetrcParseError as exc:
        raise XNATValueError(f"netrc file {path} cannot be parsed: {exc.msg}") from None
    if entry is None:
        return None
    login, _account, secret = entry
    if not login or secret is None:
        return None
    return Credentials(login, secret)


def _prompt(user: str, server: str) -> str:
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise XNATValueError(
            f"user {user!r} has no password and no terminal is attached to ask for one: "
            "pass password=, use a netrc file or set XNAT_PASS"
        )
    return getpass.getpass(f"Password for {user} at {server}: ")
