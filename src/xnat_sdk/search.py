"""Typed search queries, in the spirit of xnatpy's ``search`` module.

::

    query = session.search(MrSessionData).filter(
        MrSessionData.c.date >= datetime.date(2024, 1, 1),
        MrSessionData.c.label.like("MR%") | (MrSessionData.c.project == "P1"),
    )
    rows = query.columns(MrSessionData.c.label, MrSessionData.c.date).all()

Why ``MrSessionData.c.date`` and not ``MrSessionData.date`` (as the issue and xnatpy write it):
on a pydantic model, ``MrSessionData.date`` is the *instance* field to a type checker, typed
``datetime.date | None``, so ``MrSessionData.date > day`` would be checked as a date comparison
(an error on the ``None`` branch, a ``bool`` result) and a misspelt name would not be caught as
a column; at run time pydantic keeps no class attribute for a field at all. Giving the class
attributes a second meaning would break both, so the columns live in their own namespace,
``c``, as SQLAlchemy's ``Table.c`` does.

``Model.c`` holds the model's search columns, typed per generated class (the generated
``_generated/columns_<prefix>.py`` modules, seen only by type checkers): a misspelt field or a
value of the wrong type is a mypy/pyright error. At run time ``Columns`` builds the same columns
from the model's own field table on first use, by the rule of ``codegen.render_columns``.

The query is sent as XNAT's search document, ``POST /data/search``: an ``xdat:bundle``
(``xdat:stored_search`` in security.xsd) with ``root_element_name``, one ``search_field``
(``element_name``, ``field_ID``, ``sequence``, ``type``, ``header``) per column and a
``search_where`` ``criteria_set`` (``method`` AND/OR) of ``criteria`` (``schema_field``,
``comparison_type``, ``value``) and nested ``child_set``\\ s. It is written with the generated
``xdat`` models, so it validates against that schema. How the server reads a criterion (an xpath
``type/path`` is tried as a display field, then as a schema field; ``IS NULL``/``IS NOT NULL``
take no value): XNAT's ``org.nrg.xdat.om.XdatCriteria.buildDisplaySearchCriteria`` (NrgXnat/xnat).
Its SQL (``DisplayCriteria.handleValues``) makes ``!=`` match a missing value too, ``== ""`` mean
``IS NULL`` and ``== "*"`` mean ``IS NOT NULL``; ``LIKE`` compares lower case.
Dates are sent as ``MM/DD/YYYY`` as xnatpy 0.8.1 does against real servers.

Result rows are ``dict[str, str]`` keyed by the server's column names: XNAT names a column
after the display field of the requested xpath in lower case (``session_id``/``subjectid``/``id``
for ``ID``, ``label``, ``project``, ``subject_id``, ``date``; other fields: the path with ``/``
as ``_``, e.g. ``scanner_manufacturer``); every value is a string (``""`` when missing), and
each column's ``parse`` turns a cell into its typed value (``MrSessionData.c.date.parse(
row["date"])`` is a ``datetime.date | None``).
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeAlias, TypeVar, cast

from xnat_sdk.errors import XNATResponseError, XNATValueError

if TYPE_CHECKING:
    from xnat_sdk._modelbase import ScalarKind, XnatModel
    from xnat_sdk.models import XdatCriteriaSet
    from xnat_sdk.session import XNATSession

T = TypeVar("T")
S = TypeVar("S", bound=str)
M = TypeVar("M", bound="XnatModel")

Comparison: TypeAlias = Literal[
    "=", "!=", "<", "<=", ">", ">=", "LIKE", "NOT LIKE", "IS NULL", "IS NOT NULL"
]
Method: TypeAlias = Literal["AND", "OR"]
#: One result row: server column name -> value (see the module docstring for the names).
SearchRow: TypeAlias = dict[str, str]


class SearchError(XNATValueError):
    """A query that cannot be built: an unknown column, or a value of the wrong type."""


# -- constraints -------------------------------------------------------------------------------
class _Combinable:
    """``&`` and ``|`` of constraints, as xnatpy's constraints combine."""

    def __and__(self, other: Constraint) -> CriteriaGroup:
        return and_(cast("Constraint", self), other)

    def __or__(self, other: Constraint) -> CriteriaGroup:
        return or_(cast("Constraint", self), other)


@dataclass(frozen=True)
class Criterion(_Combinable):
    """One ``xdat:criteria``: ``schema_field`` compared with a value (already in its lexical
    form)."""

    xpath: str
    comparison: Comparison
    value: str = ""


@dataclass(frozen=True)
class CriteriaGroup(_Combinable):
    """A ``child_set``: every item (AND) or any item (OR) must hold."""

    method: Method
    items: tuple[Constraint, ...]


Constraint: TypeAlias = "Criterion | CriteriaGroup"


def _checked(constraint: object) -> Constraint:
    if not isinstance(constraint, (Criterion, CriteriaGroup)):
        raise SearchError(
            f"not a search constraint: {constraint!r} (compare a column of Model.c with a "
            "value of its type)"
        )
    return constraint


def _checked_column(column: object) -> Column:
    if not isinstance(column, Column):
        raise SearchError(f"not a search column: {column!r} (use Model.c.<field>)")
    return column


def _group(method: Method, constraints: tuple[Constraint, ...]) -> CriteriaGroup:
    if not constraints:
        raise SearchError(f"{method.lower()}_() needs at least one constraint")
    items: list[Constraint] = []
    for constraint in map(_checked, constraints):
        # (a & b) & c is one AND of three, as XNAT would evaluate it anyway.
        if isinstance(constraint, CriteriaGroup) and constraint.method == method:
            items.extend(constraint.items)
        else:
            items.append(constraint)
    return CriteriaGroup(method, tuple(items))


def and_(*constraints: Constraint) -> CriteriaGroup:
    """Every constraint must hold."""
    return _group("AND", constraints)


def or_(*constraints: Constraint) -> CriteriaGroup:
    """At least one constraint must hold."""
    return _group("OR", constraints)


# -- columns -----------------------------------------------------------------------------------
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "json": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "date": (_dt.date,),
    "datetime": (_dt.datetime,),
    "time": (_dt.time,),
}


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError(text)
    return lowered in ("true", "1")


def _parse_date(text: str) -> _dt.date:
    """ISO (how XNAT's JSON writes dates) or ``MM/DD/YYYY``; a time part is ignored."""
    day = text.split(" ", 1)[0]
    if "/" in day:
        return _dt.datetime.strptime(day, "%m/%d/%Y").date()
    return _dt.date.fromisoformat(day)


def _with_microseconds(text: str) -> str:
    """``10:00:00.0`` -> ``10:00:00.000000`` (Python 3.10's ``fromisoformat`` wants 3 or 6
    digits)."""
    whole, dot, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(6, '0')[:6]}" if dot and fraction.isdigit() else text


#: Result cell text -> Python value, per value kind (XNAT writes ``2024-03-05 10:00:00.0``).
_PARSERS: dict[str, Callable[[str], object]] = {
    "str": str,
    "json": str,
    "int": lambda text: int(float(text)) if text.endswith(".0") else int(text),
    "float": float,
    "bool": _parse_bool,
    "date": _parse_date,
    "datetime": lambda text: _dt.datetime.fromisoformat(_with_microseconds(text)),
    "time": lambda text: _dt.time.fromisoformat(_with_microseconds(text)),
}
#: The ``xdat:search_field/type`` of each value kind.
_SEARCH_TYPES = {"int": "integer", "float": "float", "bool": "boolean", "date": "date"}


class Column:
    """One searchable field of a root type: its xpath and the kind of its values."""

    __slots__ = ("kind", "xpath")

    def __init__(self, xpath: str, kind: ScalarKind) -> None:
        self.xpath = xpath
        self.kind: ScalarKind = kind

    @property
    def element(self) -> str:
        """The xsi:type the xpath starts at (``xnat:mrSessionData``)."""
        return self.xpath.split("/", 1)[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.xpath} ({self.kind})>"

    def __hash__(self) -> int:
        return hash(self.xpath)


class SearchField(Column, Generic[T]):
    """A column whose values are ``T``: compare it with a ``T`` to get a ``Criterion``."""

    __slots__ = ()

    def __eq__(self, value: T) -> Criterion:  # type: ignore[override]  # builds a criterion, as in xnatpy
        return self._criterion("=", value)

    def __ne__(self, value: T) -> Criterion:  # type: ignore[override]  # builds a criterion, as in xnatpy
        return self._criterion("!=", value)

    def __lt__(self, value: T) -> Criterion:
        return self._criterion("<", value)

    def __le__(self, value: T) -> Criterion:
        return self._criterion("<=", value)

    def __gt__(self, value: T) -> Criterion:
        return self._criterion(">", value)

    def __ge__(self, value: T) -> Criterion:
        return self._criterion(">=", value)

    __hash__ = Column.__hash__

    def is_null(self) -> Criterion:
        """The field has no value."""
        return Criterion(self.xpath, "IS NULL")

    def not_null(self) -> Criterion:
        """The field has a value."""
        return Criterion(self.xpath, "IS NOT NULL")

    def in_(self, values: Iterable[T]) -> CriteriaGroup:
        """Equal to one of ``values`` (an OR of ``=`` criteria: XNAT's XML has no ``IN``)."""
        criteria = tuple(self == value for value in values)
        if not criteria:
            raise SearchError(f"{self.xpath}: in_() needs at least one value")
        return CriteriaGroup("OR", criteria)

    def parse(self, cell: str) -> T | None:
        """A result cell of this column as its Python value (``None`` for an empty cell):
        ``MrSessionData.c.date.parse(row["date"])`` is a ``datetime.date``."""
        text = cell.strip()
        if not text:
            return None
        try:
            value = _PARSERS[self.kind](text)
        except ValueError:
            raise SearchError(f"{self.xpath}: {cell!r} is not a valid {self.kind} value") from None
        return cast("T", value)

    def _criterion(self, comparison: Comparison, value: object) -> Criterion:
        return Criterion(self.xpath, comparison, self._lexical(value))

    def _lexical(self, value: object) -> str:
        expected = _PYTHON_TYPES[self.kind]
        wrong_bool = isinstance(value, bool) and self.kind in ("int", "float")
        if not isinstance(value, expected) or wrong_bool:
            names = " or ".join(kind.__name__ for kind in expected)
            raise SearchError(
                f"{self.xpath} compares with {names} values, not {type(value).__name__} ({value!r})"
            )
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, _dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, _dt.date):
            return value.strftime("%m/%d/%Y")
        if isinstance(value, _dt.time):
            return value.isoformat()
        return str(value)


class TextField(SearchField[S]):
    """A text column: besides the comparisons, SQL ``LIKE`` patterns (``%`` any run, ``_`` one
    character; case-insensitive on XNAT)."""

    __slots__ = ()

    def like(self, pattern: str) -> Criterion:
        """The value matches ``pattern``."""
        return self._criterion("LIKE", pattern)

    def not_like(self, pattern: str) -> Criterion:
        """The value does not match ``pattern``."""
        return self._criterion("NOT LIKE", pattern)

    def _lexical(self, value: object) -> str:
        if not isinstance(value, str):
            raise SearchError(
                f"{self.xpath} compares with str values, not {type(value).__name__} ({value!r})"
            )
        return value


class Columns:
    """The search columns of one model class (``MrSessionData.c``), built on first use.

    A field is a column when it holds one simple value (a ``SearchField``) or one inline
    sub-object (a nested ``Columns``: ``MrSessionData.c.scanner.manufacturer``); the generated
    ``<Class>Columns`` classes type exactly these for mypy and pyright.
    """

    def __init__(self, model: type[XnatModel], xpath: str) -> None:
        self._model = model
        self._xpath = xpath

    def __repr__(self) -> str:
        return f"<Columns of {self._xpath}>"

    if not TYPE_CHECKING:  # typed per class by the generated columns; a type checker sees no
        # catch-all here, so a misspelt column stays a type error

        def __getattr__(self, name: str) -> Column | Columns:
            column = _build(self._model, self._xpath, name)
            object.__setattr__(self, name, column)
            return column


def _build(model: type[XnatModel], xpath: str, name: str) -> Column | Columns:
    from xnat_sdk._modelbase import model_class

    spec = next((item for item in model.all_xsd_fields() if item.name == name), None)
    if spec is None or name.startswith("_"):
        raise AttributeError(f"{model.__name__} has no search column {name!r}")
    if spec.many:
        raise AttributeError(f"{model.__name__}.{name} is a list: XNAT cannot search it")
    if spec.kind == "text":
        if not model.xsd_inline:
            raise AttributeError(f"{model.__name__}.{name} is not a search column")
        return _field(xpath, spec.scalar)
    if spec.target is None:
        return _field(f"{xpath}/{spec.xsd}", spec.scalar)
    target = model_class(spec.target)
    if not target.xsd_inline:
        raise AttributeError(
            f"{model.__name__}.{name} is a separate {target.xsi_type}: search it as the root type"
        )
    return Columns(target, f"{xpath}/{spec.xsd}")


def _field(xpath: str, kind: ScalarKind) -> Column:
    if kind in ("str", "json"):
        return TextField[str](xpath, kind)
    return SearchField[object](xpath, kind)


_COLUMNS: dict[type[XnatModel], Columns] = {}


def columns_of(model: type[XnatModel]) -> Columns:
    """The columns of ``model`` (one instance per class, what ``model.c`` returns)."""
    columns = _COLUMNS.get(model)
    if columns is None:
        columns = _COLUMNS[model] = Columns(model, model.xsi_type)
    return columns


# -- the query ---------------------------------------------------------------------------------
#: Columns a query without ``columns(...)`` asks for, where the root type has them.
DEFAULT_COLUMNS = (
    "id",
    "secondary_id",
    "name",
    "label",
    "project",
    "subject_id",
    "date",
    "type",
    "series_description",
)


#: Where a search document is POSTed (with ``format=json`` or ``csv``).
SEARCH_PATH = "/data/search"


# -- the pure rules of a query, shared by Query and xnat_sdk.aio's AsyncQuery ------------------


def searchable(model: type[M]) -> type[M]:
    """``model`` if XNAT can search it (a data type of its own); else ``SearchError``."""
    if not model.xsi_type or model.xsd_inline:
        raise SearchError(f"{model.__name__} is not a searchable XNAT data type")
    return model


def narrowed(where: Constraint | None, constraints: tuple[Constraint, ...]) -> Constraint | None:
    """The constraint of a query narrowed by ``constraints`` (all must hold)."""
    if not constraints:
        return where
    given = constraints if where is None else (where, *constraints)
    return _checked(given[0]) if len(given) == 1 else and_(*given)


def added_columns(columns: tuple[Column, ...], more: tuple[Column, ...]) -> tuple[Column, ...]:
    """``columns`` followed by ``more`` (each checked to be a column)."""
    return columns + tuple(map(_checked_column, more))


def requested_columns(model: type[XnatModel], columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """The columns a query asks for: those given, else ``DEFAULT_COLUMNS`` the model has."""
    if columns:
        return columns
    namespace = model.c
    return tuple(
        column
        for name in DEFAULT_COLUMNS
        if model.xsd_field(name) is not None
        and isinstance(column := getattr(namespace, name), Column)
    )


def search_document(
    model: type[XnatModel], columns: tuple[Column, ...], where: Constraint | None
) -> str:
    """The ``xdat:bundle`` search document over ``model`` (see the module docstring)."""
    from xnat_sdk.models import XdatSearchField, XdatStoredSearch

    fields = [
        XdatSearchField(
            element_name=column.element,
            field_id=column.xpath,
            sequence=index,
            type=_SEARCH_TYPES.get(column.kind, "string"),
            header=column.xpath.split("/", 1)[1],
        )
        for index, column in enumerate(requested_columns(model, columns))
    ]
    bundle = XdatStoredSearch(
        root_element_name=model.xsi_type,
        search_field=fields,
        search_where=[_search_where(where)],
    )
    return bundle.to_xml()


def search_rows(content: bytes) -> list[SearchRow]:
    """The rows of a search's JSON answer; ``XNATResponseError`` when it is no listing."""
    try:
        document: object = json.loads(content)
    except ValueError:
        document = None
    rows = _result_rows(document)
    if rows is None:
        raise XNATResponseError("POST", SEARCH_PATH, 200, "the answer is not a ResultSet listing")
    return rows


class Query(Generic[M]):
    """A search over one root type; ``filter``/``columns`` return new queries (xnatpy style)."""

    def __init__(
        self,
        session: XNATSession,
        model: type[M],
        columns: tuple[Column, ...] = (),
        where: Constraint | None = None,
    ) -> None:
        self._session = session
        self.model = searchable(model)
        self._columns = columns
        self._where = where

    def __repr__(self) -> str:
        return f"<Query of {self.model.xsi_type}: {len(self._columns)} columns>"

    @property
    def session(self) -> XNATSession:
        """The session the query runs on (to turn found IDs into live objects)."""
        return self._session

    def filter(self, *constraints: Constraint) -> Query[M]:
        """Only results meeting every constraint (and those already given)."""
        if not constraints:
            return self
        where = narrowed(self._where, constraints)
        return Query(self._session, self.model, self._columns, where)

    def columns(self, *columns: Column) -> Query[M]:
        """Ask for these columns (added to those already asked for)."""
        return Query(self._session, self.model, added_columns(self._columns, columns), self._where)

    def document(self) -> str:
        """The ``xdat:bundle`` search document this query POSTs."""
        return search_document(self.model, self._columns, self._where)

    def _post(self, format: str) -> bytes:
        response = self._session.post(
            SEARCH_PATH,
            data=self.document().encode("utf-8"),
            format=format,
            headers={"Content-Type": "text/xml"},
        )
        return response.content

    def all(self) -> list[SearchRow]:
        """Every result row (column names: see the module docstring)."""
        return search_rows(self._post("json"))

    def tabulate_dict(self) -> list[SearchRow]:
        """The rows, as xnatpy's ``tabulate_dict`` names them."""
        return self.all()

    def tabulate_csv(self) -> str:
        """The result table as the server's CSV text."""
        return self._post("csv").decode("utf-8")

    def tabulate_pandas(self) -> object:
        """The rows as a ``pandas.DataFrame`` (needs pandas installed)."""
        return rows_as_dataframe(self.all())

    def first(self) -> SearchRow | None:
        """The first row, or ``None`` when nothing matches."""
        rows = self.all()
        return rows[0] if rows else None


def rows_as_dataframe(rows: list[SearchRow]) -> object:
    """``rows`` as a ``pandas.DataFrame`` (``XNATValueError`` when pandas is not installed)."""
    try:
        pandas = importlib.import_module("pandas")
    except ImportError as exc:
        raise XNATValueError("tabulate_pandas() needs pandas: pip install pandas") from exc
    frame: object = pandas.DataFrame(rows)
    return frame


def _result_rows(document: object) -> list[SearchRow] | None:
    """The rows of a ``{"ResultSet": {"Result": [...]}}`` answer, every value a string."""
    result = (
        cast("dict[str, object]", document).get("ResultSet") if isinstance(document, dict) else None
    )
    rows = cast("dict[str, object]", result).get("Result") if isinstance(result, dict) else None
    if not isinstance(rows, list):
        return None
    table: list[SearchRow] = []
    for row in cast("list[object]", rows):
        if isinstance(row, dict):
            cells = cast("dict[object, object]", row)
            table.append({str(k): "" if v is None else str(v) for k, v in cells.items()})
    return table


def _search_where(where: Constraint | None) -> XdatCriteriaSet:
    """The ``search_where`` set: the outermost group itself, not a ``child_set`` of it."""
    from xnat_sdk.models import XdatCriteriaSet

    if where is None:
        return XdatCriteriaSet(method="AND")
    if isinstance(where, Criterion):
        where = CriteriaGroup("AND", (where,))
    result = XdatCriteriaSet(method=where.method)
    for item in where.items:
        _add(result, item)
    return result


def _add(target: XdatCriteriaSet, constraint: Constraint) -> None:
    """Append ``constraint`` to the criteria set ``target`` (a ``child_set`` for a group)."""
    from xnat_sdk.models import XdatCriteria, XdatCriteriaSet

    if isinstance(constraint, Criterion):
        target.criteria.append(
            XdatCriteria(
                schema_field=constraint.xpath,
                comparison_type=constraint.comparison,
                value=constraint.value,
            )
        )
        return
    child = XdatCriteriaSet(method=constraint.method)
    for item in constraint.items:
        _add(child, item)
    target.child_set.append(child)
