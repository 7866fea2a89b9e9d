"""XSD files -> intermediate model (``codegen.ir``). The only module that knows XSD.

The schema set is loaded into one ``xmlschema`` global map. XNAT's XFT pseudo-types
``xdat:jsonb`` and ``xdat:LONGVARCHAR`` are declared by no XNAT file, so a small shim schema
(``../shared/schemas/shim``) is added for the ``http://nrg.wustl.edu/xdat`` namespace before the
build (see ``../shared/schemas/MANIFEST.md``). QNames are resolved by namespace URI, never by
prefix: ``security.xsd`` binds ``xdat`` to ``http://nrg.wustl.edu/security``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xmlschema

from codegen import naming
from codegen.ir import (
    BEHAVIOURS,
    NAVIGATION,
    FieldSpec,
    ListingSpec,
    NavigationSpec,
    ScalarKind,
    ScalarSpec,
    SchemaFile,
    TypeSpec,
)

XS_NS = "http://www.w3.org/2001/XMLSchema"
XDAT_NS = "http://nrg.wustl.edu/xdat"

_BUILTIN_KINDS: dict[str, ScalarKind] = {
    "boolean": "bool",
    "integer": "int",
    "int": "int",
    "long": "int",
    "short": "int",
    "byte": "int",
    "nonNegativeInteger": "int",
    "positiveInteger": "int",
    "nonPositiveInteger": "int",
    "negativeInteger": "int",
    "unsignedLong": "int",
    "unsignedInt": "int",
    "unsignedShort": "int",
    "unsignedByte": "int",
    "float": "float",
    "double": "float",
    "decimal": "float",
    "date": "date",
    "dateTime": "datetime",
    "time": "time",
}

#: Non-standard types, mapped deliberately (docs/codegen.md "Type mapping").
_PSEUDO_KINDS: dict[str, ScalarKind] = {
    f"{{{XDAT_NS}}}jsonb": "json",
    f"{{{XDAT_NS}}}LONGVARCHAR": "str",
}

_UNTYPED = ScalarSpec(kind="str", xsd_type="xs:anyType")

#: Lexical forms of built-in types kept as ``str`` (``xs:duration`` has no exact Python type).
_BUILTIN_PATTERNS: dict[str, str] = {
    # Rust-regex compatible (no look-ahead), so the bare "P" slips through.
    "xs:duration": (
        r"^-?P((\d+Y)(\d+M)?(\d+D)?|(\d+M)(\d+D)?|(\d+D))?"
        r"(T((\d+H)(\d+M)?(\d+(\.\d+)?S)?|(\d+M)(\d+(\.\d+)?S)?|(\d+(\.\d+)?S)))?$"
    ),
}


class SchemaError(Exception):
    """A schema that cannot be read; the message names the file and, where known, the type."""


@dataclass(frozen=True)
class _Particle:
    element: Any  # xmlschema XsdElement
    optional: bool
    many: bool


def load_schema_set(files: Sequence[Path], shim: Path | None) -> Any:
    """One built ``xmlschema`` global map holding every file (and the shim)."""
    if not files:
        raise SchemaError("no schema files given")
    first, *rest = files
    current = first
    try:
        schema = xmlschema.XMLSchema(str(first), build=False)
        if shim is not None and not any(_declares_pseudo_types(path) for path in files):
            schema.add_schema(str(shim), namespace=XDAT_NS)
        for path in rest:
            current = path
            schema.add_schema(str(path))
        current = first
        schema.build()
    except xmlschema.XMLSchemaException as exc:
        raise SchemaError(f"{_blame(exc, files)}: {_reason(exc)}") from exc
    except Exception as exc:  # a file that is not XML at all (ElementTree, OSError)
        raise SchemaError(f"{current}: cannot parse schema: {exc}") from exc
    return schema


def _declares_pseudo_types(path: Path) -> bool:
    """Whether a file already declares ``xdat:LONGVARCHAR`` (a server's own shim)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return False
    if root.get("targetNamespace") != XDAT_NS:
        return False
    return any(node.get("name") == "LONGVARCHAR" for node in root.iter(f"{{{XS_NS}}}simpleType"))


def _blame(exc: Exception, files: Sequence[Path]) -> str:
    """The schema file an xmlschema error comes from (its URL is in the message)."""
    text = str(exc)
    for path in files:
        if path.name in text:
            return str(path)
    source = getattr(exc, "source", None) or getattr(exc, "url", None)
    return str(source) if source else str(files[0])


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    return str(message) if message else str(exc).splitlines()[0]


def read_schemas(
    folder: Path, files: Sequence[SchemaFile], shim: Path | None, extra: Sequence[Path] = ()
) -> list[TypeSpec]:
    """Every named complex type of every namespace, and each anonymous inline type."""
    paths = [folder / schema_file.path for schema_file in files]
    schema = load_schema_set([*paths, *extra], shim)
    reader = _Reader(schema, folder)
    return reader.read()


class _Reader:
    def __init__(self, schema: Any, folder: Path) -> None:
        self.schema = schema
        self.folder = folder
        self.prefixes = _prefixes(schema)
        self.types: dict[str, TypeSpec] = {}
        self.global_elements: dict[str, list[str]] = {}

    def read(self) -> list[TypeSpec]:
        maps = self.schema.maps
        for qname, element in sorted(maps.elements.items()):
            type_name = getattr(element.type, "name", None)
            ns = _namespace(qname)
            if type_name and ns in self.prefixes and _namespace(type_name) in self.prefixes:
                label = f"{self.prefixes[ns]}:{element.local_name}"
                self.global_elements.setdefault(type_name, []).append(label)
        named = [
            (qname, xsd_type)
            for qname, xsd_type in maps.types.items()
            if xsd_type.is_complex() and _namespace(qname) in self.prefixes
        ]
        for qname, xsd_type in sorted(named, key=lambda item: item[0]):
            self._named_type(qname, xsd_type)
        self._check_references()
        return sorted(self.types.values(), key=lambda spec: (spec.prefix, spec.key))

    # -- types ---------------------------------------------------------------------------
    def _named_type(self, qname: str, xsd_type: Any) -> None:
        ns, local = _namespace(qname), qname.rsplit("}", 1)[-1]
        prefix = self.prefixes[ns]
        xsi = naming.xsi_type(prefix, local)
        spec = TypeSpec(
            key=qname,
            namespace=ns,
            prefix=prefix,
            class_name=naming.class_name(prefix, local),
            xsi_type=xsi,
            named=True,
            base=self._named_base(xsd_type),
            doc=_documentation(xsd_type),
            abstract=_is_abstract(xsd_type),
            elements=sorted(self.global_elements.get(qname, [])),
            source_file=self._source(xsd_type),
        )
        self.types[qname] = spec
        navigation = [nav for nav in NAVIGATION if nav.owner_xsi_type == xsi]
        chain = self._type_chain(xsd_type, xsi)
        reserved = frozenset(nav.name for nav in NAVIGATION if nav.owner_xsi_type in chain)
        reserved |= {name for b in BEHAVIOURS if b.owner_xsi_type in chain for name in b.names}
        spec.fields = self._fields(xsd_type, spec, local, (), (), reserved)
        spec.navigation = [_navigation_spec(nav) for nav in navigation]
        spec.behaviour = next((b.mixin for b in BEHAVIOURS if b.owner_xsi_type == xsi), None)

    def _type_chain(self, xsd_type: Any, xsi: str) -> set[str]:
        """The xsi:types of this type and all its bases: names they declare are reserved."""
        chain = {xsi}
        current = xsd_type.base_type
        while current is not None and getattr(current, "name", None):
            name = current.name
            if _namespace(name) in self.prefixes:
                chain.add(naming.xsi_type(self.prefixes[_namespace(name)], current.local_name))
            current = getattr(current, "base_type", None)
        return chain

    def _named_base(self, xsd_type: Any) -> str | None:
        base = getattr(xsd_type, "base_type", None)
        if base is None or not base.is_complex():
            return None
        name = getattr(base, "name", None)
        if name is None or _namespace(name) == XS_NS:
            return None
        if _namespace(name) not in self.prefixes:
            raise SchemaError(
                f"{self._source(xsd_type)}: type {xsd_type.name} extends {name}, "
                "which is in no schema of the set"
            )
        return str(name)

    def _inline_type(
        self,
        xsd_type: Any,
        owner: TypeSpec,
        owner_local: str,
        path: tuple[str, ...],
        xsi_path: tuple[str, ...],
    ) -> str:
        """Register an anonymous type found at ``path`` below the named type ``owner_local``."""
        key = f"{{{owner.namespace}}}{owner_local}/{'/'.join(path)}"
        root_class = naming.class_name(owner.prefix, owner_local)
        spec = TypeSpec(
            key=key,
            namespace=owner.namespace,
            prefix=owner.prefix,
            class_name=naming.inline_class_name(root_class, path),
            xsi_type=naming.inline_xsi_type(owner.prefix, owner_local, xsi_path),
            named=False,
            base=self._named_base(xsd_type),
            doc=_documentation(xsd_type),
            source_file=owner.source_file,
        )
        self.types[key] = spec
        spec.fields = self._fields(xsd_type, spec, owner_local, path, xsi_path)
        return key

    # -- fields --------------------------------------------------------------------------
    def _fields(
        self,
        xsd_type: Any,
        spec: TypeSpec,
        owner_local: str,
        path: tuple[str, ...],
        xsi_path: tuple[str, ...],
        reserved: frozenset[str] = frozenset(),
    ) -> list[FieldSpec]:
        base = xsd_type.base_type if spec.base else None
        inherited_attributes: set[str] = set(base.attributes) if base is not None else set()
        inherited_elements: set[str] = (
            {element.name for element in base.content.iter_elements()}
            if base is not None and not base.has_simple_content()
            else set()
        )
        fields: list[FieldSpec] = []
        used: set[str] = set(reserved)

        def python_name(xsd_name: str) -> str:
            name = naming.field_name(xsd_name, frozenset(used))
            while name in used:
                name += "_"
            used.add(name)
            return name

        for attribute_name, attribute in xsd_type.attributes.items():
            if attribute_name in inherited_attributes or attribute_name is None:
                continue
            local = attribute.local_name
            fields.append(
                FieldSpec(
                    xsd_name=local,
                    python_name=python_name(local),
                    kind="attribute",
                    scalar=self._scalar(attribute.type, spec, local),
                    target=None,
                    many=False,
                    optional=attribute.use != "required",
                    default=attribute.default,
                    doc=_documentation(attribute),
                )
            )
        if xsd_type.has_simple_content():
            if base is None or not base.has_simple_content():
                text_name = "text" if "value" in used else "value"
                used.add(text_name)
                fields.insert(
                    0,
                    FieldSpec(
                        xsd_name=text_name,
                        python_name=text_name,
                        kind="text",
                        scalar=self._scalar(xsd_type.content, spec, text_name),
                        target=None,
                        many=False,
                        optional=True,
                        default=None,
                        doc="The text content of the element.",
                    ),
                )
            return fields
        if not hasattr(xsd_type.content, "iter_elements"):
            return fields
        for particle in _particles(xsd_type.content, optional=False, many=False):
            element = particle.element
            if element.name in inherited_elements:
                continue
            fields.append(
                self._element_field(
                    element, particle, spec, owner_local, path, xsi_path, python_name
                )
            )
        return fields

    def _element_field(
        self,
        element: Any,
        particle: _Particle,
        spec: TypeSpec,
        owner_local: str,
        path: tuple[str, ...],
        xsi_path: tuple[str, ...],
        python_name: Callable[[str], str],
    ) -> FieldSpec:
        local = element.local_name
        element_type = element.type
        scalar: ScalarSpec | None = None
        target: str | None = None
        item_name: str | None = None
        many = particle.many
        if element_type.is_simple():
            scalar = self._scalar(element_type, spec, local)
        elif getattr(element_type, "name", None) == f"{{{XS_NS}}}anyType":
            scalar = _UNTYPED
        elif getattr(element_type, "name", None):
            target = str(element_type.name)
            if _namespace(target) not in self.prefixes:
                raise SchemaError(
                    f"{spec.source_file}: {spec.xsi_type}/{local} has the unknown type {target}"
                )
        else:
            wrapped = _wrapped_item(element_type)
            if wrapped is not None and not many:
                wrapped_name: str = wrapped.local_name
                item_name = wrapped_name
                many = True
                item_type = wrapped.type
                if item_type.is_simple():
                    scalar = self._scalar(item_type, spec, f"{local}/{item_name}")
                elif getattr(item_type, "name", None) == f"{{{XS_NS}}}anyType":
                    scalar = _UNTYPED
                elif getattr(item_type, "name", None):
                    target = str(item_type.name)
                else:
                    target = self._inline_type(
                        item_type,
                        spec,
                        owner_local,
                        (*path, local, wrapped_name),
                        (*xsi_path, wrapped_name),
                    )
            else:
                target = self._inline_type(
                    element_type, spec, owner_local, (*path, local), (*xsi_path, local)
                )
        return FieldSpec(
            xsd_name=local,
            python_name=python_name(local),
            kind="element",
            scalar=scalar,
            target=target,
            many=many,
            optional=particle.optional,
            default=element.default,
            doc=_documentation(element),
            item_name=item_name,
        )

    def _scalar(self, simple_type: Any, spec: TypeSpec, where: str) -> ScalarSpec:
        kind: ScalarKind = "str"
        xsd_name = "xs:string"
        current = simple_type
        while current is not None:
            name = getattr(current, "name", None)
            if name in _PSEUDO_KINDS:
                kind, xsd_name = _PSEUDO_KINDS[name], "xdat:" + name.rsplit("}", 1)[-1]
                break
            if name is not None and _namespace(name) == XS_NS:
                local = name.rsplit("}", 1)[-1]
                kind, xsd_name = _BUILTIN_KINDS.get(local, "str"), "xs:" + local
                break
            if name is not None and getattr(current, "is_complex", lambda: False)():
                break
            current = getattr(current, "base_type", None)
        if current is None:
            raise SchemaError(f"{spec.source_file}: {spec.xsi_type}/{where} has no simple type")
        facets = getattr(simple_type, "facets", {}) or {}
        enumeration = tuple(str(value) for value in (simple_type.enumeration or ()))
        return ScalarSpec(
            kind=kind,
            xsd_type=xsd_name,
            enumeration=enumeration if kind == "str" else (),
            min_length=_facet(facets, "minLength"),
            max_length=_facet(facets, "maxLength"),
            ge=_facet(facets, "minInclusive") if kind in ("int", "float") else None,
            le=_facet(facets, "maxInclusive") if kind in ("int", "float") else None,
            gt=_facet(facets, "minExclusive") if kind in ("int", "float") else None,
            lt=_facet(facets, "maxExclusive") if kind in ("int", "float") else None,
            pattern=_BUILTIN_PATTERNS.get(xsd_name) if not enumeration else None,
        )

    def _check_references(self) -> None:
        for spec in self.types.values():
            for field_spec in spec.fields:
                if field_spec.target is not None and field_spec.target not in self.types:
                    raise SchemaError(
                        f"{spec.source_file}: {spec.xsi_type}/{field_spec.xsd_name} refers to "
                        f"the unknown type {field_spec.target}"
                    )

    def _source(self, component: Any) -> str:
        url = getattr(getattr(component, "schema", None), "url", None) or ""
        path = Path(str(url).removeprefix("file://"))
        try:
            return path.resolve().relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            return path.name


def _navigation_spec(listing: ListingSpec) -> NavigationSpec:
    """The property for a CONTRACT.md navigation entry (``FileData`` is not an XSD type)."""
    if listing.item_xsi_type is None:
        return NavigationSpec(listing.name, "FileData")
    prefix, local = listing.item_xsi_type.split(":", 1)
    return NavigationSpec(listing.name, naming.class_name(prefix, local))


def _particles(group: Any, optional: bool, many: bool) -> Iterator[_Particle]:
    """The elements of a model group with their effective optionality and repetition."""
    group_optional = optional or group.min_occurs == 0 or group.model == "choice"
    group_many = many or group.max_occurs is None or group.max_occurs > 1
    for item in group:
        if hasattr(item, "model"):
            yield from _particles(item, group_optional, group_many)
        elif isinstance(item, xmlschema.validators.XsdAnyElement):
            # xs:any: whatever appears there is kept as pydantic extras, not as a typed field.
            continue
        else:
            yield _Particle(
                element=item,
                optional=group_optional or item.min_occurs == 0,
                many=group_many or item.max_occurs is None or item.max_occurs > 1,
            )


def _wrapped_item(xsd_type: Any) -> Any:
    """The repeated child of a wrapper element (``<scans><scan/></scans>``), else None."""
    if xsd_type.attributes or xsd_type.has_simple_content():
        return None
    content = xsd_type.content
    if not hasattr(content, "iter_elements"):
        return None
    particles = list(_particles(content, optional=False, many=False))
    if len(particles) != 1 or not particles[0].many:
        return None
    return particles[0].element


def _prefixes(schema: Any) -> dict[str, str]:
    """Namespace URI -> prefix for every target namespace that holds complex types."""
    prefixes: dict[str, str] = {}
    for namespace in sorted(schema.maps.namespaces):
        if not namespace or namespace in (XS_NS, XDAT_NS):
            continue
        if namespace.startswith("http://www.w3.org/"):
            continue
        prefix = naming.KNOWN_PREFIXES.get(namespace)
        if prefix is None:
            prefix = _declared_prefix(schema, namespace)
        if prefix is None:
            raise SchemaError(f"namespace {namespace} has no prefix in any schema that uses it")
        prefixes[namespace] = prefix
    return prefixes


def _declared_prefix(schema: Any, namespace: str) -> str | None:
    for sub in schema.maps.namespaces[namespace]:
        for prefix, uri in sorted(sub.namespaces.items()):
            if uri == namespace and prefix:
                return str(prefix)
    return None


def _namespace(qname: str) -> str:
    return qname[1:].split("}", 1)[0] if qname.startswith("{") else ""


def _facet(facets: Any, name: str) -> Any:
    facet = facets.get(f"{{{XS_NS}}}{name}")
    if facet is None:
        return None
    value = facet.value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def _is_abstract(xsd_type: Any) -> bool:
    if getattr(xsd_type, "abstract", False):
        return True
    annotation = getattr(xsd_type, "annotation", None)
    for appinfo in getattr(annotation, "appinfo", None) or ():
        for child in appinfo.iter():
            if child.tag == f"{{{XDAT_NS}}}element" and child.get("abstract") == "true":
                return True
    return False


def _documentation(component: Any) -> str:
    annotation = getattr(component, "annotation", None)
    if annotation is None:
        return ""
    texts = [
        " ".join((doc.text or "").split())
        for doc in getattr(annotation, "documentation", None) or ()
    ]
    return " ".join(text for text in texts if text)
