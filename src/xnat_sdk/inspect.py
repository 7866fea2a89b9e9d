"""What the server can search (``session.inspect``): its data types and their search fields,
read from XNAT's search metadata (``/data/search/elements[/{type}]``) as xnatpy does."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING
from urllib.parse import quote

from xnat_sdk.errors import XNATValueError
from xnat_sdk.objects import XnatObject

if TYPE_CHECKING:
    from xnat_sdk.session import XNATSession


def _matching(names: list[str], pattern: str) -> list[str]:
    """``names`` matching the shell pattern (case-sensitive). Unlike xnatpy, where a pattern
    without ``*`` or ``?`` filters nothing, a plain name matches only itself."""
    return [name for name in names if fnmatch.fnmatchcase(name, pattern)]


class Inspect:
    """Search metadata of the connected server (``session.inspect``)."""

    def __init__(self, session: XNATSession) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<Inspect {self._session.server}>"

    def datatypes(self, pattern: str = "*", fields_pattern: str | None = None) -> list[str]:
        """The searchable data types (``xnat:mrSessionData``, ...) matching ``pattern``; with
        ``fields_pattern``, the matching search fields of those types instead."""
        rows = self._session.listing_rows("/data/search/elements", {})
        types = _matching([row["ELEMENT_NAME"] for row in rows if row.get("ELEMENT_NAME")], pattern)
        if fields_pattern is None:
            return types
        return [field for name in types for field in self.datafields(name, fields_pattern)]

    def datafields(
        self,
        datatype: str | XnatObject | type[XnatObject],
        pattern: str = "*",
        prepend_type: bool = True,
    ) -> list[str]:
        """The search fields of ``datatype`` (a type name, a model class or an object) matching
        ``pattern``, as ``type/FIELD_ID`` unless ``prepend_type`` is false. Fields of shared
        projects and parameterised fields (with ``=``) are left out, as XNAT's UI does."""
        name = datatype if isinstance(datatype, str) else datatype.xsi_type
        if not name or ":" not in name:
            raise XNATValueError(f"{datatype!r} is not a data type name such as xnat:mrSessionData")
        rows = self._session.listing_rows(f"/data/search/elements/{quote(name, safe=':')}", {})
        fields = _matching([row["FIELD_ID"] for row in rows if row.get("FIELD_ID")], pattern)
        fields = [f for f in fields if "=" not in f and "SHARINGSHAREPROJECT" not in f]
        return [f"{name}/{field}" if prepend_type else field for field in fields]
