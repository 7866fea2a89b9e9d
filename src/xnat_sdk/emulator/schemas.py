"""The XSD files the emulator serves, under the names XNAT's ``/xapi/schemas`` uses.

A schema is named by its folder when the folder and file names agree (``xnat/xnat.xsd`` ->
``xnat``) and by ``folder/file`` otherwise (``pipeline/workflow.xsd`` -> ``pipeline/workflow``),
as NrgXnat/xnat ``SchemaApi`` lists them.
"""

from __future__ import annotations

from pathlib import Path


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
        return list(self._by_name)

    def by_name(self, name: str) -> Path | None:
        return self._by_name.get(name)

    def by_file(self, folder: str, file_name: str) -> Path | None:
        """The schema ``<folder>/<file_name>`` (``file_name`` with its ``.xsd``)."""
        if self.root is None or "/" in folder or "/" in file_name or folder.startswith("."):
            return None
        path = self.root / folder / file_name
        return path if path.suffix == ".xsd" and path.is_file() else None
