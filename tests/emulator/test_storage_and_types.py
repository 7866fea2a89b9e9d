"""The emulator's storage and type index on their own (no HTTP)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xnat_sdk.emulator.server import default_schemas_dir
from xnat_sdk.emulator.storage import BlobStore, Database
from xnat_sdk.emulator.typeindex import FieldValueError, TypeIndex


@pytest.fixture(scope="module")
def types() -> TypeIndex:
    schemas = default_schemas_dir()
    if schemas is None:
        pytest.skip("no XNAT schemas: set XNAT_SDK_SCHEMAS or provide ../shared/schemas/xsd")
    return TypeIndex(schemas)


def test_type_chain_elements_and_children(types: TypeIndex) -> None:
    chain = [info.name for info in types.chain("xnat:mrSessionData")]
    assert chain == [
        "xnat:mrSessionData",
        "xnat:imageSessionData",
        "xnat:subjectAssessorData",
        "xnat:experimentData",
    ]
    assert types.elements["xnat:MRSession"] == "xnat:mrSessionData"
    assert types.type_element["xnat:mrSessionData"] == "xnat:MRSession"
    assert types.child_lists("xnat:mrSessionData")["scans/scan"] == "xnat:imageScanData"
    leaves = types.leaves("xnat:mrSessionData")
    assert leaves["scanner/manufacturer"].is_attribute
    assert not leaves["date"].is_attribute and leaves["date"].value_type == "date"
    assert leaves["ID"].is_attribute


def test_field_checks_canonicalize_and_reject(types: TypeIndex) -> None:
    assert types.check_field("xnat:mrScanData", "id", "1") == "ID"
    assert types.check_field("xnat:mrSessionData", "DATE", "2020-02-02") == "date"
    assert types.check_field("xnat:mrSessionData", "fields/field[name=x]/field", "1") == (
        "fields/field[name=x]/field"
    )
    with pytest.raises(FieldValueError, match="no such field"):
        types.check_field("xnat:mrSessionData", "nonsense", "1")
    with pytest.raises(FieldValueError, match="not a valid date"):
        types.check_field("xnat:mrSessionData", "date", "02/02/2020")
    gender = "demographics[@xsi:type=xnat:demographicData]/gender"
    assert types.check_field("xnat:subjectData", gender, "female") == gender


def test_counters_are_durable_and_monotonic(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    with db.write() as conn:
        first = db.next_counter(conn, "accession_S")
        second = db.next_counter(conn, "accession_S")
    db.close()
    reopened = Database(tmp_path / "db.sqlite")
    with reopened.write() as conn:
        third = reopened.next_counter(conn, "accession_S")
    assert (first, second, third) == (1, 2, 3)
    reopened.close()


def test_failed_write_transaction_rolls_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    with pytest.raises(RuntimeError), db.write() as conn:
        db.next_counter(conn, "n")
        raise RuntimeError("boom")
    with db.write() as conn:
        assert db.next_counter(conn, "n") == 1
    db.close()


def test_blob_writes_are_all_or_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    staged = blobs.write_chunks(iter([b"abc", b"def"]))
    assert blobs.absolute(staged.blob).read_bytes() == b"abcdef"
    assert staged.size == 6
    assert staged.md5 == "e80b5017098950fc58aad83c8c14978e"
    writer = blobs.writer()
    writer.write(b"partial")
    writer.abort()
    assert list(blobs.tmp.iterdir()) == []
    # a temporary file left by a crash is removed when the store opens again
    (blobs.tmp / "upload-left-over").write_bytes(b"x")
    BlobStore(tmp_path / "blobs")
    assert list(blobs.tmp.iterdir()) == []
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [
        os.path.basename(staged.blob)
    ]
