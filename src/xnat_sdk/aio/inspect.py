"""What the server can search, for the async session (``session.inspect``): the same rules as
``xnat_sdk.inspect`` (names, patterns, fields left out), with the requests awaited."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xnat_sdk.inspect import (
    SEARCH_ELEMENTS,
    datafield_names,
    datafields_uri,
    datatype_name,
    datatype_names,
)

if TYPE_CHECKING:
    from xnat_sdk.aio.session import AsyncXNATSession
    from xnat_sdk.objects import XnatObject


class AsyncInspect:
    """Search metadata of the connected server."""

    def __init__(self, session: AsyncXNATSession) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<AsyncInspect {self._session.server}>"

    async def datatypes(self, pattern: str = "*", fields_pattern: str | None = None) -> list[str]:
        """The searchable data types matching ``pattern``; with ``fields_pattern``, the
        matching search fields of those types instead (as ``Inspect.datatypes``)."""
        types = datatype_names(await self._session.listing_rows(SEARCH_ELEMENTS, {}), pattern)
        if fields_pattern is None:
            return types
        return [field for name in types for field in await self.datafields(name, fields_pattern)]

    async def datafields(
        self,
        datatype: str | XnatObject | type[XnatObject],
        pattern: str = "*",
        prepend_type: bool = True,
    ) -> list[str]:
        """The search fields of ``datatype`` matching ``pattern`` (as ``Inspect.datafields``)."""
        name = datatype_name(datatype)
        rows = await self._session.listing_rows(datafields_uri(name), {})
        return datafield_names(name, rows, pattern, prepend_type)
