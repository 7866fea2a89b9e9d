"""What models loaded by an ``AsyncXNATSession`` are bound to: a session that never blocks.

Generated navigation (``project.subjects``) and lazy fields are synchronous by nature. On an
async-bound object, navigation still works (it builds a listing description without I/O, which
``session.listing(...)`` turns into an ``AsyncListing``), but anything that would need a request
raises ``XNATAsyncUsageError`` naming the ``await`` to use instead, so the event loop is never
blocked by hidden I/O.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from xnat_sdk.errors import XNATError, XNATValueError
from xnat_sdk.listing import LISTING_SPECS, Listing, ListingSpec
from xnat_sdk.objects import XnatObject

if TYPE_CHECKING:
    from xnat_sdk.aio.session import AsyncXNATSession

T = TypeVar("T")
U = TypeVar("U")


class XNATAsyncUsageError(XNATError, RuntimeError):
    """A synchronous access on an object of an async session would block the event loop."""


class AsyncBound:
    """The ``SessionLike`` and ``ListingSource`` of async-loaded objects: descriptions only."""

    def __init__(self, session: AsyncXNATSession) -> None:
        self._session = session
        self._preloaded: dict[str, XnatObject] = {}
        self._recorded: list[tuple[str, dict[str, str]]] | None = None

    def __repr__(self) -> str:
        return f"<AsyncBound {self._session!r}>"

    def _refuse(self, what: str, instead: str) -> XNATAsyncUsageError:
        return XNATAsyncUsageError(
            f"{what} would block: it belongs to an AsyncXNATSession; use {instead}"
        )

    # -- no I/O: allowed ------------------------------------------------------------------

    @property
    def caching(self) -> bool:
        return False

    def listing_for(self, owner: XnatObject, name: str, item_type: type[T]) -> Listing[T]:
        """A description of the listing (no request); read it with ``session.listing(...)``."""
        spec = LISTING_SPECS.get(name)
        if spec is None:
            raise XNATValueError(f"{type(owner).__name__} has no listing called {name!r}")
        return Listing(self, f"{owner.uri}/{spec.path}", item_type, spec)

    def external_url(self, uri: str, query: Mapping[str, str] | None = None) -> str:
        return self._session.external_url(uri, query)

    def forget(self, uri: str) -> None:
        """Nothing to forget: async listings keep their rows per listing object only."""

    def preload(self, uri: str, loaded: XnatObject) -> None:
        """Hand ``loaded`` (fetched by the async session) to the next ``load_item(uri)``, so
        ``XnatObject.fetch`` fills an object in place without I/O."""
        self._preloaded[uri] = loaded

    @contextmanager
    def recording(self) -> Generator[list[tuple[str, dict[str, str]]]]:
        """Within the block, field writes (``XnatObject.mset``: validated, as xpath queries)
        are collected for the async session to send, instead of refused."""
        recorded: list[tuple[str, dict[str, str]]] = []
        self._recorded = recorded
        try:
            yield recorded
        finally:
            self._recorded = None

    def load_item(self, uri: str) -> XnatObject:
        loaded = self._preloaded.pop(uri, None)
        if loaded is None:
            raise self._refuse(
                f"loading {uri} (a field the listing row did not hold)",
                "`await session.load(obj)` first",
            )
        return loaded

    # -- I/O: refused ---------------------------------------------------------------------

    def listing_rows(self, uri: str, query: Mapping[str, str]) -> list[dict[str, str]]:
        raise self._refuse(f"reading the listing {uri}", "`session.listing(obj.<listing>)`")

    def item_from_row(self, row: dict[str, str], key: str, listing: Listing[T]) -> T:
        raise self._refuse(f"reading the listing {listing.uri}", "`session.listing(...)`")

    def create_item(
        self,
        listing_uri: str,
        spec: ListingSpec,
        key: str,
        item_type: type[U],
        fields: Mapping[str, object],
    ) -> U:
        raise self._refuse(f"creating {listing_uri}/{key}", "`await session.listing(...).create`")

    def add_item(self, listing_uri: str, key: str, obj: U) -> U:
        raise self._refuse(f"storing {listing_uri}/{key}", "`await session.listing(...).create`")

    def load_custom_fields(self, uri: str) -> dict[str, str]:
        raise self._refuse(f"reading the custom fields of {uri}", "`await session.get_json(uri)`")

    def write_fields(self, uri: str, query: Mapping[str, str]) -> None:
        if self._recorded is None:
            raise self._refuse(f"writing fields of {uri}", "`await session.set(obj, ...)`")
        self._recorded.append((uri, dict(query)))

    def delete_object(self, uri: str, *, remove_files: bool) -> None:
        raise self._refuse(f"deleting {uri}", "`await session.delete(obj.uri)`")

    def download_to(self, uri: str, target: Path, expected_md5: str | None = None) -> Path:
        raise self._refuse(f"downloading {uri}", "`await session.download(obj, path)`")

    def read_bytes(self, uri: str) -> bytes:
        raise self._refuse(f"reading {uri}", "`await session.read_bytes(obj)`")
