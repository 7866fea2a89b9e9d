"""Static types of the search API; checked by mypy --strict and pyright, never run."""

from __future__ import annotations

import datetime

from typing_extensions import assert_type

import xnat_sdk
from xnat_sdk._generated.columns_xnat import (
    ImageSessionDataScannerColumns,
    MrSessionDataColumns,
    SubjectDataColumns,
)
from xnat_sdk.models import MrSessionData, SubjectData
from xnat_sdk.search import (
    CriteriaGroup,
    Criterion,
    Query,
    SearchField,
    SearchRow,
    TextField,
    and_,
    or_,
)


def columns() -> None:
    assert_type(MrSessionData.c, MrSessionDataColumns)
    assert_type(SubjectData.c, SubjectDataColumns)
    assert_type(MrSessionData.c.date, SearchField[datetime.date])
    assert_type(MrSessionData.c.time, SearchField[datetime.time])
    assert_type(MrSessionData.c.age, SearchField[float])
    assert_type(MrSessionData.c.label, TextField[str])
    assert_type(MrSessionData.c.scanner, ImageSessionDataScannerColumns)
    assert_type(MrSessionData.c.scanner.manufacturer, TextField[str])
    assert_type(SubjectData.c.group, TextField[str])


def constraints() -> None:
    day = datetime.date(2024, 1, 1)
    assert_type(MrSessionData.c.date > day, Criterion)
    assert_type(MrSessionData.c.date == day, Criterion)
    assert_type(MrSessionData.c.age != 3.5, Criterion)
    assert_type(MrSessionData.c.age <= 3, Criterion)
    assert_type(SubjectData.c.label.like("S0%"), Criterion)
    assert_type(SubjectData.c.label.not_like("X%"), Criterion)
    assert_type(MrSessionData.c.note.is_null(), Criterion)
    assert_type(MrSessionData.c.note.not_null(), Criterion)
    assert_type(SubjectData.c.label.in_(["S01", "S02"]), CriteriaGroup)
    both = (MrSessionData.c.date > day) & (MrSessionData.c.age < 50.0)
    assert_type(both, CriteriaGroup)
    assert_type(both | (MrSessionData.c.label == "MR1"), CriteriaGroup)
    assert_type(and_(both, or_(MrSessionData.c.project == "P1")), CriteriaGroup)


def queries(session: xnat_sdk.XNATSession) -> None:
    query = session.search(MrSessionData)
    assert_type(query, Query[MrSessionData])
    assert_type(query.session, xnat_sdk.XNATSession)
    narrowed = query.filter(MrSessionData.c.date >= datetime.date(2024, 1, 1))
    assert_type(narrowed, Query[MrSessionData])
    assert_type(narrowed.columns(MrSessionData.c.label), Query[MrSessionData])
    rows = narrowed.all()
    assert_type(rows, list[SearchRow])
    assert_type(rows[0]["label"], str)
    assert_type(narrowed.first(), SearchRow | None)
    assert_type(narrowed.tabulate_csv(), str)
    assert_type(narrowed.document(), str)
    assert_type(session.search(SubjectData).all(), list[dict[str, str]])
    assert_type(MrSessionData.c.date.parse(rows[0]["date"]), datetime.date | None)
    assert_type(MrSessionData.c.age.parse(""), float | None)
    assert_type(MrSessionData.c.label.parse(""), str | None)
