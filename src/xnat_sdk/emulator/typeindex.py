"""What the emulator knows of the XNAT data types, read from the XSD files it serves.

For every complex type: its prefixed name (``xnat:mrSessionData``), its base type, and its
simple fields as paths relative to the type (``date``, ``scanner``, ``scanner/manufacturer``),
each marked element or attribute, with its XSD value type and enumeration. That is enough to
validate ``xsiType=`` and query-string fields (unknown type or bad value -> 400), to tell a
session from a scan or an assessor, and to write XML documents with attributes and elements
in the right places. Nested object lists (``scans/scan``) are recorded as child paths.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

XS = "{http://www.w3.org/2001/XMLSchema}"
MAX_DEPTH = 4


@dataclass(frozen=True)
class Leaf:
    """A simple value inside a type: an attribute or a text-bearing element."""

    path: str
    is_attribute: bool
    value_type: str  # local XSD name: "string", "date", "integer", ...
    enumeration: tuple[str, ...] = ()


@dataclass
class TypeInfo:
    name: str
    base: str | None
    abstract: bool
    leaves: dict[str, Leaf] = field(default_factory=dict[str, Leaf])
    child_lists: dict[str, str] = field(default_factory=dict[str, str])  # "scans/scan" -> item type
    # single nested objects of a named type: "demographics" -> "xnat:abstractDemographicData"
    nested: dict[str, str] = field(default_factory=dict[str, str])


class FieldValueError(ValueError):
    """A field path or value the schema does not allow."""


class TypeIndex:
    """The data types of a set of XSD files (``<folder>/<file>.xsd``)."""

    def __init__(self, schemas_dir: Path | None) -> None:
        self.types: dict[str, TypeInfo] = {}
        self.elements: dict[str, str] = {}  # "xnat:MRSession" -> "xnat:mrSessionData"
        self.type_element: dict[str, str] = {}  # the reverse, first element wins
        self.namespaces: dict[str, str] = {}  # prefix -> namespace URI
        self._raw: dict[str, tuple[ET.Element, dict[str, str], str]] = {}
        if schemas_dir is not None:
            for path in sorted(schemas_dir.glob("*/*.xsd")):
                self._read(path)
            for name in self._raw:
                self._build(name)

    # reading -------------------------------------------------------------------------------
    def _read(self, path: Path) -> None:
        nsmap: dict[str, str] = {}
        for _event, (prefix, uri) in ET.iterparse(path, events=("start-ns",)):
            nsmap.setdefault(prefix, uri)
        root = ET.parse(path).getroot()
        target = root.get("targetNamespace", "")
        own = next((p for p, uri in nsmap.items() if uri == target and p), None)
        if own is None:
            return
        self.namespaces.setdefault(own, target)
        by_uri = {uri: prefix for prefix, uri in nsmap.items()}
        resolve = {prefix: by_uri.get(uri, prefix) for prefix, uri in nsmap.items()}
        for child in root:
            name = child.get("name")
            if name is None:
                continue
            if child.tag == f"{XS}complexType":
                self._raw[f"{own}:{name}"] = (child, resolve, own)
            elif child.tag == f"{XS}element" and child.get("type"):
                element = f"{own}:{name}"
                type_name = _qualify(child.get("type", ""), resolve)
                self.elements[element] = type_name
                self.type_element.setdefault(type_name, element)

    def _build(self, name: str) -> TypeInfo:
        known = self.types.get(name)
        if known is not None:
            return known
        node, resolve, _own = self._raw[name]
        extension = node.find(f"{XS}complexContent/{XS}extension")
        base = _qualify(extension.get("base", ""), resolve) if extension is not None else None
        info = TypeInfo(name, base, node.get("abstract") == "true")
        self.types[name] = info
        self._collect(extension if extension is not None else node, "", info, resolve, 0)
        return info

    def _collect(
        self, node: ET.Element, prefix: str, info: TypeInfo, resolve: dict[str, str], depth: int
    ) -> None:
        """Record the fields declared directly in ``node`` (sequence, choice, attributes)."""
        if depth > MAX_DEPTH:
            return
        for child in node:
            tag = child.tag
            if tag in (f"{XS}sequence", f"{XS}choice", f"{XS}all"):
                self._collect(child, prefix, info, resolve, depth)
            elif tag == f"{XS}attribute" and child.get("name"):
                path = prefix + child.get("name", "")
                info.leaves[path] = Leaf(path, True, *_simple_type(child, resolve))
            elif tag == f"{XS}element" and child.get("name"):
                self._element(child, prefix + child.get("name", ""), info, resolve, depth)

    def _element(
        self, node: ET.Element, path: str, info: TypeInfo, resolve: dict[str, str], depth: int
    ) -> None:
        declared = node.get("type")
        if declared is not None:
            qualified = _qualify(declared, resolve)
            if qualified in self._raw:
                if node.get("maxOccurs") == "unbounded":
                    info.child_lists[path] = qualified
                else:  # a nested single object: its fields become ours under this path
                    info.nested[path] = qualified
                    nested = self._raw[qualified]
                    extension = nested[0].find(f"{XS}complexContent/{XS}extension")
                    self._collect(
                        extension if extension is not None else nested[0],
                        path + "/",
                        info,
                        nested[1],
                        depth + 1,
                    )
                return
            info.leaves[path] = Leaf(path, False, *_simple_type(node, resolve))
            return
        inline = node.find(f"{XS}complexType")
        if inline is None:
            info.leaves[path] = Leaf(path, False, *_simple_type(node, resolve))
            return
        simple = inline.find(f"{XS}simpleContent/{XS}extension")
        if simple is not None:  # text plus attributes, e.g. <scanner manufacturer="GE">
            base = simple.get("base", "xs:string").split(":")[-1]
            info.leaves[path] = Leaf(path, False, base)
            self._collect(simple, path + "/", info, resolve, depth + 1)
            return
        self._collect(inline, path + "/", info, resolve, depth + 1)

    # queries -------------------------------------------------------------------------------
    def chain(self, name: str) -> list[TypeInfo]:
        """``name`` and its base types, most derived first."""
        found: list[TypeInfo] = []
        current: str | None = name
        while current is not None and current in self.types and len(found) < 32:
            info = self.types[current]
            found.append(info)
            current = info.base
        return found

    def is_a(self, name: str, ancestor: str) -> bool:
        return any(info.name == ancestor for info in self.chain(name))

    def leaves(self, name: str) -> dict[str, Leaf]:
        """Every simple field of ``name``, base types' first (document order)."""
        merged: dict[str, Leaf] = {}
        for info in reversed(self.chain(name)):
            merged.update(info.leaves)
        return merged

    def nested_objects(self, name: str) -> dict[str, str]:
        """Single nested objects of a named type (``PI``, ``demographics``) -> their type."""
        merged: dict[str, str] = {}
        for info in reversed(self.chain(name)):
            merged.update(info.nested)
        return merged

    def child_lists(self, name: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for info in reversed(self.chain(name)):
            merged.update(info.child_lists)
        return merged

    def check_field(self, xsi_type: str, path: str, value: str) -> str:
        """The canonical spelling of field ``path`` of ``xsi_type`` (XNAT matches xpaths
        without regard to case); ``FieldValueError`` unless the field exists and takes
        ``value``."""
        bare = re.sub(r"\[[^\]]*\]", "", path)
        leaves = self.leaves(xsi_type)
        leaf = leaves.get(bare)
        if leaf is None:
            folded = {name.lower(): found for name, found in leaves.items()}
            leaf = folded.get(bare.lower())
            if leaf is not None and bare == path:
                path = leaf.path
        if leaf is None:
            first = bare.split("/")[0]
            nested = any(first in info.nested for info in self.chain(xsi_type))
            if nested or any(p.startswith(first + "/") for p in leaves):
                return path  # deeper structures (demographics, custom fields) kept as given
            raise FieldValueError(f"Invalid field {xsi_type}/{path}: no such field")
        if value == "":
            return path
        if leaf.enumeration and value not in leaf.enumeration:
            allowed = ", ".join(leaf.enumeration)
            raise FieldValueError(
                f"Invalid value {value!r} for {xsi_type}/{path}: one of {allowed}"
            )
        if not _valid_value(leaf.value_type, value):
            raise FieldValueError(
                f"Invalid value {value!r} for {xsi_type}/{path}: not a valid {leaf.value_type}"
            )
        return path


def _qualify(name: str, resolve: dict[str, str]) -> str:
    prefix, _, local = name.rpartition(":")
    return f"{resolve.get(prefix, prefix)}:{local}" if prefix else name


def _simple_type(node: ET.Element, resolve: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    declared = node.get("type")
    if declared is not None:
        return declared.split(":")[-1], ()
    restriction = node.find(f"{XS}simpleType/{XS}restriction")
    if restriction is None:
        return "string", ()
    values = tuple(e.get("value", "") for e in restriction.findall(f"{XS}enumeration"))
    return restriction.get("base", "xs:string").split(":")[-1], values


_INTEGER_TYPES = {"int", "integer", "long", "short", "nonNegativeInteger", "positiveInteger"}


def _valid_value(value_type: str, value: str) -> bool:
    try:
        if value_type in _INTEGER_TYPES:
            int(value)
        elif value_type in ("float", "double", "decimal"):
            float(value)
        elif value_type == "boolean":
            return value.lower() in ("true", "false", "1", "0")
        elif value_type == "date":
            date.fromisoformat(value)
        elif value_type == "dateTime":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif value_type == "time":
            time.fromisoformat(value)
    except ValueError:
        return False
    return True
