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

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from xnat_sdk.objects import FieldValueError, SessionLike, XnatObject, field_named

M = TypeVar("M", bound=XnatObject)

#: A column's validator: the row's text in, the field's typed value out (raises on a bad one).
Validate = Callable[[str], object]

#: Validators by the field's full annotation (text is exact: same annotation, same validator).
_VALIDATORS: dict[str, Validate] = {}


def _validator_for(cls: type[XnatObject], name: str) -> Validate:
    """The validator of field ``name`` of ``cls`` on its own (its annotation and constraints)."""
    # Any: a type expression built at run time (the annotation with its Field constraints).
    annotation: Any = cls.model_fields[name].rebuild_annotation()
    key = repr(annotation)
    validate = _VALIDATORS.get(key)
    if validate is None:
        if annotation is str or key == "typing.Optional[str]":
            validate = str  # an unconstrained text field keeps the row's text as it is
        else:
            validate = TypeAdapter[object](annotation).validator.validate_python
        _VALIDATORS[key] = validate
    return validate


class RowBuilder(Generic[M]):
    """Builds live ``cls`` objects from rows with the given columns."""

    def __init__(self, cls: type[M], columns: Sequence[str]) -> None:
        self.cls = cls
        plan: list[tuple[str, str, Validate]] = []
        for column in columns:
            try:
                name = field_named(cls, column)
            except FieldValueError:
                continue  # not a field of the model (URI, insert_date, ...): fetched data has it
            plan.append((column, name, _validator_for(cls, name)))
        self._plan = tuple(plan)
        self._private = {
            name: attribute.get_default() for name, attribute in cls.__private_attributes__.items()
        }
        self._extra: dict[str, object] | None = (
            {} if cls.model_config.get("extra") == "allow" else None
        )

    def build(self, row: dict[str, str], session: SessionLike, uri: str) -> M:
        """A ``cls`` object holding the row's fields, bound to ``session`` at ``uri``."""
        values: dict[str, object] = {}
        for column, name, validate in self._plan:
            text = row.get(column)
            if not text:
                continue
            try:
                values[name] = validate(text)
            except (ValidationError, ValueError):
                continue  # the full object, fetched on first use, has the typed value
        obj = self.cls.__new__(self.cls)
        setter = object.__setattr__
        setter(obj, "__dict__", values)
        setter(obj, "__pydantic_fields_set__", set(values))
        setter(obj, "__pydantic_extra__", None if self._extra is None else {})
        setter(
            obj,
            "__pydantic_private__",
            {**self._private, "_session": session, "_uri": uri, "_complete": False},
        )
        return obj
