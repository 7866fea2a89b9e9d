"""Bodies are parsed by pydantic-core's parser with ``json.loads`` behind it: the documents,
and the errors for bodies that are not JSON, are the ones ``json.loads`` gives."""

from __future__ import annotations

import json

import pytest

from xnat_sdk.parsing import decode_json

SAME_AS_JSON_LOADS = [
    b'{"ResultSet": {"Result": [{"ID": "E1", "date": "2020-01-02"}], "totalRecords": "1"}}',
    b'{"big": 123456789012345678901234567890, "small": -1, "float": 1.0000000000000002}',
    b'[NaN, Infinity, -Infinity, 1e400, null, true, false, ""]',
    b'{"dup": 1, "dup": 2}',  # the last value of a repeated key wins
    '{"text": "caf\u00e9 \\u00e9 \\ud83d\\ude00 \U0001f600"}'.encode(),
    b'"\\ud800 unpaired"',  # refused by pydantic-core, read by json.loads
    '{"utf16": "body"}'.encode("utf-16"),  # json.loads detects UTF-16 and UTF-32
]


@pytest.mark.parametrize("body", SAME_AS_JSON_LOADS)
def test_documents_equal_json_loads(body: bytes) -> None:
    decoded = decode_json(body)
    expected = json.loads(body)
    assert repr(decoded) == repr(expected)  # repr: NaN != NaN, and int 1 == float 1.0


@pytest.mark.parametrize("body", [b"", b"{", b"[1,]", b"<html>error</html>", b"\xff\xfe\xfd"])
def test_bodies_that_are_not_json_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        decode_json(body)


def test_equal_short_strings_are_shared() -> None:
    rows = decode_json(b'[{"project": "P1"}, {"project": "P1"}]')
    assert isinstance(rows, list)
    first, second = rows
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["project"] is second["project"]  # one object for the 100,000 equal cells
