"""The user accounts of the connected server (``session.users``), read from ``/data/users``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xnat_sdk.errors import XNATForbiddenError

if TYPE_CHECKING:
    from xnat_sdk.session import XNATSession

#: The listing columns that become typed ``User`` attributes; the rest stay in ``User.data``.
_KNOWN = frozenset(
    {"xdat_user_id", "login", "email", "firstname", "lastname", "displayname", "GROUP_ID"}
)


@dataclass(frozen=True)
class User:
    """One account as the user listing describes it.

    ``access_level`` and ``group`` are filled when the listing is a project's (``displayname``,
    ``GROUP_ID``); ``data`` keeps every column, including those the server adds beyond these."""

    login: str
    id: int | None
    email: str
    first_name: str
    last_name: str
    access_level: str | None = None
    group: str | None = None
    data: Mapping[str, str] = field(default_factory=dict[str, str], compare=False, repr=False)

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> User:
        """The user of one row of ``/data/users``."""
        user_id = row.get("xdat_user_id", "")
        return cls(
            login=row.get("login", ""),
            id=int(user_id) if user_id.isdigit() else None,
            email=row.get("email", ""),
            first_name=row.get("firstname", ""),
            last_name=row.get("lastname", ""),
            access_level=row.get("displayname") or None,
            group=row.get("GROUP_ID") or None,
            data=dict(row),
        )

    @property
    def extra(self) -> dict[str, str]:
        """The columns the server sent beyond the typed attributes."""
        return {key: value for key, value in self.data.items() if key not in _KNOWN}

    def __str__(self) -> str:
        return f"{self.login} ({self.access_level})" if self.access_level else self.login


#: Every account of the site; a project's members are ``/data/projects/{id}/users``.
USERS_PATH = "/data/users"


def users_by_login(rows: Iterable[Mapping[str, str]]) -> dict[str, User]:
    """The accounts of a user listing's rows by login (rows without a login are left out)."""
    return {row["login"]: User.from_row(row) for row in rows if row.get("login")}


class Users(Mapping[str, User]):
    """The accounts by login. Read once and cached (``clearcache()`` reads again); a user who
    may not list accounts (403) sees none, as in xnatpy."""

    def __init__(self, session: XNATSession, path: str = USERS_PATH) -> None:
        self._session = session
        self._path = path
        self._users: dict[str, User] | None = None

    def __repr__(self) -> str:
        return f"<Users {sorted(self._data())}>"

    def _data(self) -> dict[str, User]:
        users = self._users if self._session.caching else None
        if users is None:
            try:
                rows = self._session.listing_rows(self._path, {})
            except XNATForbiddenError:
                rows = []
            users = users_by_login(rows)
            self._users = users
        return users

    def __getitem__(self, login: str) -> User:
        return self._data()[login]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def clearcache(self) -> None:
        """Forget the cached accounts."""
        self._users = None
