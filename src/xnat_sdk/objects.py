"""Live-object behaviour that every generated model inherits.

The generated classes (``ProjectData``, ``MrSessionData``, ...) are both the data and the live
handle, as in xnatpy: a model parsed from the server is bound to the session and the URI it came
from, and navigates from there (``project.subjects``). This module imports no I/O library: the
session is reached through the ``SessionLike`` protocol, so the emulator can use the generated
models as plain data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel, PrivateAttr

if TYPE_CHECKING:
    from xnat_sdk.listing import Listing

T = TypeVar("T")


class SessionLike(Protocol):
    """What a live object needs from the session that loaded it."""

    def listing_for(self, owner: XnatObject, name: str, item_type: type[T]) -> Listing[T]:
        """The listing called ``name`` ("subjects", "scans", "files", ...) below ``owner``."""
        ...


class DetachedObjectError(RuntimeError):
    """A navigation or write was attempted on a model that is not bound to a session."""


class XnatObject(BaseModel):
    """Base of every generated model: pydantic data plus an optional binding to a session."""

    _session: SessionLike | None = PrivateAttr(default=None)
    _uri: str | None = PrivateAttr(default=None)

    def _listing(self, name: str, item_type: type[T]) -> Listing[T]:
        if self._session is None:
            raise DetachedObjectError(
                f"{type(self).__name__}.{name} needs a session: this object was not loaded "
                "from a server"
            )
        return self._session.listing_for(self, name, item_type)


class FileData:
    """A file inside a resource (not an XSD type: files live in catalogs)."""
