"""XNAT's DICOM dump service (``GET /data/services/dicomdump``): the header of the first DICOM
file of an archived or prearchived session or scan, as rows the server reads with dcm4che."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

from xnat_sdk.errors import XNATError, XNATValueError

if TYPE_CHECKING:
    from xnat_sdk.session import XNATSession


class DicomDumpRow(TypedDict):
    """One header element: ``tag1`` is ``(GGGG,EEEE)``; ``tag2`` the element's own tag when
    ``tag1`` is the sequence that holds it (else empty)."""

    tag1: str
    tag2: str
    vr: str
    value: str
    desc: str


def dump_source(uri: str) -> str:
    """The ``src`` form of a REST path: ``/archive/...`` or ``/prearchive/...`` (no ``/data``)."""
    path = uri.removeprefix("/data")
    if path.startswith(("/archive/", "/prearchive/")):
        return path
    if path.startswith(("/projects/", "/experiments/")):
        return "/archive" + path
    raise XNATValueError(
        f"{uri!r} names no archived or prearchived session or scan (expected /archive/..., "
        "/prearchive/..., /projects/... or /experiments/...)"
    )


def dicom_dump(
    session: XNATSession, uri: str, fields: Sequence[str] | None = None
) -> list[DicomDumpRow]:
    """The header rows of the first DICOM file below ``uri``; ``fields`` limits the tags
    (DICOM keywords or ``GGGGEEEE`` tag numbers)."""
    if isinstance(fields, str):
        fields = [fields]
    query: list[tuple[str, str]] = [("src", dump_source(uri))]
    query.extend(("field", field) for field in fields or ())
    document = session.get_json("/data/services/dicomdump", query=query)
    result_set = document.get("ResultSet") if isinstance(document, dict) else None
    rows = result_set.get("Result") if isinstance(result_set, dict) else None
    if not isinstance(rows, list):
        raise XNATError("the DICOM dump answer is not a ResultSet listing")
    dumped: list[DicomDumpRow] = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        text = {str(k): "" if v is None else str(v) for k, v in row.items()}
        dumped.append(
            DicomDumpRow(
                tag1=text.get("tag1", ""),
                tag2=text.get("tag2", ""),
                vr=text.get("vr", ""),
                value=text.get("value", ""),
                desc=text.get("desc", ""),
            )
        )
    return dumped
