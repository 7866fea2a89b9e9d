"""Listing rows as the client keeps them: every value text, and ``tabulate`` rows that are
copies, completed with ``""`` only where the server left a standard column out."""

from __future__ import annotations

from xnat_sdk.listing import LISTING_SPECS, tabulated
from xnat_sdk.parsing import JSON, result_rows


def test_rows_of_text_are_kept_and_other_values_become_text() -> None:
    text: dict[str, JSON] = {"ID": "E1", "label": "S1_MR"}
    mixed: dict[str, JSON] = {"ID": 7, "label": None, "size": 1.5, "ok": True}
    rows = result_rows({"ResultSet": {"Result": [text, mixed, "not a row"]}}, "/data/x")
    assert rows == [text, {"ID": "7", "label": "", "size": "1.5", "ok": "True"}]
    assert all(type(value) is str for row in rows for value in row.values())


def test_tabulated_rows_are_copies_with_every_standard_column() -> None:
    spec = LISTING_SPECS["subjects"]
    full = {column: f"{column}-value" for column in spec.columns}
    short = {"ID": "S2", "label": "two"}
    table = tabulated([full, short], spec, None)
    assert table[0] == full and table[0] is not full
    assert table[1] == {**dict.fromkeys(spec.columns, ""), "ID": "S2", "label": "two"}
    table[0]["label"] = "changed"
    assert full["label"] == "label-value"  # the listing's own rows are untouched
    assert tabulated([full], spec, ["ID", "missing"]) == [{"ID": "ID-value", "missing": ""}]
