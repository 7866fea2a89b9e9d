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

from pydantic import BaseModel, TypeAdapter, ValidationError

from xnat_sdk.objects import FieldValueError, SessionLike, XnatObject, field_named

M = TypeVar("M", bound=XnatObject)

#: A column's validator: the row's text in, the field's typed value out (raises on a bad one).
Validate = Callable[[str], object]

#: Validators by the field's full annotation (text is exact: same annotation, same validator).
_VALIDATORS: dict[str, Validate] = {}

#: Annotations of unconstrained text fields: the row's text is the value, nothing to check.
_TEXT: tuple[object, ...] = (str, str | None)


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
    """Builds live ``cls`` objects from rows with the given columns."""

    def __init__(self, cls: type[M], columns: Sequence[str]) -> None:
        self.cls = cls
        text: list[tuple[str, str]] = []
        typed: list[tuple[str, str, Validate]] = []
        for column in columns:
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
        defaults = cls.__private_attributes__.items()
        self._private = {name: attribute.get_default() for name, attribute in defaults}
        self._private["_complete"] = False
        self._extra: dict[str, object] | None = (
            {} if cls.model_config.get("extra") == "allow" else None
        )

    def build(self, row: dict[str, str], session: SessionLike, uri: str) -> M:
        """A ``cls`` object holding the row's fields, bound to ``session`` at ``uri``."""
        # Runs once per row of a listing: text columns in one comprehension, the slots of the
        # pydantic object set through their descriptors.
        values: dict[str, object] = {
            name: text for column, name in self._text if (text := row.get(column))
        }
        for column, name, validate in self._typed:
            text = row.get(column)
            if text:
                try:
                    values[name] = validate(text)
                except (ValidationError, ValueError):
                    pass  # the full object, fetched on first use, has the typed value
        private = self._private.copy()
        private["_session"] = session
        private["_uri"] = uri
        obj = _new(self.cls)
        _set_dict(obj, values)
        _set_fields_set(obj, set(values))
        _set_extra(obj, None if self._extra is None else {})
        _set_private(obj, private)
        return obj


# The slots every pydantic model has, set directly (what model_construct does, minus its checks).
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
