"""Live objects built straight from listing rows: a few microseconds per row.

``pydantic``'s ``model_construct`` and ``validate_assignment`` cost tens of microseconds per
object of a class with dozens of fields, which made a 100,000-row listing take seconds. A
``RowBuilder`` works out once per class and column set which field each column fills and the
validator of that field alone, then builds each object by filling its ``__dict__`` directly.
The object is the same as one validated field by field: a value the field rejects (or an empty
cell) is left out, and the first access to a field the row did not hold fetches the whole
object (``XnatObject.__getattr__``).
"""

from __future__ import annotations

import datetime
import decimal
import gc
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from xnat_sdk.objects import FieldValueError, SessionLike, XnatObject, field_named

M = TypeVar("M", bound=XnatObject)

#: A column's validator: the row's text in, the field's typed value out (raises on a bad one).
Validate = Callable[[str], object]

#: Validators by the field's full annotation (text is exact: same annotation, same validator).
_VALIDATORS: dict[str, Validate] = {}

#: Annotations of unconstrained text fields: the row's text is the value, nothing to check.
_TEXT: tuple[object, ...] = (str, str | None)

#: Validated values that objects may share (nothing can change them in place).
_IMMUTABLE = frozenset(
    {
        str,
        int,
        float,
        bool,
        decimal.Decimal,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
    }
)

#: A cell not validated yet in this run of rows.
_UNSEEN = object()


def _validator_for(cls: type[XnatObject], name: str) -> Validate:
    """The validator of field ``name`` of ``cls`` on its own (its annotation and constraints)."""
    # Any: a type expression built at run time (the annotation with its Field constraints).
    annotation: Any = cls.model_fields[name].rebuild_annotation()
    key = repr(annotation)
    validate = _VALIDATORS.get(key)
    if validate is None:
        if annotation in _TEXT:
            validate = str  # an unconstrained text field keeps the row's text as it is
        else:
            validate = TypeAdapter[object](annotation).validator.validate_python
        _VALIDATORS[key] = validate
    return validate


class RowBuilder(Generic[M]):
    """Builds live ``cls`` objects from rows with exactly the given columns (in that order)."""

    def __init__(self, cls: type[M], columns: Sequence[str], xsi_type: str = "") -> None:
        self.cls = cls
        self.columns = tuple(columns)
        #: The type column's value in the rows this builder is for ("" when there is none).
        self.xsi_type = xsi_type
        text: list[tuple[str, str]] = []
        typed: list[tuple[str, str, Validate]] = []
        for column in self.columns:
            try:
                name = field_named(cls, column)
            except FieldValueError:
                continue  # not a field of the model (URI, insert_date, ...): fetched data has it
            validate = _validator_for(cls, name)
            if validate is str:
                text.append((column, name))
            else:
                typed.append((column, name, validate))
        self._text = tuple(text)
        self._typed = tuple(typed)
        #: The typed columns for a single row: nothing is remembered into these empty dicts.
        self._typed_alone: tuple[tuple[str, str, Validate, dict[str, object]], ...] = tuple(
            (column, name, validate, {}) for column, name, validate in typed
        )
        defaults = cls.__private_attributes__.items()
        self._private = {name: attribute.get_default() for name, attribute in defaults}
        self._private["_complete"] = False
        self._extra_allowed = cls.model_config.get("extra") == "allow"

    def build(self, row: dict[str, str], session: SessionLike, uri: str) -> M:
        """A ``cls`` object holding the row's fields, bound to ``session`` at ``uri``."""
        built: list[M] = []
        if not self.build_run([row], [uri], 0, session, built, None, remember=False):
            raise ValueError(
                f"a row with columns {tuple(row)} given to a builder for {self.columns}"
            )
        return built[0]

    def build_run(
        self,
        rows: Sequence[dict[str, str]],
        uris: Sequence[str],
        start: int,
        session: SessionLike,
        into: list[M],
        type_column: str | None,
        *,
        remember: bool = True,
    ) -> int:
        """Append to ``into`` the objects of ``rows[start:]`` (bound at ``uris``) while the rows
        have this builder's columns and, in ``type_column``, its xsi:type; return the position
        of the first row that does not (``len(rows)`` when all did). ``remember``: share the
        typed values of equal cells (worth it for many rows, not for one)."""
        # Runs once per row of a listing of 100,000 experiments: everything constant is held in
        # locals, and the slots of the pydantic object are set through their descriptors (what
        # model_construct does, minus its per-field work).
        columns, xsi_type, text = self.columns, self.xsi_type, self._text
        cls, private, extra_allowed = self.cls, self._private, self._extra_allowed
        append = into.append
        # Per typed column, its cells validated so far: dates and numbers repeat down a listing,
        # and an immutable value can be shared (one validation, one object, per distinct cell).
        typed: Sequence[tuple[str, str, Validate, dict[str, object]]] = (
            [(column, name, validate, {}) for column, name, validate in self._typed]
            if remember
            else self._typed_alone
        )
        for position in range(start, len(rows)):
            row = rows[position]
            if tuple(row) != columns or (
                type_column is not None and row.get(type_column, "") != xsi_type
            ):
                return position
            values: dict[str, object] = {}
            for column, name in text:
                cell = row[column]
                if cell:
                    values[name] = cell
            for column, name, validate, known in typed:
                cell = row[column]
                if not cell:
                    continue
                value = known.get(cell, _UNSEEN)
                if value is _UNSEEN:
                    try:
                        value = validate(cell)
                    except (ValidationError, ValueError):
                        continue  # the full object, fetched on first use, has the typed value
                    if remember and value.__class__ in _IMMUTABLE:
                        known[cell] = value
                values[name] = value
            state = private.copy()
            state["_session"] = session
            state["_uri"] = uris[position]
            obj = _new(cls)
            _set_dict(obj, values)
            _set_fields_set(obj, set(values))
            _set_extra(obj, {} if extra_allowed else None)
            _set_private(obj, state)
            append(obj)
        return len(rows)


@contextmanager
def gc_paused() -> Generator[None]:
    """Build a batch of long-lived objects with the cyclic garbage collector paused, then hand
    them straight to its oldest generation.

    Building 100,000 objects allocates ~300,000 container objects: the collector would run every
    ~700 allocations and traverse the young ones, then again in the middle generation, a third
    of the cost of a big listing. The batch holds no garbage cycles and the listing keeps it, so
    the young objects (the batch, and the few hundred others allocated since the last pass) are
    moved to the oldest generation untraversed (``gc.freeze()`` then ``gc.unfreeze()``). Left
    alone when the caller manages the collector: disabled, or objects frozen (before a fork).
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


# The slots every pydantic model has, set directly (what model_construct does, minus its checks).
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
