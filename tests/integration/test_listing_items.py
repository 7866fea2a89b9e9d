"""A listing builds each item once per fetch: iteration, indexing and lookups share them."""

from __future__ import annotations

import xnat_sdk


def test_items_are_built_once_per_fetch_and_shared(session: xnat_sdk.XNATSession) -> None:
    project = session.projects.create("ITEMS", name="Items")
    for n in range(3):
        project.subjects.create(f"S{n}")
    session.clearcache()
    subjects = session.projects["ITEMS"].subjects
    first = list(subjects)
    assert [s.label for s in first] == ["S0", "S1", "S2"]
    second = list(subjects)
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert subjects["S1"] is first[1] and subjects[2] is first[2]
    assert subjects.get(first[0].id or "") is first[0]
    subjects.clearcache()  # the next access fetches again and builds new items, kept as well
    again = list(subjects)
    assert [s.id for s in again] == [s.id for s in first]
    assert all(a is not b for a, b in zip(again, first, strict=True))
    assert subjects["S0"] is again[0] and list(subjects)[1] is again[1]
