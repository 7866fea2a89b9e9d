"""The user accounts of the connected server for the async session (``session.users``).

The rows are read as ``xnat_sdk.users`` reads them (``users_by_login``, ``User``); only the
request is awaited. Read afresh on every call: there is no cache to go stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xnat_sdk.errors import XNATForbiddenError, XNATKeyError
from xnat_sdk.users import USERS_PATH, User, users_by_login

if TYPE_CHECKING:
    from xnat_sdk.aio.session import AsyncXNATSession


class AsyncUsers:
    """The accounts by login; a user who may not list accounts (403) sees none, as in the
    sync ``Users``."""

    def __init__(self, session: AsyncXNATSession, path: str = USERS_PATH) -> None:
        self._session = session
        self._path = path

    def __repr__(self) -> str:
        return f"<AsyncUsers {self._path} of {self._session.server}>"

    async def all(self) -> dict[str, User]:
        """Every account the listing holds, by login."""
        try:
            rows = await self._session.listing_rows(self._path, {})
        except XNATForbiddenError:
            rows = []
        return users_by_login(rows)

    async def get(self, login: str) -> User:
        """The account ``login``; ``XNATKeyError`` (a ``KeyError``) when there is none."""
        found = (await self.all()).get(login)
        if found is None:
            raise XNATKeyError(f"no user {login!r} in {self._path}")
        return found
