"""session.users, session.inspect and session.search on the async client, over loopback: the
same answers as the sync client on the same archive (both read them by the same rules), and
the same refusals before any request."""

from __future__ import annotations

import datetime
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk.aio import AsyncQuery, AsyncXNATSession
from xnat_sdk.errors import XNATKeyError, XNATResponseError, XNATValueError
from xnat_sdk.models import (
    AbstractResourceTagsTag,
    MrSessionData,
    PetSessionData,
    SubjectData,
    XdatUser,
)
from xnat_sdk.search import SearchError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from async_support import Archive, open_async

pytestmark = pytest.mark.anyio


@pytest.fixture
async def session(archive: Archive, anyio_backend: str) -> AsyncIterator[AsyncXNATSession]:
    async with await open_async(archive.handle) as opened:
        yield opened


@pytest.fixture
def sync(archive: Archive) -> xnat_sdk.XNATSession:
    handle = archive.handle
    return xnat_sdk.connect(handle.url, handle.user, handle.password, keepalive=None)


async def test_users_as_the_sync_client_reads_them(
    session: AsyncXNATSession, sync: xnat_sdk.XNATSession, archive: Archive
) -> None:
    with sync:
        expected = dict(sync.users)
    found = await session.users.all()
    assert found == expected and archive.handle.user in found
    admin = await session.users.get(archive.handle.user)
    assert admin == expected[archive.handle.user] and isinstance(admin.id, int)
    with pytest.raises(XNATKeyError, match="nobody") as caught:
        await session.users.get("nobody")
    assert isinstance(caught.value, KeyError)
    assert session.users is session.users


async def test_inspect_as_the_sync_client_reads_it(
    session: AsyncXNATSession, sync: xnat_sdk.XNATSession
) -> None:
    with sync:
        types = sync.inspect.datatypes("xnat:mr*")
        fields = sync.inspect.datafields(MrSessionData, "*DATE*", prepend_type=False)
        labels = sync.inspect.datatypes("xnat:subjectData", fields_pattern="*LABEL*")
    assert "xnat:mrSessionData" in types
    assert await session.inspect.datatypes("xnat:mr*") == types
    assert await session.inspect.datafields(MrSessionData, "*DATE*", prepend_type=False) == (fields)
    assert "DATE" in fields
    assert await session.inspect.datatypes("xnat:subjectData", fields_pattern="*LABEL*") == (labels)
    assert "xnat:subjectData/LABEL" in labels
    assert await session.inspect.datafields(SubjectData, "*LABEL*") == labels


async def test_inspect_refusals(session: AsyncXNATSession) -> None:
    with pytest.raises(XNATValueError, match="not a data type name"):
        await session.inspect.datafields("mrSessionData")  # refused before any request
    with pytest.raises(XNATResponseError, match="Unknown data type"):
        await session.inspect.datafields("xnat:noSuchData")


async def test_search_as_the_sync_client_runs_it(
    session: AsyncXNATSession, sync: xnat_sdk.XNATSession
) -> None:
    c = MrSessionData.c
    recent = c.date >= datetime.date(2024, 1, 1)
    query = session.search(MrSessionData).columns(c.label, c.date).filter(recent)
    with sync:
        mirror = sync.search(MrSessionData).columns(c.label, c.date).filter(recent)
        assert query.document() == mirror.document()
        expected = mirror.all()
        csv = mirror.tabulate_csv()
    rows = await query.all()
    assert rows == expected
    assert [(row["label"], c.date.parse(row["date"])) for row in rows] == [
        ("S01_MR1", datetime.date(2024, 1, 2))
    ]
    assert await query.tabulate_csv() == csv and "S01_MR1" in csv
    every = await session.search(MrSessionData).all()  # default columns
    assert sorted(row["label"] for row in every) == ["S01_MR1", "S02_MR1"]
    narrowed = query.filter(c.label == "S02_MR1")
    assert isinstance(narrowed, AsyncQuery) and await narrowed.first() is None
    assert query.filter() is query
    pets = await session.search(PetSessionData).filter(PetSessionData.c.label.like("S01%")).all()
    assert [row["label"] for row in pets] == ["S01_PET1"]


async def test_search_refusals(session: AsyncXNATSession) -> None:
    query = session.search(MrSessionData)
    with pytest.raises(SearchError):
        query.filter("label = 'x'")  # type: ignore[arg-type]  # not a constraint
    with pytest.raises(SearchError):
        query.columns("label")  # type: ignore[arg-type]  # not a column
    with pytest.raises(SearchError, match="not a searchable"):
        session.search(AbstractResourceTagsTag)  # an element inline in its parent's document
    with pytest.raises(XNATResponseError, match="xdat:user is not a searchable data type"):
        await session.search(XdatUser).all()  # the server refuses it
