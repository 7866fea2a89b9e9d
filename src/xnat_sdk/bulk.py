"""Spreading work over Dask: bags of live typed objects, mapped on worker processes.

::

    from xnat_sdk import bulk

    scans = [scan for mr in project.experiments for scan in mr.scans]   # on the client
    summaries = bulk.map(summarise, scans, client=client)               # on the workers

Items travel as references (server config, URI, xsi:type, loaded fields) and arrive in each
worker as live objects of the same generated class, bound to the worker's one session for that
config (``SessionConfig.session()``: one login per worker process). The config is the items'
session's own ``SessionConfig`` when it was opened from one, else ``session.config()``, which
holds no secret: workers then log in with their netrc file or ``XNAT_USER``/``XNAT_PASS``.
Pass ``config=`` to choose (``session.config(include_secret=True)`` ships the secret).

Dask is an optional extra: ``pip install 'xnat-sdk[dask]'``. Dask itself is untyped; the
wrappers here keep the item type (``ObjectBag[T]``) so the functions mapped are type-checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar, cast, overload

try:
    import dask.bag as dask_bag
except ImportError as missing:  # pragma: no cover - the dev install always has Dask
    raise ImportError("xnat_sdk.bulk needs Dask: pip install 'xnat-sdk[dask]'") from missing

from xnat_sdk.config import SessionConfig
from xnat_sdk.errors import XNATValueError
from xnat_sdk.listing import Listing
from xnat_sdk.objects import FileData, XnatObject, as_reference, shipping_config
from xnat_sdk.search import Query

if TYPE_CHECKING:
    import dask.dataframe
    from distributed import Client

    from xnat_sdk._modelbase import XnatModel

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound="XnatModel")

#: The search result column holding the ID, by the root listing a search type lives in.
_SEARCH_ID_COLUMNS = {"projects": "id", "subjects": "subjectid", "experiments": "session_id"}


class ObjectBag(Generic[T]):
    """A ``dask.bag.Bag`` whose items are ``T``: ``map``/``filter`` keep the type."""

    def __init__(self, bag: dask_bag.Bag) -> None:
        self._bag = bag

    def __repr__(self) -> str:
        return f"<ObjectBag of {self.npartitions} partitions>"

    @property
    def bag(self) -> dask_bag.Bag:
        """The Dask bag itself, for operations not wrapped here (its items are ``T``)."""
        return self._bag

    @property
    def npartitions(self) -> int:
        """How many partitions (tasks) the items are split into."""
        return int(self._bag.npartitions)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]  # dask.bag is unannotated

    def map(self, fn: Callable[[T], R]) -> ObjectBag[R]:
        """``fn`` applied to every item, on the workers."""
        return ObjectBag(self._bag.map(fn))  # type: ignore[no-untyped-call]  # dask.bag is unannotated

    def map_many(self, fn: Callable[[T], Iterable[R]]) -> ObjectBag[R]:
        """``fn`` applied to every item and its results concatenated (a scan per session...)."""
        mapped = self._bag.map(fn)  # type: ignore[no-untyped-call]  # dask.bag is unannotated
        return ObjectBag(mapped.flatten())

    def filter(self, predicate: Callable[[T], bool]) -> ObjectBag[T]:
        """The items for which ``predicate`` is true (evaluated on the workers)."""
        return ObjectBag(self._bag.filter(predicate))  # type: ignore[no-untyped-call]  # dask.bag is unannotated

    def compute(self, client: Client | None = None) -> list[T]:
        """Run the graph and gather the items (on ``client``'s cluster when given, else on
        Dask's current scheduler: a ``distributed.Client`` in scope makes itself the default).
        """
        if client is None:
            result: object = self._bag.compute()  # type: ignore[no-untyped-call]  # dask.base is unannotated
        else:
            result = self._bag.compute(scheduler=client)  # type: ignore[no-untyped-call]  # dask.base is unannotated
        return cast("list[T]", result)


class _Shipped:
    """An object on its way to a worker: its pickle is a reference that unpickles there as the
    live object itself (bound to the worker's session for ``config``)."""

    __slots__ = ("config", "item")

    def __init__(self, item: XnatObject | FileData, config: SessionConfig) -> None:
        self.item = item
        self.config = config

    def __reduce__(self) -> tuple[object, ...]:
        return as_reference(self.item, self.config)


def _arrived(item: object) -> object:
    """The live object (a scheduler in this process pickles nothing: unwrap it here)."""
    return item.item if isinstance(item, _Shipped) else item


def _ship(
    item: object, config: SessionConfig | None, same: dict[SessionConfig, SessionConfig]
) -> object:
    """``item`` ready to travel; ``same`` makes equal configs one object, which pickle then
    writes once per partition instead of once per item."""
    if isinstance(item, (XnatObject, FileData)):
        chosen = config or shipping_config(item)
        if chosen is not None:
            return _Shipped(item, same.setdefault(chosen, chosen))
    return item  # a plain model or value travels as plain data


@overload
def bag_of(
    source: Query[M], *, npartitions: int | None = None, config: SessionConfig | None = None
) -> ObjectBag[M]: ...
@overload
def bag_of(
    source: Iterable[T], *, npartitions: int | None = None, config: SessionConfig | None = None
) -> ObjectBag[T]: ...
def bag_of(
    source: Query[M] | Iterable[T],
    *,
    npartitions: int | None = None,
    config: SessionConfig | None = None,
) -> ObjectBag[M] | ObjectBag[T]:
    """A bag of the live objects of a listing, a search or any iterable of objects.

    The listing or search is read here, in one request; each object then travels to a
    worker as a reference and arrives live (fields not in the listing row are fetched there,
    on first use). ``npartitions`` defaults to Dask's choice (about 100 items each).
    """
    if npartitions is not None and npartitions < 1:
        raise XNATValueError(f"npartitions must be at least 1, not {npartitions}")
    items: Sequence[object] = _search_items(source) if isinstance(source, Query) else list(source)
    same: dict[SessionConfig, SessionConfig] = {}
    shipped = [_ship(item, config, same) for item in items]
    bag: dask_bag.Bag = dask_bag.from_sequence(shipped, npartitions=npartitions)  # type: ignore[no-untyped-call]  # dask.bag is unannotated
    return ObjectBag(bag.map(_arrived))  # type: ignore[no-untyped-call]  # dask.bag is unannotated


@overload
def map(
    fn: Callable[[M], R],
    items: Query[M],
    *,
    client: Client | None = None,
    npartitions: int | None = None,
    config: SessionConfig | None = None,
) -> list[R]: ...
@overload
def map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    client: Client | None = None,
    npartitions: int | None = None,
    config: SessionConfig | None = None,
) -> list[R]: ...
def map(
    fn: Callable[[M], R] | Callable[[T], R],
    items: Query[M] | Iterable[T],
    *,
    client: Client | None = None,
    npartitions: int | None = None,
    config: SessionConfig | None = None,
) -> list[R]:
    """``[fn(item) for item in items]``, each call on a Dask worker with the item live there;
    ``items`` as ``bag_of`` takes them; results come back in their order. ``client`` is the
    cluster to use (default: Dask's current scheduler)."""
    bag = bag_of(items, npartitions=npartitions, config=config)
    # The overloads tie fn to the items' type; the union of both here cannot say so.
    return bag.map(cast("Callable[[object], R]", fn)).compute(client)


@overload
def dataframe(
    source: Query[M], columns: Sequence[str] | None = None, *, npartitions: int = 1
) -> dask.dataframe.DataFrame: ...
@overload
def dataframe(
    source: Listing[object], columns: Sequence[str] | None = None, *, npartitions: int = 1
) -> dask.dataframe.DataFrame: ...
def dataframe(
    source: Listing[object] | Query[M],
    columns: Sequence[str] | None = None,
    *,
    npartitions: int = 1,
) -> dask.dataframe.DataFrame:
    """A Dask dataframe of a listing's ``tabulate(columns)`` (every standard column without
    ``columns``) or of a search's result rows (``columns`` picks among them): one request,
    every value a string as XNAT gives it."""
    import dask.dataframe as dask_dataframe

    if columns is not None and not columns:
        raise XNATValueError("dataframe() needs at least one column (or None for all)")
    if isinstance(source, Query):
        rows: Sequence[Mapping[str, str]] = source.all()
        chosen = list(columns) if columns is not None else list(rows[0]) if rows else []
    else:
        rows = source.tabulate(columns)
        chosen = list(columns) if columns is not None else list(source.spec.columns)
    data = {column: [row.get(column, "") for row in rows] for column in chosen}
    frame = dask_dataframe.from_dict(data, npartitions=npartitions)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]  # dask.dataframe is unannotated
    return cast("dask.dataframe.DataFrame", frame)


def _search_items(query: Query[M]) -> list[M]:
    """The live objects a search found: its rows' IDs looked up in the site-wide listing of the
    root type (one more request), each of the concrete class its xsi:type names."""
    from xnat_sdk.models import ExperimentData, ProjectData, SubjectData

    model = query.model
    root = next(
        (
            name
            for name, base in (
                ("projects", ProjectData),
                ("subjects", SubjectData),
                ("experiments", ExperimentData),
            )
            if issubclass(model, base)
        ),
        None,
    )
    if root is None:
        raise XNATValueError(
            f"bag_of() makes objects of searches over projects, subjects and experiments, "
            f"not {model.__name__}: list them from their parent instead"
        )
    rows = query.all()
    column = _SEARCH_ID_COLUMNS[root]
    if rows and column not in rows[0]:
        raise XNATValueError(
            f"the search results have no {column!r} column (they have {sorted(rows[0])}): "
            f"ask for {model.__name__}.c.id"
        )
    session = query.session
    listing = session.listing_at_root(root, model)
    return [listing[row[column]] for row in rows]
