"""Intermediate model -> the typed search-column modules (``_generated/columns_<prefix>.py``).

Each generated class gets a companion ``<Class>Columns`` class listing its searchable fields as
``SearchField[T]`` (``TextField[T]`` for text, which adds ``like``), so ``MrSessionData.c.date``
is typed for mypy and pyright. The models reference these classes only under
``TYPE_CHECKING``; at run time ``XnatModel.c`` builds the same columns from the field table,
by the same rule as :func:`searchable` here (``xnat_sdk.search.Columns`` mirrors it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

from codegen.ir import FieldSpec, TypeSpec

#: The class attribute holding a model's columns; no XSD field may take this name.
COLUMNS_ATTRIBUTE = "c"

_VALUE_TYPES = {
    "str": "str",
    "json": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "date": "_dt.date",
    "datetime": "_dt.datetime",
    "time": "_dt.time",
}


@dataclass(frozen=True)
class ColumnsClass:
    """What the columns template needs for one class."""

    name: str
    base: str
    xsi_type: str
    fields: tuple[tuple[str, str], ...]  # (python name, annotation)


def columns_name(spec: TypeSpec) -> str:
    """``MrSessionData`` -> ``MrSessionDataColumns``."""
    return f"{spec.class_name}Columns"


def searchable(field: FieldSpec, owner: TypeSpec, by_key: dict[str, TypeSpec]) -> bool:
    """Whether a field is a search column: a single simple value (the text of an inline
    type included) or a single inline sub-object (a nested column namespace)."""
    if field.many:
        return False
    if field.kind == "text":
        return not owner.named
    if field.target is None:
        return True
    return not by_key[field.target].named


def _annotation(field: FieldSpec, by_key: dict[str, TypeSpec]) -> str:
    if field.target is not None:
        return columns_name(by_key[field.target])
    assert field.scalar is not None
    scalar = field.scalar
    text = scalar.kind in ("str", "json")
    if scalar.enumeration:
        quoted = ", ".join(_quote(value) for value in scalar.enumeration)
        value = f"Literal[{quoted}]"
    else:
        value = _VALUE_TYPES[scalar.kind]
    return f"{'TextField' if text else 'SearchField'}[{value}]"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _base_first(specs: Sequence[TypeSpec]) -> list[TypeSpec]:
    """Classes ordered so that a base in the same module comes before its subclasses."""
    local = {spec.key: spec for spec in specs}
    ordered: list[TypeSpec] = []
    done: set[str] = set()

    def visit(spec: TypeSpec) -> None:
        if spec.key in done:
            return
        done.add(spec.key)
        if spec.base is not None and spec.base in local:
            visit(local[spec.base])
        ordered.append(spec)

    for spec in sorted(specs, key=lambda item: item.key):
        visit(spec)
    return ordered


def render_columns(
    environment: jinja2.Environment,
    types: Sequence[TypeSpec],
    header: str,
    modules: dict[str, list[TypeSpec]],
    packages: dict[str, str],
) -> dict[str, str]:
    """``columns_<prefix>.py`` file name -> source, for each module prefix in ``modules``."""
    by_key = {spec.key: spec for spec in types}
    rendered: dict[str, str] = {}
    for prefix in sorted(modules):
        ordered = _base_first(modules[prefix])
        needed: dict[str, set[str]] = {}
        classes: list[ColumnsClass] = []
        for spec in ordered:
            for field in spec.fields:
                if field.python_name == COLUMNS_ATTRIBUTE:
                    raise ValueError(
                        f"{spec.xsi_type} has a field named {COLUMNS_ATTRIBUTE!r}, the name of "
                        "the search columns: rename the columns attribute"
                    )
            fields = tuple(
                (field.python_name, _annotation(field, by_key))
                for field in spec.fields
                if searchable(field, spec, by_key)
            )
            others = [by_key[spec.base]] if spec.base else []
            others.extend(
                by_key[field.target]
                for field in spec.fields
                if field.target is not None and searchable(field, spec, by_key)
            )
            for other in others:
                if other.prefix != prefix:
                    module = f"{packages[other.prefix]}.columns_{other.prefix}"
                    needed.setdefault(module, set()).add(columns_name(other))
            base = columns_name(by_key[spec.base]) if spec.base else "Columns"
            classes.append(ColumnsClass(columns_name(spec), base, spec.xsi_type, fields))
        annotations = [annotation for cls in classes for _, annotation in cls.fields]
        rendered[f"columns_{prefix}.py"] = environment.get_template("columns.py.j2").render(
            header=header,
            prefix=prefix,
            namespace=ordered[0].namespace,
            classes=classes,
            imports=[(module, sorted(names)) for module, names in sorted(needed.items())],
            uses_datetime=any("_dt." in annotation for annotation in annotations),
            uses_literal=any("Literal[" in annotation for annotation in annotations),
        )
    return rendered
