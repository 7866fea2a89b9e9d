"""AsyncListing[T]: ``Listing[T]`` for the async session, one request per listing object.

The rules on rows (filters, index by ID and label, typed tabulate rows, rows -> objects) are
``xnat_sdk.listing``'s and ``xnat_sdk.parsing``'s; only the fetch is awaited. A listing fetches
its rows once (``async for``, ``all()``, ``get()``, ``tabulate()``) and keeps them; ``refresh()``
asks again. ``len()`` works once the rows are held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar, overload

from xnat_sdk.aio._bound import XNATAsyncUsageError
from xnat_sdk.errors import (
    XNATAmbiguousKeyError,
    XNATConflictError,
    XNATKeyError,
    XNATNotFoundError,
    XNATValueError,
)
from xnat_sdk.listing import (
    ExperimentRow,
    FileRow,
    ListingSpec,
    ProjectRow,
    ResourceRow,
    RowIndex,
    ScanRow,
    SubjectRow,
    batches,
    columns_query,
    filter_rows,
    items_of_rows,
    lacks_columns,
    merge_filters,
    row_at,
    tabulated,
)
from xnat_sdk.parsing import checked, elsewhere_message, new_model, store_query

if TYPE_CHECKING:
    from xnat_sdk.aio.session import AsyncXNATSession
    from xnat_sdk.models import (
        AbstractResource,
        ExperimentData,
        ImageScanData,
        ProjectData,
        SubjectData,
    )
    from xnat_sdk.objects import FileData

T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")


class _Missing:
    """The absent ``default`` of ``AsyncListing.get``."""


_MISSING = _Missing()


class AsyncListing(Generic[T_co]):
    """A server-side collection of ``T_co`` read with ``await``/``async for``."""

    def __init__(
        self,
        session: AsyncXNATSession,
        uri: str,
        item_type: type[T_co],
        spec: ListingSpec,
        filters: Mapping[str, str] | None = None,
    ) -> None:
        self._session = session
        self.uri = uri
        self.item_type = item_type
        self.spec = spec
        self.filters: dict[str, str] = dict(filters or {})
        self._rows: list[dict[str, str]] | None = None
        self._index: RowIndex | None = None
        self._items: dict[str, T_co] = {}

    def __repr__(self) -> str:
        shown = f" filtered by {self.filters}" if self.filters else ""
        return f"<AsyncListing[{self.item_type.__name__}] {self.uri}{shown}>"

    # -- rows ---------------------------------------------------------------------------

    async def rows(self) -> list[dict[str, str]]:
        """The raw rows (column -> string) after filtering: fetched once, then held."""
        if self._rows is None:
            self._rows = await self._fetch({"format": "json", **self.filters})
            self._index = None
            self._items = {}
        return self._rows

    async def refresh(self) -> list[dict[str, str]]:
        """Forget the held rows and fetch them again."""
        self._rows = None
        return await self.rows()

    async def _fetch(self, query: Mapping[str, str]) -> list[dict[str, str]]:
        return filter_rows(await self._session.listing_rows(self.uri, query), self.filters)

    def _item(self, row: dict[str, str]) -> T_co:
        key = self.spec.key(row)
        item = self._items.get(key)
        if item is None:
            item = self._session.item_from_row(row, key, self)
            self._items[key] = item
        return item

    async def _lookup(self) -> RowIndex:
        rows = await self.rows()
        if self._index is None:
            self._index = RowIndex(rows, self.spec)
        return self._index

    # -- reading ------------------------------------------------------------------------

    async def __aiter__(self) -> AsyncIterator[T_co]:
        rows = await self.rows()  # first: a fetch starts a new item cache
        items = self._items
        for batch in batches(rows):
            for item in self._items_for(batch, items):
                yield item

    def _items_for(self, rows: Sequence[dict[str, str]], items: dict[str, T_co]) -> list[T_co]:
        return items_of_rows(rows, self.spec.keys(rows), items, self._build)

    def _build(self, rows: Sequence[dict[str, str]], keys: Sequence[str]) -> list[T_co]:
        return self._session.items_from_rows(rows, keys, self)

    def __len__(self) -> int:
        if self._rows is None:
            raise XNATAsyncUsageError(
                f"len() of {self.uri} needs its rows: `await listing.rows()` (or all()) first"
            )
        return len(self._rows)

    async def all(self) -> list[T_co]:
        """Every item, in listing order."""
        rows = await self.rows()
        return self._items_for(rows, self._items)

    async def keys(self) -> list[str]:
        """The IDs of the items, in listing order."""
        return [self.spec.key(row) for row in await self.rows()]

    async def contains(self, key: str) -> bool:
        """Whether an item has ``key`` as its ID or secondary key (label, name, ...)."""
        return key in await self._lookup()

    @overload
    async def get(self, key: int | str) -> T_co: ...
    @overload
    async def get(self, key: int | str, default: U) -> T_co | U: ...
    async def get(self, key: int | str, default: object = _MISSING) -> object:
        """The item at position ``key`` (an int) or with ID or secondary key ``key``, as
        ``listing[key]`` of the sync API: ``XNATKeyError`` naming the known IDs when there is
        none, unless a ``default`` is given. Ambiguous labels always raise."""
        try:
            if isinstance(key, int):
                return self._item(row_at(await self.rows(), key, self.uri))
            return self._item((await self._lookup()).find(key, self.item_type, self.uri))
        except XNATAmbiguousKeyError:
            raise
        except XNATKeyError:
            if default is _MISSING:
                raise
            return default

    # -- filter and tabulate ------------------------------------------------------------

    def filter(self, filters: Mapping[str, str] | None = None, **kwargs: str) -> AsyncListing[T_co]:
        """A new listing restricted to rows whose columns match (``*``/``?`` wildcards), sent
        to the server and applied again to its answer, as ``Listing.filter``."""
        merged = merge_filters(self.filters, {**(filters or {}), **kwargs})
        return AsyncListing(self._session, self.uri, self.item_type, self.spec, merged)

    @overload
    async def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: AsyncListing[ProjectData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ProjectRow]: ...
    @overload
    async def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: AsyncListing[SubjectData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[SubjectRow]: ...
    @overload
    async def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: AsyncListing[ExperimentData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ExperimentRow]: ...
    @overload
    async def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: AsyncListing[ImageScanData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ScanRow]: ...
    @overload
    async def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: AsyncListing[AbstractResource],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ResourceRow]: ...
    @overload
    async def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: AsyncListing[FileData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[FileRow]: ...
    @overload
    async def tabulate(
        self, columns: Sequence[str] | None = None, filter: Mapping[str, str] | None = None
    ) -> list[dict[str, str]]: ...
    async def tabulate(
        self, columns: Sequence[str] | None = None, filter: Mapping[str, str] | None = None
    ) -> Sequence[Mapping[str, object]]:
        """The listing as rows of the chosen ``columns`` (typed rows of the standard listings
        without ``columns``), as ``Listing.tabulate``."""
        listing = self.filter(filter) if filter else self
        rows = await listing.rows()
        if columns is not None and lacks_columns(rows, columns):
            rows = await listing._fetch(columns_query(columns, listing.filters))
        return tabulated(rows, self.spec, columns)

    # -- creation -----------------------------------------------------------------------

    async def create(self, key: str, **fields: object) -> T_co:
        """Create an item keyed ``key`` (validated before anything is sent); return it loaded."""
        return await self.create_as(self.item_type, key, **fields)

    async def create_as(self, type_: type[U], key: str, **fields: object) -> U:
        """Create an item of the concrete class ``type_`` keyed ``key``; return it loaded."""
        if not _fits(type_, self.item_type):
            raise XNATValueError(
                f"{type_.__name__} cannot be created in a listing of {self.item_type.__name__}"
            )
        model = new_model(type_, self.spec, key, fields)
        uri = f"{self.uri}/{key}"
        stored = await self._session.put(uri, query=store_query(model, key))
        self._rows = None
        try:
            loaded = await self._session.object_at(uri)
        except XNATNotFoundError:
            raise XNATConflictError(
                "PUT", str(stored.request.url), stored.status_code, elsewhere_message(key, uri)
            ) from None
        return checked(loaded, type_, uri)


def _fits(cls: type, base: type) -> bool:
    """``issubclass`` without narrowing the caller's type variable."""
    return issubclass(cls, base)
