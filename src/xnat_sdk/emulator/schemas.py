"""The XSD files the emulator serves, under the names XNAT's ``/xapi/schemas`` uses.

A schema is named by its folder when the folder and file names agree (``xnat/xnat.xsd`` ->
``xnat``) and by ``folder/file`` otherwise (``pipeline/workflow.xsd`` -> ``pipeline/workflow``),
as NrgXnat/xnat ``SchemaApi`` lists them.
"""

from __future__ import annotations

from pathlib import Path

# xnat.xsd derives types from ``xdat:LONGVARCHAR`` and ``xdat:jsonb``, XFT pseudo-types that no
# served XSD declares; clients that build classes from the schemas (xnatpy) fail on the missing
# base. The emulator therefore also serves this small schema declaring both as strings.
PSEUDO_TYPES_NAME = "xdat/pseudotypes"
PSEUDO_TYPES_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Served by the xnat-sdk emulator, not an XNAT file: XFT pseudo-types as plain strings. -->
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xdat="http://nrg.wustl.edu/xdat"
    targetNamespace="http://nrg.wustl.edu/xdat" elementFormDefault="qualified">
  <xs:simpleType name="LONGVARCHAR"><xs:restriction base="xs:string"/></xs:simpleType>
  <xs:simpleType name="jsonb"><xs:restriction base="xs:string"/></xs:simpleType>
</xs:schema>
"""


class SchemaCatalog:
    """Schema files below a folder laid out as ``<folder>/<file>.xsd``."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._by_name: dict[str, Path] = {}
        if root is not None:
            for path in sorted(root.glob("*/*.xsd")):
                folder, stem = path.parent.name, path.stem
                name = folder if folder == stem else f"{folder}/{stem}"
                self._by_name[name] = path

    def names(self) -> list[str]:
        return [*self._by_name, PSEUDO_TYPES_NAME] if self._by_name else []

    def by_name(self, name: str) -> Path | None:
        return self._by_name.get(name)

    def is_pseudo_types(self, name: str) -> bool:
        """Whether ``name`` is the emulator's own pseudo-type schema (served from memory)."""
        return bool(self._by_name) and name in (PSEUDO_TYPES_NAME, f"{PSEUDO_TYPES_NAME}.xsd")

    def by_file(self, folder: str, file_name: str) -> Path | None:
        """The schema ``<folder>/<file_name>`` (``file_name`` with its ``.xsd``)."""
        if self.root is None or "/" in folder or "/" in file_name or folder.startswith("."):
            return None
        path = self.root / folder / file_name
        return path if path.suffix == ".xsd" and path.is_file() else None
