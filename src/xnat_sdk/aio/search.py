"""Typed searches on the async session: ``session.search(MrSessionData).filter(...)``.

The query is built and its answer read by the rules of ``xnat_sdk.search`` (the same columns,
constraints, ``xdat:bundle`` document and result rows); only the POST is awaited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from xnat_sdk.parsing import query_with_format
from xnat_sdk.search import (
    SEARCH_PATH,
    Column,
    Constraint,
    SearchRow,
    added_columns,
    narrowed,
    rows_as_dataframe,
    search_document,
    search_rows,
    searchable,
)

if TYPE_CHECKING:
    from xnat_sdk._modelbase import XnatModel
    from xnat_sdk.aio.session import AsyncXNATSession

M = TypeVar("M", bound="XnatModel")


class AsyncQuery(Generic[M]):
    """A search over one root type; ``filter``/``columns`` return new queries, ``await
    query.all()`` runs it."""

    def __init__(
        self,
        session: AsyncXNATSession,
        model: type[M],
        columns: tuple[Column, ...] = (),
        where: Constraint | None = None,
    ) -> None:
        self._session = session
        self.model = searchable(model)
        self._columns = columns
        self._where = where

    def __repr__(self) -> str:
        return f"<AsyncQuery of {self.model.xsi_type}: {len(self._columns)} columns>"

    @property
    def session(self) -> AsyncXNATSession:
        """The session the query runs on."""
        return self._session

    def filter(self, *constraints: Constraint) -> AsyncQuery[M]:
        """Only results meeting every constraint (and those already given)."""
        if not constraints:
            return self
        where = narrowed(self._where, constraints)
        return AsyncQuery(self._session, self.model, self._columns, where)

    def columns(self, *columns: Column) -> AsyncQuery[M]:
        """Ask for these columns (added to those already asked for)."""
        chosen = added_columns(self._columns, columns)
        return AsyncQuery(self._session, self.model, chosen, self._where)

    def document(self) -> str:
        """The ``xdat:bundle`` search document this query POSTs."""
        return search_document(self.model, self._columns, self._where)

    async def _post(self, format: str) -> bytes:
        response = await self._session.post(
            SEARCH_PATH,
            data=self.document().encode("utf-8"),
            query=query_with_format(None, format),
            headers={"Content-Type": "text/xml"},
        )
        return response.content

    async def all(self) -> list[SearchRow]:
        """Every result row (column names: see ``xnat_sdk.search``)."""
        return search_rows(await self._post("json"))

    async def first(self) -> SearchRow | None:
        """The first row, or ``None`` when nothing matches."""
        rows = await self.all()
        return rows[0] if rows else None

    async def tabulate_csv(self) -> str:
        """The result table as the server's CSV text."""
        return (await self._post("csv")).decode("utf-8")

    async def tabulate_pandas(self) -> object:
        """The rows as a ``pandas.DataFrame`` (needs pandas installed)."""
        return rows_as_dataframe(await self.all())
