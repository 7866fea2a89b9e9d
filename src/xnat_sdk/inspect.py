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


#: XNAT's searchable data types; ``{SEARCH_ELEMENTS}/{type}`` lists one type's search fields.
SEARCH_ELEMENTS = "/data/search/elements"


def _matching(names: list[str], pattern: str) -> list[str]:
    """``names`` matching the shell pattern (case-sensitive). Unlike xnatpy, where a pattern
    without ``*`` or ``?`` filters nothing, a plain name matches only itself."""
    return [name for name in names if fnmatch.fnmatchcase(name, pattern)]


def datatype_names(rows: list[dict[str, str]], pattern: str) -> list[str]:
    """The data types of a ``/data/search/elements`` listing matching ``pattern``."""
    return _matching([row["ELEMENT_NAME"] for row in rows if row.get("ELEMENT_NAME")], pattern)


def datatype_name(datatype: str | XnatObject | type[XnatObject]) -> str:
    """The type name of ``datatype`` (a name, a model class or an object), checked to be one."""
    name = datatype if isinstance(datatype, str) else datatype.xsi_type
    if not name or ":" not in name:
        raise XNATValueError(f"{datatype!r} is not a data type name such as xnat:mrSessionData")
    return name


def datafields_uri(name: str) -> str:
    """The listing of the search fields of the data type ``name``."""
    return f"{SEARCH_ELEMENTS}/{quote(name, safe=':')}"


def datafield_names(
    name: str, rows: list[dict[str, str]], pattern: str, prepend_type: bool
) -> list[str]:
    """The search fields of a type's listing matching ``pattern`` (``type/FIELD_ID`` unless
    ``prepend_type`` is false), without fields of shared projects and parameterised ones (with
    ``=``), as XNAT's UI leaves them out."""
    fields = _matching([row["FIELD_ID"] for row in rows if row.get("FIELD_ID")], pattern)
    fields = [f for f in fields if "=" not in f and "SHARINGSHAREPROJECT" not in f]
    return [f"{name}/{field}" if prepend_type else field for field in fields]


class Inspect:
    """Search metadata of the connected server (``session.inspect``)."""

    def __init__(self, session: XNATSession) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<Inspect {self._session.server}>"

    def datatypes(self, pattern: str = "*", fields_pattern: str | None = None) -> list[str]:
        """The searchable data types (``xnat:mrSessionData``, ...) matching ``pattern``; with
        ``fields_pattern``, the matching search fields of those types instead."""
        types = datatype_names(self._session.listing_rows(SEARCH_ELEMENTS, {}), pattern)
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
        name = datatype_name(datatype)
        rows = self._session.listing_rows(datafields_uri(name), {})
        return datafield_names(name, rows, pattern, prepend_type)
