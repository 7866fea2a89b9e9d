"""Listing[T]: the typed collection behind ``session.projects``, ``subject.experiments``, ...

One GET of the listing's REST path (``?format=json``) gives every row; items are built from the
rows on demand as the concrete class named by the row's xsi:type. Lookup by ID, by secondary key
(label, name, scan type, file path) and by position, as xnatpy's ``XNATListing`` does.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Generic,
    Protocol,
    TypedDict,
    TypeVar,
    cast,
    overload,
    runtime_checkable,
)

from xnat_sdk.errors import XNATAmbiguousKeyError, XNATKeyError, XNATValueError

if TYPE_CHECKING:
    from xnat_sdk.config import SessionConfig
    from xnat_sdk.models import (
        AbstractResource,
        ExperimentData,
        ImageScanData,
        ProjectData,
        SubjectData,
    )
    from xnat_sdk.objects import FileData

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")
Row = Mapping[str, str]


@dataclass(frozen=True)
class ListingSpec:
    """How one kind of listing is addressed and keyed on the server."""

    path: str
    id_column: str
    secondary_column: str | None
    type_column: str | None
    #: The item field a new object is keyed by in its PUT path (label for most, ID for scans).
    create_key: str = "label"
    #: The standard columns of the listing (the keys of its typed row).
    columns: tuple[str, ...] = ()

    def key(self, row: Row) -> str:
        """The row's primary key; for files, the path inside the resource (from its URI)."""
        if self.id_column == "path":
            uri = row.get("URI", "")
            return uri.split("/files/", 1)[1] if "/files/" in uri else row.get("Name", "")
        return row.get(self.id_column, "")

    def keys(self, rows: Sequence[Row]) -> list[str]:
        """The primary keys of ``rows`` (``key`` of each, in one pass)."""
        if self.id_column == "path":
            return [self.key(row) for row in rows]
        column = self.id_column
        return [row.get(column, "") for row in rows]


class ProjectRow(TypedDict):
    """A row of ``/data/projects``."""

    ID: str
    secondary_ID: str
    name: str
    description: str
    pi_firstname: str
    pi_lastname: str
    URI: str


class SubjectRow(TypedDict):
    """A row of ``.../subjects``."""

    ID: str
    project: str
    label: str
    insert_date: str
    insert_user: str
    URI: str


class ExperimentRow(TypedDict):
    """A row of ``.../experiments`` (and assessors, reconstructions)."""

    ID: str
    project: str
    label: str
    xsiType: str
    date: str
    insert_date: str
    URI: str


class ScanRow(TypedDict):
    """A row of ``.../scans``."""

    ID: str
    xsiType: str
    type: str
    quality: str
    series_description: str
    note: str
    URI: str


class ResourceRow(TypedDict):
    """A row of ``.../resources``."""

    xnat_abstractresource_id: str
    label: str
    element_name: str
    category: str
    cat_id: str
    cat_desc: str
    format: str
    content: str
    tags: str
    file_count: str
    file_size: str


class FileRow(TypedDict):
    """A row of ``.../files``."""

    Name: str
    Size: str
    URI: str
    collection: str
    file_tags: str
    file_format: str
    file_content: str
    cat_ID: str
    digest: str


#: The listings XNAT serves below an object, by navigation name.
LISTING_SPECS: Mapping[str, ListingSpec] = {
    "projects": ListingSpec(
        "projects", "ID", "name", None, create_key="ID", columns=tuple(ProjectRow.__annotations__)
    ),
    "subjects": ListingSpec(
        "subjects", "ID", "label", None, columns=tuple(SubjectRow.__annotations__)
    ),
    "experiments": ListingSpec(
        "experiments", "ID", "label", "xsiType", columns=tuple(ExperimentRow.__annotations__)
    ),
    "scans": ListingSpec(
        "scans", "ID", "type", "xsiType", create_key="ID", columns=tuple(ScanRow.__annotations__)
    ),
    "assessors": ListingSpec(
        "assessors", "ID", "label", "xsiType", columns=tuple(ExperimentRow.__annotations__)
    ),
    "reconstructions": ListingSpec(
        "reconstructions",
        "ID",
        "label",
        "xsiType",
        create_key="ID",
        columns=tuple(ExperimentRow.__annotations__),
    ),
    "resources": ListingSpec(
        "resources",
        "xnat_abstractresource_id",
        "label",
        "element_name",
        columns=tuple(ResourceRow.__annotations__),
    ),
    "files": ListingSpec("files", "path", "Name", None, columns=tuple(FileRow.__annotations__)),
}


class ListingSource(Protocol):
    """What a listing needs from its session: rows, items built from rows, and writes."""

    @property
    def caching(self) -> bool: ...

    def listing_rows(self, uri: str, query: Mapping[str, str]) -> list[dict[str, str]]:
        """The rows of the listing at ``uri`` (``ResultSet.Result``), every value a string."""
        ...

    def item_from_row(self, row: dict[str, str], key: str, listing: Listing[T]) -> T:
        """The live object for ``row`` (keyed ``key`` in ``listing``), of the listing's item
        type or the subclass its xsi:type names."""
        ...

    def create_item(
        self,
        listing_uri: str,
        spec: ListingSpec,
        key: str,
        item_type: type[U],
        fields: Mapping[str, object],
    ) -> U:
        """PUT a new object of ``item_type`` at ``listing_uri/key`` and return it, live."""
        ...

    def add_item(self, listing_uri: str, key: str, obj: U) -> U:
        """PUT the model ``obj`` at ``listing_uri/key`` and return it, live."""
        ...


@runtime_checkable
class BatchListingSource(Protocol):
    """A ``ListingSource`` that also builds many items in one call (what iteration uses; a
    source without it gets ``item_from_row`` row by row)."""

    def items_from_rows(
        self, rows: Sequence[dict[str, str]], keys: Sequence[str], listing: Listing[T]
    ) -> list[T]:
        """The live objects for ``rows`` (keyed ``keys``) of ``listing``, in order."""
        ...


#: Per source class: whether it is a ``BatchListingSource`` (a runtime protocol check is slow).
_BATCHING: dict[type, bool] = {}

#: Rows built in the first batch of an iteration; each next batch is twice as big, so a loop
#: that stops early wastes at most what it used, and a whole pass over 100,000 rows is seven
#: batches (the collector, paused per batch, then runs a few times instead of ~100).
_FIRST_BATCH = 1000


def batches(rows: Sequence[dict[str, str]]) -> Iterator[Sequence[dict[str, str]]]:
    """``rows`` in consecutive slices of ``_FIRST_BATCH`` rows, each next one twice as big."""
    start, size = 0, _FIRST_BATCH
    while start < len(rows):
        yield rows[start : start + size]
        start, size = start + size, size * 2


def items_of_rows(
    rows: Sequence[dict[str, str]],
    keys: Sequence[str],
    items: dict[str, U],
    build: Callable[[Sequence[dict[str, str]], Sequence[str]], list[U]],
) -> list[U]:
    """The items of ``rows`` (keyed ``keys``): those in ``items`` already, the others made by
    one ``build`` call and added to ``items`` (of rows sharing a key, the first row's item
    counts). What iterating a listing, sync or async, does per batch."""
    todo_rows, todo_keys = rows, keys
    if not items.keys().isdisjoint(keys):  # some were built before (lookups, a pass)
        # two passes rather than (row, key) pairs: no tuple per row for the collector
        todo_rows = [row for row, key in zip(rows, keys, strict=True) if key not in items]
        todo_keys = [key for key in keys if key not in items]
    if not todo_keys:
        return [items[key] for key in keys]
    built = build(todo_rows, todo_keys)
    known = len(items)
    items.update(zip(todo_keys, built, strict=True))
    if len(items) - known == len(built):  # no key twice
        return built if len(built) == len(keys) else [items[key] for key in keys]
    first: dict[str, U] = {}
    for key, item in zip(todo_keys, built, strict=True):
        first.setdefault(key, item)
    items.update(first)
    return [items[key] for key in keys]


class Listing(Generic[T_co]):
    """A server-side collection of ``T_co``, indexable by ID, secondary key (label) and position."""

    def __init__(
        self,
        source: ListingSource,
        uri: str,
        item_type: type[T_co],
        spec: ListingSpec,
        filters: Mapping[str, str] | None = None,
    ) -> None:
        self._source = source
        self.uri = uri
        self.item_type = item_type
        self.spec = spec
        self.filters: dict[str, str] = dict(filters or {})
        self._rows: list[dict[str, str]] | None = None
        self._index: RowIndex | None = None
        self._items: dict[str, T_co] = {}

    def __repr__(self) -> str:
        shown = f" filtered by {self.filters}" if self.filters else ""
        return f"<Listing[{self.item_type.__name__}] {self.uri}{shown}>"

    def __reduce__(self) -> tuple[object, ...]:
        # Like its objects, a listing travels as a reference (config, URI, item type, filters)
        # when its session was opened from a SessionConfig; rows are fetched again on arrival.
        from xnat_sdk.objects import reference_config_of

        config = reference_config_of(self._source)
        if config is None:
            raise TypeError(
                f"{self!r} cannot be pickled: its session was not opened from a SessionConfig "
                "(use xnat_sdk.connect(config=session.config(...)))"
            )
        return (_live_listing, (config, self.uri, self.item_type, self.spec, self.filters))

    # -- rows ---------------------------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        """The raw listing rows (column -> string), after filtering."""
        if self._rows is not None and self._source.caching:
            return self._rows
        rows = self._fetch({"format": "json", **self.filters})
        self._rows = rows
        self._index = None
        self._items = {}
        return rows

    def _fetch(self, query: Mapping[str, str]) -> list[dict[str, str]]:
        """Rows from the server for ``query``, with this listing's filters applied again."""
        return filter_rows(self._source.listing_rows(self.uri, query), self.filters)

    def clearcache(self) -> None:
        """Forget the rows and items; the next access asks the server again."""
        self._rows = None
        self._index = None
        self._items = {}

    def _key_of(self, row: Row) -> str:
        return self.spec.key(row)

    def _item(self, row: dict[str, str]) -> T_co:
        key = self._key_of(row)
        item = self._items.get(key)
        if item is None:
            item = self._source.item_from_row(row, key, self)
            self._items[key] = item
        return item

    def _lookup(self) -> RowIndex:
        """An index of the rows by ID and by secondary key (built once per fetch)."""
        rows = self.rows()
        if self._index is None:
            self._index = RowIndex(rows, self.spec)
        return self._index

    def _find(self, key: str) -> dict[str, str]:
        return self._lookup().find(key, self.item_type, self.uri)

    # -- Mapping / Sequence behaviour ---------------------------------------------------------

    def __getitem__(self, key: int | str) -> T_co:
        if isinstance(key, int):
            return self._item(row_at(self.rows(), key, self.uri))
        return self._item(self._find(key))

    @overload
    def get(self, key: int | str) -> T_co | None: ...
    @overload
    def get(self, key: int | str, default: U) -> T_co | U: ...
    def get(self, key: int | str, default: U | None = None) -> T_co | U | None:
        """The item for ``key``, or ``default`` when there is none (ambiguity still raises)."""
        try:
            return self[key]
        except XNATAmbiguousKeyError:
            raise
        except XNATKeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._lookup()

    def __iter__(self) -> Iterator[T_co]:
        rows = self.rows()  # first: a fetch starts a new item cache
        items = self._items
        for batch in batches(rows):
            yield from self._items_for(batch, items)

    def _items_for(self, rows: Sequence[dict[str, str]], items: dict[str, T_co]) -> list[T_co]:
        return items_of_rows(rows, self.spec.keys(rows), items, self._build)

    def _build(self, rows: Sequence[dict[str, str]], keys: Sequence[str]) -> list[T_co]:
        source = self._source
        kind = type(source)
        batching = _BATCHING.get(kind)
        if batching is None:
            batching = _BATCHING[kind] = isinstance(source, BatchListingSource)
        if batching:
            return cast("BatchListingSource", source).items_from_rows(rows, keys, self)
        return [source.item_from_row(row, key, self) for row, key in zip(rows, keys, strict=True)]

    def __len__(self) -> int:
        return len(self.rows())

    def keys(self) -> list[str]:
        """The IDs of the items, in listing order."""
        return self.spec.keys(self.rows())

    def values(self) -> list[T_co]:
        """The items, in listing order."""
        return list(self)

    def items(self) -> list[tuple[str, T_co]]:
        """``(ID, item)`` pairs, in listing order."""
        rows = self.rows()
        return list(zip(self.spec.keys(rows), self._items_for(rows, self._items), strict=True))

    @property
    def listing(self) -> list[T_co]:
        """The items as a list (xnatpy's name)."""
        return list(self)

    # -- filter and tabulate ------------------------------------------------------------------

    def filter(self, filters: Mapping[str, str] | None = None, **kwargs: str) -> Listing[T_co]:
        """A new listing restricted to rows whose columns match (``*`` and ``?`` wildcards).

        The filters are sent to the server as query parameters (XNAT filters where it can) and
        applied again to the answer, so the result is the same either way.
        """
        merged = merge_filters(self.filters, {**(filters or {}), **kwargs})
        return Listing(self._source, self.uri, self.item_type, self.spec, merged)

    @overload
    def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: Listing[ProjectData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ProjectRow]: ...
    @overload
    def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: Listing[SubjectData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[SubjectRow]: ...
    @overload
    def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: Listing[ExperimentData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ExperimentRow]: ...
    @overload
    def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: Listing[ImageScanData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ScanRow]: ...
    @overload
    def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: Listing[AbstractResource],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[ResourceRow]: ...
    @overload
    def tabulate(  # type: ignore[overload-overlap]  # typed rows first, generic last
        self: Listing[FileData],
        columns: None = None,
        filter: Mapping[str, str] | None = None,
    ) -> list[FileRow]: ...
    @overload
    def tabulate(
        self, columns: Sequence[str] | None = None, filter: Mapping[str, str] | None = None
    ) -> list[dict[str, str]]: ...
    def tabulate(
        self, columns: Sequence[str] | None = None, filter: Mapping[str, str] | None = None
    ) -> Sequence[Mapping[str, object]]:
        """The listing as rows of the chosen ``columns``. Without ``columns``, rows of the
        standard listings are typed (``ProjectRow``, ``SubjectRow``, ...) with every standard
        column present (``""`` when the server has no value, as XNAT does), so a misspelt
        column in ``row["lable"]`` is a type error."""
        listing = self.filter(filter) if filter else self
        rows = listing.rows()
        if columns is not None and lacks_columns(rows, columns):
            rows = listing._fetch(columns_query(columns, listing.filters))
        return tabulated(rows, self.spec, columns)

    def tabulate_pandas(self, columns: Sequence[str] | None = None) -> object:
        """The listing as a ``pandas.DataFrame`` (needs pandas installed)."""
        try:
            pandas = importlib.import_module("pandas")
        except ImportError as exc:
            raise XNATValueError("tabulate_pandas() needs pandas: pip install pandas") from exc
        frame: object = pandas.DataFrame(self.tabulate(columns))
        return frame

    # -- creation -----------------------------------------------------------------------------

    def create(self, key: str, **fields: object) -> T_co:
        """Create a new item keyed ``key`` (its label; its ID for projects and scans).

        The fields are validated against the model before anything is sent.
        """
        return self.create_as(self.item_type, key, **fields)

    def create_as(self, type_: type[U], key: str, **fields: object) -> U:
        """Create a new item of the concrete class ``type_`` (``MrSessionData`` under
        ``subject.experiments``), keyed ``key``."""
        if not _is_subclass(type_, self.item_type):
            raise XNATValueError(
                f"{type_.__name__} cannot be created in a listing of {self.item_type.__name__}"
            )
        self.clearcache()
        return self._source.create_item(self.uri, self.spec, key, type_, fields)

    def add(self, obj: U) -> U:
        """Store the model ``obj`` (built with its constructor) in this listing; return it live."""
        if not _is_subclass(type(obj), self.item_type):
            raise XNATValueError(
                f"{type(obj).__name__} cannot be added to a listing of {self.item_type.__name__}"
            )
        key_field = self.spec.create_key.lower()
        key = getattr(obj, key_field, None) or getattr(obj, "label", None)
        if not isinstance(key, str) or not key:
            raise XNATValueError(f"{type(obj).__name__} needs a {key_field} to be stored")
        self.clearcache()
        return self._source.add_item(self.uri, key, obj)


# -- rules on rows, shared by Listing and the async listing (xnat_sdk.aio) ---------------------


def _matches(row: Row, filters: Mapping[str, str]) -> bool:
    """Whether ``row`` fits ``filters``; a column the server did not return is not judged."""
    return all(
        column not in row or fnmatch.fnmatchcase(row[column], pattern)
        for column, pattern in filters.items()
    )


def filter_rows(rows: list[dict[str, str]], filters: Mapping[str, str]) -> list[dict[str, str]]:
    """The rows that fit ``filters`` (applied again to what the server answered)."""
    if not filters:
        return rows
    return [row for row in rows if _matches(row, filters)]


def merge_filters(current: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``current`` and ``extra`` together; a column asked to match two patterns is an error."""
    for column, value in extra.items():
        if column in current and current[column] != value:
            raise XNATValueError(
                f"filter {column}={value!r} conflicts with {column}={current[column]!r}"
            )
    return {**current, **extra}


def row_at(rows: Sequence[dict[str, str]], position: int, uri: str) -> dict[str, str]:
    """The row at ``position`` (negative from the end), or ``XNATKeyError`` saying why not."""
    try:
        return rows[position]
    except IndexError:
        raise XNATKeyError(f"position {position} is outside {uri} ({len(rows)} items)") from None


def lacks_columns(rows: Sequence[Row], columns: Sequence[str]) -> bool:
    """True when the rows held do not have every column asked for (ask the server for them)."""
    return bool(rows) and any(column not in rows[0] for column in columns)


def columns_query(columns: Sequence[str], filters: Mapping[str, str]) -> dict[str, str]:
    """The listing query that asks the server for ``columns``."""
    return {"format": "json", "columns": ",".join(columns), **filters}


def tabulated(
    rows: Sequence[Row], spec: ListingSpec, columns: Sequence[str] | None
) -> list[dict[str, str]]:
    """Rows shaped for ``tabulate``: the chosen ``columns``, or every standard column of the
    listing (``""`` where the server has no value)."""
    if columns is None:
        # XNAT's rows hold every standard column: then a row is copied as it is (a copy, so the
        # rows the listing holds stay its own); only a short row is completed with "".
        standard, needed = dict.fromkeys(spec.columns, ""), frozenset(spec.columns)
        return [dict(row) if row.keys() >= needed else {**standard, **row} for row in rows]
    return [{column: row.get(column, "") for column in columns} for row in rows]


class RowIndex:
    """The rows of one fetch indexed by ID and by secondary key (label, name, ...)."""

    def __init__(self, rows: Sequence[dict[str, str]], spec: ListingSpec) -> None:
        self._rows = rows
        self._spec = spec
        self._by_id: dict[str, dict[str, str]] = {}
        self._by_secondary: dict[str, list[dict[str, str]]] = {}
        column = spec.secondary_column
        for row in rows:
            if column is not None and row.get(column):
                self._by_secondary.setdefault(row[column], []).append(row)
            self._by_id.setdefault(spec.key(row), row)

    def __contains__(self, key: object) -> bool:
        return key in self._by_id or key in self._by_secondary

    def find(self, key: str, item_type: type[object], uri: str) -> dict[str, str]:
        """The row whose ID is ``key``, else the one row whose secondary key is ``key``;
        ``XNATAmbiguousKeyError`` when several share it, ``XNATKeyError`` naming the known IDs
        when none has it."""
        by_id = self._by_id.get(key)
        if by_id is not None:
            return by_id
        matches = self._by_secondary.get(key, [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise XNATAmbiguousKeyError(key, [self._spec.key(row) for row in matches])
        known = ", ".join(self._spec.key(row) for row in self._rows[:20])
        more = ", ..." if len(self._rows) > 20 else ""
        raise XNATKeyError(f"{item_type.__name__} {key!r} is not in {uri} (known: {known}{more})")


def _is_subclass(cls: type, base: type) -> bool:
    """``issubclass`` without narrowing the caller's type variable."""
    return issubclass(cls, base)


def _live_listing(
    config: SessionConfig,
    uri: str,
    item_type: type[T],
    spec: ListingSpec,
    filters: Mapping[str, str],
) -> Listing[T]:
    """Unpickle a listing reference onto this process's shared session for ``config`` (logged
    in when first used)."""
    from xnat_sdk.objects import DeferredSession

    return Listing(DeferredSession.for_config(config), uri, item_type, spec, filters)
