"""The base of every generated model: XSD metadata and the three wire forms of XNAT data.

A generated class holds pydantic fields plus a tuple of ``XsdField`` describing how each field
appears on the wire. From that table alone this module reads and writes

- the JSON object form of ``GET ...?format=json`` (``data_fields`` with nested paths such as
  ``"scanner/manufacturer"``, ``meta`` with ``"xsi:type"``, ``children`` per list or
  sub-object),
- the XML document (``<xnat:MRSession ...>``), and
- the REST query-string form (``xnat:mrSessionData/scanner/manufacturer=GE``).

No I/O library is imported here: the emulator uses these models as plain data.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import io
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeAlias, TypeVar, cast
from xml.sax.saxutils import escape, quoteattr

from pydantic import ConfigDict, ValidationError
from typing_extensions import Self

from xnat_sdk.objects import XnatObject

if TYPE_CHECKING:
    from xnat_sdk.search import Columns

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

#: ``xdat:jsonb`` (XNAT's ``custom_fields``): a JSON document kept as its text, exactly as the
#: server stores and returns it. Decode it with ``json.loads`` when you need the structure.
JsonText: TypeAlias = str
#: An XSD declaration without a type (``xs:anyType``): its text content.
UntypedText: TypeAlias = str

#: A JSON item of the ``{"items": [...]}`` object form (``data_fields``/``meta``/``children``).
JsonItem: TypeAlias = dict[str, Any]

FieldKind: TypeAlias = Literal["attribute", "element", "text"]
ScalarKind: TypeAlias = Literal["str", "int", "float", "bool", "date", "datetime", "time", "json"]


class XpathError(ValueError):
    """An xpath the type does not have, or a value its schema rejects (HTTP 400 on a server)."""

    def __init__(self, xpath: str, value: str | None, reason: str) -> None:
        self.xpath = xpath
        self.value = value
        self.reason = reason
        shown = "" if value is None else f"={value!r}"
        super().__init__(f"{xpath}{shown}: {reason}")


class UnknownTypeWarning(UserWarning):
    """Data of an xsi:type this SDK was not generated for, loaded as its nearest known base."""


@dataclass(frozen=True, slots=True)
class XsdField:
    """How one pydantic field appears on the wire.

    ``target`` is the generated class key of a complex value (``None`` for a simple value);
    ``item`` names the repeated child of a wrapper element (``scans`` -> ``scan``);
    ``required`` records ``use="required"``/``minOccurs>=1`` (the Python field is still
    optional: XNAT documents omit server-assigned values such as ``ID`` on creation).
    """

    name: str
    xsd: str
    kind: FieldKind
    scalar: ScalarKind = "str"
    target: str | None = None
    many: bool = False
    item: str | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class _BoundField:
    """An ``XsdField`` with the namespace of the class that declares it."""

    namespace: str
    spec: XsdField


_BY_KEY: dict[str, type[XnatModel]] = {}
_BY_XSI_TYPE: dict[str, type[XnatModel]] = {}
_BY_QNAME: dict[tuple[str, str], type[XnatModel]] = {}
_BY_ELEMENT: dict[tuple[str, str], type[XnatModel]] = {}
_PREFIXES: dict[str, str] = {}
_FIELDS: dict[type[XnatModel], tuple[_BoundField, ...]] = {}


def empty_list() -> list[Any]:
    """The default of a list field (a fresh list per instance, typed by the field)."""
    return []


def model_class(key: str) -> type[XnatModel]:
    """The generated class of ``key`` (``{namespace}localName``, ``{namespace}owner/path``),
    importing the module of the named type it belongs to when that is not loaded yet."""
    found = _BY_KEY.get(key)
    if found is None:
        namespace, _, path = key.removeprefix("{").partition("}")
        _registry_qname("XSI_TYPES", namespace, path.split("/", 1)[0])  # registers its module
        found = _BY_KEY.get(key)
    if found is None:
        raise LookupError(f"no generated model for {key!r}: is its module imported?")
    return found


def field_classes(cls: type[XnatModel]) -> dict[str, type[XnatModel]]:
    """Every class the fields of ``cls`` refer to, directly or through other classes' fields,
    by class name (importing their modules): what pydantic needs to build ``cls``."""
    found: dict[str, type[XnatModel]] = {}
    pending = [cls]
    seen: set[str] = set()
    while pending:
        for spec in pending.pop().all_xsd_fields():
            target = spec.target
            if target is not None and target not in seen:
                seen.add(target)
                klass = model_class(target)
                found[klass.__name__] = klass
                pending.append(klass)
    return found


def class_for_xsi_type(xsi_type: str) -> type[XnatModel] | None:
    """The class of ``xsi_type`` (``"xnat:mrSessionData"``), importing its module if needed."""
    return _BY_XSI_TYPE.get(xsi_type) or _registry_lookup("XSI_TYPES", xsi_type)


#: The registry consulted for a class whose generated module is not imported yet.
GENERATED_REGISTRY = "xnat_sdk._generated.registry"


def _registry_lookup(table: str, key: str) -> type[XnatModel] | None:
    """``key`` in the generated registry's ``table`` (imports only the module it needs)."""
    try:
        registry = importlib.import_module(GENERATED_REGISTRY)
    except ImportError:  # pragma: no cover - the registry is committed with the package
        return None
    mapping = getattr(registry, table, None)
    if not isinstance(mapping, Mapping):
        return None
    return cast("Mapping[str, type[XnatModel]]", mapping).get(key)


class LazyModelMap(Mapping[str, "type[XnatModel]"]):
    """A read-only map of generated classes whose modules are imported on first lookup.

    Keeps ``import xnat_sdk._generated.registry`` cheap: a lookup of ``xnat:mrSessionData``
    imports ``xnat.py`` only; iterating over the values imports every module.
    """

    def __init__(self, package: str, entries: Mapping[str, tuple[str, str]]) -> None:
        self._package = package
        self._entries = dict(entries)

    def __getitem__(self, key: str) -> type[XnatModel]:
        module_name, class_name = self._entries[key]
        value: object = getattr(
            importlib.import_module(f"{self._package}.{module_name}"), class_name
        )
        if not (isinstance(value, type) and issubclass(value, XnatModel)):
            raise TypeError(f"{self._package}.{module_name}.{class_name} is not an XNAT model")
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"<LazyModelMap of {len(self._entries)} classes in {self._package}>"


_C_co = TypeVar("_C_co", covariant=True)


class ColumnsOf(Generic[_C_co]):
    """``Model.c``: the model's typed search columns (``MrSessionData.c.date > ...``).

    For a type checker each generated class declares ``c = ColumnsOf(<Class>Columns)`` (under
    ``TYPE_CHECKING``, so nothing is imported at run time); at run time the one instance on
    ``XnatModel`` builds the columns of the class it is read from, from its field table, on
    first use (``xnat_sdk.search``).
    """

    def __init__(self, columns: type[_C_co] | None = None) -> None:
        """``columns`` only tells a type checker which class ``c`` is; nothing is kept."""

    def __get__(self, instance: object, owner: type[XnatModel]) -> _C_co:
        from xnat_sdk.search import columns_of

        return cast("_C_co", columns_of(owner))


class XnatModel(XnatObject):
    """A generated XNAT data type (see the module docstring for the wire forms)."""

    # extra="allow": fields of unknown (plugin) types and XNAT's database columns are kept;
    # defer_build: a class's validator is built on first use, keeping imports cheap;
    # polymorphic_serialization: model_dump() of a scans list keeps each MrScanData's fields.
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, defer_build=True, polymorphic_serialization=True
    )

    xsi_type: ClassVar[str] = ""
    xml_element: ClassVar[str | None] = None
    #: Every global element of this type (``FieldDefinitionGroup`` and ``FieldDefinitionSet``).
    xsd_elements: ClassVar[tuple[str, ...]] = ()
    #: ``{namespace}localName`` (named types) or ``{namespace}owner/path`` (inline types).
    xsd_key: ClassVar[str] = ""
    xsd_namespace: ClassVar[str] = ""
    #: True for an anonymous inline type; it is part of its owner's xpath space.
    xsd_inline: ClassVar[bool] = False
    #: True when XNAT stores the type only as one of its subtypes (``xdat:element abstract``).
    xsd_abstract: ClassVar[bool] = False
    #: The fields this class adds to its base, in schema order.
    xsd_fields: ClassVar[tuple[XsdField, ...]] = ()
    #: The typed search columns: ``SubjectData.c.label.like("S0%")`` (see ``ColumnsOf``).
    c: ClassVar[ColumnsOf[Columns]] = ColumnsOf()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.xsd_key or "xsd_key" not in vars(cls):
            return
        prefix, _, local = cls.xsi_type.partition(":")
        _BY_KEY[cls.xsd_key] = cls
        _PREFIXES.setdefault(cls.xsd_namespace, prefix)
        if not cls.xsd_inline:
            _BY_XSI_TYPE[cls.xsi_type] = cls
            _BY_QNAME[(cls.xsd_namespace, local)] = cls
        for element in vars(cls).get("xsd_elements", ()):
            _BY_ELEMENT[(cls.xsd_namespace, element.partition(":")[2])] = cls

    @classmethod
    def model_rebuild(
        cls,
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Mapping[str, Any] | None = None,
    ) -> bool | None:
        """Build the validator, first loading the classes of fields in other modules.

        Generated modules import only their bases; a field typed by a class of another module
        is a string annotation (so that using ``MrSessionData`` does not load every class its
        data could hold). Pydantic resolves them here, when the model is first used.
        """
        if cls.__pydantic_complete__ and not force:
            return None
        namespace = {**field_classes(cls), **(_types_namespace or {})}
        return super().model_rebuild(
            force=force,
            raise_errors=raise_errors,
            _parent_namespace_depth=_parent_namespace_depth,
            _types_namespace=namespace,
        )

    # -- metadata -------------------------------------------------------------------------
    @classmethod
    def _all_fields(cls) -> tuple[_BoundField, ...]:
        cached = _FIELDS.get(cls)
        if cached is None:
            collected: list[_BoundField] = []
            for klass in reversed(cls.__mro__):
                if issubclass(klass, XnatModel):
                    own: tuple[XsdField, ...] = vars(klass).get("xsd_fields", ())
                    collected.extend(_BoundField(klass.xsd_namespace, spec) for spec in own)
            cached = tuple(collected)
            _FIELDS[cls] = cached
        return cached

    @classmethod
    def all_xsd_fields(cls) -> tuple[XsdField, ...]:
        """Every field of the class, its bases' first, in schema order."""
        return tuple(bound.spec for bound in cls._all_fields())

    @classmethod
    def xsd_field(cls, name: str) -> XsdField | None:
        """The field called ``name`` in Python or, failing that, in the XSD."""
        fields = [bound.spec for bound in cls._all_fields()]
        by_python = next((spec for spec in fields if spec.name == name), None)
        return by_python or next((spec for spec in fields if spec.xsd == name), None)

    @classmethod
    def xpath_of(cls, field_name: str) -> str:
        """The xpath of a field: ``MrSessionData.xpath_of("date")`` is
        ``"xnat:mrSessionData/date"``."""
        spec = cls.xsd_field(field_name)
        if spec is None:
            raise XpathError(
                f"{cls.xsi_type}/{field_name}", None, f"{cls.__name__} has no such field"
            )
        return f"{cls.xsi_type}/{spec.xsd}"

    # -- JSON object form -----------------------------------------------------------------
    @classmethod
    def from_json_item(cls, item: Mapping[str, Any]) -> Self:
        """One element of ``{"items": [...]}`` as returned by ``?format=json``."""
        data = cast("Mapping[str, object]", item.get("data_fields") or {})
        klass = _resolve(cls, _meta_type(item), keys=data.keys())
        result = klass._from_item(item, text_key=None)
        if not isinstance(result, cls):  # pragma: no cover - _resolve returns subclasses
            raise TypeError(f"{type(result).__name__} is not a {cls.__name__}")
        return result

    @classmethod
    def _from_item(cls, item: Mapping[str, Any], text_key: str | None) -> XnatModel:
        data: Mapping[str, Any] = item.get("data_fields") or {}
        children: dict[str, list[Mapping[str, Any]]] = {}
        for child in cast("list[Mapping[str, Any]]", item.get("children") or []):
            live = [
                entry
                for entry in cast("list[Mapping[str, Any]]", child.get("items") or [])
                if not cast("Mapping[str, object]", entry.get("meta") or {}).get("isHistory")
            ]
            children.setdefault(str(child.get("field", "")), []).extend(live)
        consumed: set[str] = set()
        values = cls._values_from_flat(data, children, "", text_key, consumed)
        extras = {key: value for key, value in data.items() if key not in consumed}
        return cls.model_validate({**extras, **values})

    @classmethod
    def _values_from_flat(
        cls,
        data: Mapping[str, Any],
        children: Mapping[str, list[Mapping[str, Any]]],
        prefix: str,
        text_key: str | None,
        consumed: set[str],
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for bound in cls._all_fields():
            spec = bound.spec
            path = prefix + spec.xsd
            if spec.kind == "text":
                key = text_key if text_key is not None else "value"
                if key in data:
                    consumed.add(key)
                    _put_scalar(values, spec, data[key])
                continue
            if spec.target is None:
                if path in data:
                    consumed.add(path)
                    _put_scalar(values, spec, data[path])
                continue
            target = model_class(spec.target)
            field_path = f"{path}/{spec.item}" if spec.item else path
            item_name = spec.item or spec.xsd
            if field_path in children:
                parsed = [
                    _resolve(target, _meta_type(entry))._from_item(entry, text_key=item_name)
                    for entry in children[field_path]
                ]
                if spec.many:
                    values[spec.name] = parsed
                elif parsed:
                    values[spec.name] = parsed[0]
            elif not spec.many:
                nested = target._values_from_flat(data, children, path + "/", path, consumed)
                if nested:
                    values[spec.name] = target.model_validate(nested)
        return values

    def to_json_item(self) -> JsonItem:
        """This object in the ``data_fields``/``meta``/``children`` form."""
        return self._to_item(text_key=None)

    def _to_item(self, text_key: str | None) -> JsonItem:
        data: dict[str, Any] = {}
        children: list[dict[str, Any]] = []
        self._flatten_json(data, children, "", text_key)
        for key, value in (self.__pydantic_extra__ or {}).items():
            data.setdefault(key, _json_value(value))
        return {
            "children": children,
            "meta": {"xsi:type": self.xsi_type, "isHistory": False},
            "data_fields": data,
        }

    def _flatten_json(
        self,
        data: dict[str, Any],
        children: list[dict[str, Any]],
        prefix: str,
        text_key: str | None,
    ) -> None:
        for bound in self._all_fields():
            spec = bound.spec
            value = self.__dict__.get(spec.name)
            if value is None or value == []:
                continue
            path = prefix + spec.xsd
            if spec.kind == "text":
                data[text_key if text_key is not None else "value"] = _json_value(value)
            elif spec.target is None:
                data[path] = [_json_value(v) for v in value] if spec.many else _json_value(value)
            elif isinstance(value, list):
                field_path = f"{path}/{spec.item}" if spec.item else path
                item_name = spec.item or spec.xsd
                items = [
                    entry._to_item(item_name) for entry in _models(cast("list[object]", value))
                ]
                children.append({"field": field_path, "items": items})
            elif isinstance(value, XnatModel):
                if value.xsd_inline:
                    value._flatten_json(data, children, path + "/", path)
                else:
                    children.append({"field": path, "items": [value._to_item(spec.xsd)]})

    # -- REST query-string form -----------------------------------------------------------
    def to_xpath_fields(self) -> dict[str, str]:
        """``{"xnat:mrSessionData/date": "2024-01-02", ...}`` for every simple value held."""
        fields: dict[str, str] = {}
        self._flatten_xpaths(fields, f"{self.xsi_type}/")
        return fields

    def _flatten_xpaths(self, fields: dict[str, str], prefix: str) -> None:
        for bound in self._all_fields():
            spec = bound.spec
            value = self.__dict__.get(spec.name)
            if value is None or spec.many:
                continue
            if spec.kind == "text":
                fields[prefix.rstrip("/")] = lexical(value)
            elif spec.target is None:
                fields[prefix + spec.xsd] = lexical(value)
            elif isinstance(value, XnatModel):
                step = spec.xsd
                if not value.xsd_inline:
                    step += f"[@xsi:type={value.xsi_type}]"
                value._flatten_xpaths(fields, f"{prefix}{step}/")

    def with_xpath_fields(self, fields: Mapping[str, str]) -> Self:
        """A copy with the given xpath fields set (``""`` clears a field).

        Raises ``XpathError`` naming the xpath for an unknown path or a rejected value; the
        original is never changed.
        """
        known = {
            klass.xsi_type
            for klass in type(self).__mro__
            if issubclass(klass, XnatModel) and klass.xsi_type
        }
        candidate: XnatModel = self.model_copy()
        for xpath, value in fields.items():
            root, _, rest = xpath.partition("/")
            if root not in known or not rest:
                raise XpathError(xpath, value, f"not a field of {self.xsi_type}")
            candidate = candidate._with_path(xpath, rest.split("/"), value)
        if not isinstance(candidate, type(self)):  # pragma: no cover - copies keep their class
            raise TypeError(f"{type(candidate).__name__} is not a {type(self).__name__}")
        return candidate

    def _with_path(self, xpath: str, steps: list[str], value: str) -> XnatModel:
        """A copy with the field at ``steps`` set to ``value`` (validated).

        Steps follow XNAT's query-string xpaths: ``scanner/manufacturer`` (an inline
        sub-element), ``scanner`` (the text of an element that also has attributes),
        ``demographics[@xsi:type=xnat:demographicData]/gender`` (a typed sub-object) and
        ``fields/field[name=site]/field`` (a keyed list entry; ``""`` removes it).
        """
        cls = type(self)
        step, *rest = steps
        name, _, predicate = step.partition("[")
        spec = cls.xsd_field(name)
        if spec is None:
            raise XpathError(xpath, value, f"{cls.__name__} has no {name!r}")
        candidate = self.model_copy()
        if spec.many:
            return candidate._with_keyed_entry(xpath, spec, rest, value)
        if spec.target is None:
            if rest:
                raise XpathError(xpath, value, f"{name!r} is a simple value")
            new_value: Any = None if value == "" else value
            try:
                cls.__pydantic_validator__.validate_assignment(candidate, spec.name, new_value)
            except ValidationError as exc:
                errors = exc.errors()
                raise XpathError(xpath, value, errors[0]["msg"] if errors else str(exc)) from None
            return candidate
        target = model_class(spec.target)
        if predicate:
            wanted = predicate.rstrip("]").partition("=")[2]
            target = _resolve(target, wanted)
        current = candidate._field_store().get(spec.name)
        if not isinstance(current, target):
            current = target.model_construct()
        if not rest:
            text = current._text_field()
            if text is None:
                raise XpathError(xpath, value, f"{name!r} is not a simple value")
            rest = [text.name]
        updated = current._with_path(xpath, rest, value)
        candidate._field_store()[spec.name] = updated
        candidate.__pydantic_fields_set__.add(spec.name)
        return candidate

    def _with_keyed_entry(
        self, xpath: str, spec: XsdField, steps: list[str], value: str
    ) -> XnatModel:
        """Set or remove the list entry chosen by ``item[key=wanted]`` (custom variables)."""
        entry_step = steps[0] if steps else ""
        item_name, _, predicate = entry_step.partition("[")
        key_name, _, wanted = predicate.rstrip("]").partition("=")
        if spec.target is None or item_name != (spec.item or spec.xsd) or not key_name:
            raise XpathError(xpath, value, "lists are only set by key, as item[key=value]")
        target = model_class(spec.target)
        key_field = target.xsd_field(key_name.lstrip("@"))
        if key_field is None:
            raise XpathError(xpath, value, f"{target.__name__} has no key {key_name!r}")
        tail = steps[1:]
        text = target._text_field()
        if tail in ([], [item_name]) and text is not None:
            tail = [text.name]
        stored = self._field_store().get(spec.name)
        held = cast("list[object]", stored) if isinstance(stored, list) else []
        entries: list[XnatModel] = list(_models(held))
        index = next(
            (
                position
                for position, entry in enumerate(entries)
                if entry._field_store().get(key_field.name) == wanted
            ),
            None,
        )
        if value == "" and tail and text is not None and tail == [text.name]:
            if index is not None:
                del entries[index]
        else:
            entry = entries[index] if index is not None else target.model_construct()
            entry = entry._with_path(xpath, [key_field.name], wanted)._with_path(xpath, tail, value)
            if index is None:
                entries.append(entry)
            else:
                entries[index] = entry
        self._field_store()[spec.name] = entries
        self.__pydantic_fields_set__.add(spec.name)
        return self

    @classmethod
    def _text_field(cls) -> XsdField | None:
        return next((b.spec for b in cls._all_fields() if b.spec.kind == "text"), None)

    # -- XML document ---------------------------------------------------------------------
    @classmethod
    def from_xml(cls, xml: str | bytes) -> Self:
        """Parse an XML document (``<xnat:MRSession ...>``) of this type or a subtype."""
        root, namespaces = parse_document(xml)
        klass = _class_of_element(root, namespaces, XnatModel)
        if klass is XnatModel:
            klass = cls
        elif not issubclass(klass, cls):
            raise TypeError(f"the document holds a {klass.__name__}, not a {cls.__name__}")
        result = klass._from_element(root, namespaces)
        if not isinstance(result, cls):
            raise TypeError(f"the document holds a {type(result).__name__}, not a {cls.__name__}")
        return result

    @classmethod
    def _from_element(cls, element: ET.Element[str], namespaces: Mapping[str, str]) -> XnatModel:
        values: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        by_name: dict[str, list[ET.Element[str]]] = {}
        for child in element:
            by_name.setdefault(_local(child.tag), []).append(child)
        attribute_names: set[str] = set()
        for bound in cls._all_fields():
            spec = bound.spec
            if spec.kind == "attribute":
                attribute_names.add(spec.xsd)
                if spec.xsd in element.attrib:
                    _put_scalar(values, spec, element.attrib[spec.xsd])
            elif spec.kind == "text":
                if element.text is not None and element.text.strip():
                    _put_scalar(values, spec, element.text)
            else:
                found = by_name.pop(spec.xsd, [])
                if spec.item:
                    found = [item for kid in found for item in kid if _local(item.tag) == spec.item]
                if not found:
                    continue
                if spec.target is None:
                    texts = [kid.text or "" for kid in found]
                    _put_scalar(values, spec, texts if spec.many else texts[0])
                    continue
                target = model_class(spec.target)
                parsed = [
                    _class_of_element(kid, namespaces, target)._from_element(kid, namespaces)
                    for kid in found
                ]
                values[spec.name] = parsed if spec.many else parsed[0]
        for name, value in element.attrib.items():
            if not name.startswith("{") and name not in attribute_names:
                extras[name] = value
        for name, kids in by_name.items():
            if len(kids) == 1 and len(kids[0]) == 0:
                extras[name] = kids[0].text or ""
        return cls.model_validate({**extras, **values})

    def to_xml(self) -> str:
        """The XML document of this object, as the server's ``?format=xml`` returns it."""
        document_class = next(
            (
                klass
                for klass in type(self).__mro__
                if issubclass(klass, XnatModel) and klass.xml_element
            ),
            None,
        )
        if document_class is None or document_class.xml_element is None:
            raise ValueError(f"{type(self).__name__} has no global XML element to write")
        prefixes: set[str] = set()
        body: list[str] = []
        force_type = document_class is not type(self)
        self._write_element(document_class.xml_element, body, prefixes, force_type)
        declarations = "".join(
            f" xmlns:{prefix}={quoteattr(namespace)}"
            for namespace, prefix in sorted(_PREFIXES.items(), key=lambda item: item[1])
            if prefix in prefixes
        )
        # body[0] is "<prefix:Element" (attributes follow as separate parts).
        body[0] += declarations + f" xmlns:xsi={quoteattr(XSI_NS)}"
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + "".join(body) + "\n"

    def _write_element(
        self, tag: str, out: list[str], prefixes: set[str], force_type: bool
    ) -> None:
        prefixes.add(tag.split(":", 1)[0])
        attributes: list[str] = []
        if force_type and not self.xsd_inline:
            attributes.append(f' xsi:type="{escape(self.xsi_type)}"')
            prefixes.add(self.xsi_type.split(":", 1)[0])
        text: str | None = None
        inner: list[str] = []
        for bound in self._all_fields():
            spec = bound.spec
            value = self.__dict__.get(spec.name)
            if value is None:
                continue
            if spec.kind == "attribute":
                attributes.append(f" {spec.xsd}={quoteattr(lexical(value))}")
                continue
            if spec.kind == "text":
                text = lexical(value)
                continue
            child_tag = f"{_PREFIXES.get(bound.namespace, '')}:{spec.xsd}"
            values: list[Any] = value if spec.many else [value]
            if spec.item:
                if not values:
                    continue
                inner.append(f"<{child_tag}>")
                prefixes.add(child_tag.split(":", 1)[0])
                item_tag = f"{_PREFIXES.get(bound.namespace, '')}:{spec.item}"
                self._write_values(values, item_tag, spec, inner, prefixes)
                inner.append(f"</{child_tag}>")
            else:
                self._write_values(values, child_tag, spec, inner, prefixes)
        out.append(f"<{tag}{''.join(attributes)}")
        if text is None and not inner:
            out.append("/>")
            return
        out.append(">")
        if text is not None:
            out.append(escape(text))
        out.extend(inner)
        out.append(f"</{tag}>")

    @staticmethod
    def _write_values(
        values: list[Any], tag: str, spec: XsdField, out: list[str], prefixes: set[str]
    ) -> None:
        prefixes.add(tag.split(":", 1)[0])
        for value in values:
            if isinstance(value, XnatModel):
                declared = model_class(spec.target) if spec.target else type(value)
                value._write_element(tag, out, prefixes, type(value) is not declared)
            else:
                out.append(f"<{tag}>{escape(lexical(value))}</{tag}>")


def lexical(value: object) -> str:
    """The XSD lexical form of a simple value (``True`` -> ``"true"``, dates in ISO 8601)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_document(xml: str | bytes) -> tuple[ET.Element[str], dict[str, str]]:
    """The root element and the prefix -> namespace map of an XML document."""
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    namespaces: dict[str, str] = {}
    root: ET.Element[str] | None = None
    try:
        for event, payload in ET.iterparse(io.BytesIO(raw), events=("start", "start-ns")):
            if event == "start-ns":
                prefix, uri = payload
                namespaces.setdefault(str(prefix), str(uri))
            elif root is None:
                root = cast("ET.Element[str]", payload)
    except ET.ParseError as exc:
        raise ValueError(f"not a well-formed XML document: {exc}") from None
    if root is None:
        raise ValueError("not an XML document: no root element")
    return root, namespaces


def _class_of_element(
    element: ET.Element[str], namespaces: Mapping[str, str], declared: type[XnatModel]
) -> type[XnatModel]:
    """The class of ``element``: its xsi:type, else its global element, else ``declared``."""
    qualified = element.get(f"{{{XSI_NS}}}type")
    if qualified is not None:
        prefix, _, local = qualified.rpartition(":")
        namespace = namespaces.get(prefix, "")
        klass = _BY_QNAME.get((namespace, local)) or _registry_qname("XSI_TYPES", namespace, local)
        if klass is None:
            return _unknown(declared, qualified, _element_keys(element))
        return _narrower(klass, declared, qualified)
    if element.tag.startswith("{"):
        namespace, local = element.tag[1:].split("}", 1)
        klass = _BY_ELEMENT.get((namespace, local)) or _registry_qname("ELEMENTS", namespace, local)
        if klass is not None and issubclass(klass, declared):
            return klass
        if klass is None and declared is XnatModel:
            return _unknown(declared, f"{{{namespace}}}{local}", _element_keys(element))
    return declared


def _element_keys(element: ET.Element[str]) -> set[str]:
    """Attribute and child element names: what an unknown type's kind is guessed from."""
    return {_local(name) for name in element.attrib} | {_local(kid.tag) for kid in element}


def _registry_qname(table: str, namespace: str, local: str) -> type[XnatModel] | None:
    """A registry lookup by namespace URI (the registry knows XNAT's prefix for each)."""
    prefix = _PREFIXES.get(namespace)
    if prefix is None:
        namespaces = _registry_namespaces()
        prefix = namespaces.get(namespace)
    return _registry_lookup(table, f"{prefix}:{local}") if prefix else None


def _registry_namespaces() -> Mapping[str, str]:
    try:
        registry = importlib.import_module(GENERATED_REGISTRY)
    except ImportError:  # pragma: no cover - the registry is committed with the package
        return {}
    namespaces = getattr(registry, "NAMESPACES", None)
    return cast("Mapping[str, str]", namespaces) if isinstance(namespaces, Mapping) else {}


def _resolve(
    declared: type[XnatModel], xsi_type: str | None, keys: Collection[str] = ()
) -> type[XnatModel]:
    """The class for ``xsi_type`` in a slot typed ``declared`` (``keys``: the data's names)."""
    if not xsi_type or xsi_type == declared.xsi_type:
        return declared
    klass = _BY_XSI_TYPE.get(xsi_type) or _registry_lookup("XSI_TYPES", xsi_type)
    if klass is None:
        if (
            declared.xsd_inline
            and xsi_type.partition(":")[0] == declared.xsi_type.partition(":")[0]
        ):
            return declared
        return _unknown(declared, xsi_type, keys)
    return _narrower(klass, declared, xsi_type)


def _narrower(klass: type[XnatModel], declared: type[XnatModel], xsi_type: str) -> type[XnatModel]:
    if issubclass(klass, declared):
        return klass
    if declared is XnatModel or issubclass(declared, klass):
        return declared
    raise ValueError(
        f"xsi:type {xsi_type} is not a kind of {declared.xsi_type or declared.__name__}"
    )


#: Names that tell the XNAT kind of an object whose type is unknown (a site's plugin type met
#: outside any typed slot): (name in its data, xsi:type of the nearest known base).
_KIND_MARKERS = (
    ("imageSession_ID", "xnat:imageAssessorData"),
    ("subject_ID", "xnat:subjectAssessorData"),
    ("image_session_ID", "xnat:imageScanData"),
)


def _unknown(
    declared: type[XnatModel], xsi_type: str, keys: Collection[str] = ()
) -> type[XnatModel]:
    """``declared`` (or, outside a typed slot, the base its data points to), with a warning."""
    if declared is XnatModel:
        marker = next((base for name, base in _KIND_MARKERS if name in keys), None)
        guessed = class_for_xsi_type(marker) if marker else None
        declared = guessed or declared
    warnings.warn(
        f"unknown xsi:type {xsi_type!r}: loaded as {declared.__name__} with its other fields "
        "kept as extras",
        UnknownTypeWarning,
        stacklevel=4,
    )
    return declared


def _meta_type(item: Mapping[str, Any]) -> str | None:
    meta = cast("Mapping[str, object]", item.get("meta") or {})
    value = meta.get("xsi:type")
    return str(value) if value else None


def _put_scalar(values: dict[str, Any], spec: XsdField, raw: Any) -> None:
    """Store a wire value; an empty string means "no value" for anything but a string."""
    if raw == "" and spec.scalar not in ("str", "json"):
        return
    values[spec.name] = raw


def _json_value(value: object) -> object:
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return value


def _models(values: list[object]) -> Iterator[XnatModel]:
    for value in values:
        if isinstance(value, XnatModel):
            yield value


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
